package demo

import "net/http"

// registerTranscription is the extension point for the transcription routes;
// it is replaced by the transcription engineer's implementation.
func (t *Target) registerTranscription(mux *http.ServeMux) {}
