package demo

import "net/http"

// registerWebSocket is the extension point for the WebSocket routes; it is
// replaced by the WebSocket engineer's implementation.
func (t *Target) registerWebSocket(mux *http.ServeMux) {}
