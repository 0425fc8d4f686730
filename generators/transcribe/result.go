package transcribe

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/theory/jsonpath"

	"github.com/loadd/loadd/config"
)

// ErrProtocol wraps replies loadd cannot understand: failures with reason
// protocol.
var ErrProtocol = errors.New("protocol error")

// ErrAssertion wraps a transcript that failed a check: reason assertion.
var ErrAssertion = errors.New("check failed")

// Result is one parsed streaming message.
type Result struct {
	// IsResult is false for messages of another type (metadata, events).
	IsResult bool
	// Final is true for a final (not partial) result.
	Final bool
	// Transcript is the text of the result.
	Transcript string
}

// ResultParser reads transcription results from JSON messages through
// JSON paths compiled at load.
type ResultParser struct {
	transcript *jsonpath.Path
	final      *jsonpath.Path // nil: every result is final
	typ        *jsonpath.Path // nil: every message is a result
	resultType string
	src        string // the transcript path as configured, for messages
}

// NewResultParser compiles the paths. finalPath and typePath may be empty;
// resultType is the value at typePath that marks a result.
func NewResultParser(transcriptPath, finalPath, typePath, resultType string) (*ResultParser, error) {
	rp := &ResultParser{resultType: resultType, src: transcriptPath}
	var err error
	if rp.transcript, err = compilePath(transcriptPath); err != nil {
		return nil, fmt.Errorf("transcript_path: %w", err)
	}
	if finalPath != "" {
		if rp.final, err = compilePath(finalPath); err != nil {
			return nil, fmt.Errorf("final_path: %w", err)
		}
	}
	if typePath != "" {
		if rp.typ, err = compilePath(typePath); err != nil {
			return nil, fmt.Errorf("type_path: %w", err)
		}
	}
	return rp, nil
}

func compilePath(p string) (*jsonpath.Path, error) {
	if p == "" {
		return nil, errors.New("empty JSON path")
	}
	jp, err := jsonpath.Parse(p)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON path %q: %w", p, err)
	}
	return jp, nil
}

// Parse reads one message. A message that is not JSON is an ErrProtocol.
// A message whose type (at the type path) differs from the result type is
// not a result; one without a type counts as a result. The final flag must
// be a JSON true; the transcript a string (absent means empty).
func (rp *ResultParser) Parse(msg []byte) (Result, error) {
	var v any
	if err := json.Unmarshal(msg, &v); err != nil {
		return Result{}, fmt.Errorf("%w: result is not JSON: %v", ErrProtocol, err)
	}
	if rp.typ != nil {
		if t, ok := first(rp.typ, v); ok && t != rp.resultType {
			return Result{}, nil
		}
	}
	r := Result{IsResult: true, Final: rp.final == nil}
	if rp.final != nil {
		if f, ok := first(rp.final, v); ok {
			r.Final = f == true
		}
	}
	if t, ok := first(rp.transcript, v); ok {
		s, isStr := t.(string)
		if !isStr {
			return Result{}, fmt.Errorf("%w: transcript is %T, not a string", ErrProtocol, t)
		}
		r.Transcript = s
	}
	return r, nil
}

// Transcript reads the transcript of a whole JSON document (a batch reply).
func (rp *ResultParser) Transcript(body []byte) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("%w: reply is not JSON: %v", ErrProtocol, err)
	}
	t, ok := first(rp.transcript, v)
	if !ok {
		return "", fmt.Errorf("%w: reply has no transcript at %s", ErrProtocol, rp.src)
	}
	s, isStr := t.(string)
	if !isStr {
		return "", fmt.Errorf("%w: transcript at %s is %T, not a string", ErrProtocol, rp.src, t)
	}
	return s, nil
}

func first(p *jsonpath.Path, v any) (any, bool) {
	nodes := p.Select(v)
	if len(nodes) == 0 {
		return nil, false
	}
	return nodes[0], true
}

// Check is an optional expectation on a job's transcript.
type Check struct {
	// Contains is a phrase the transcript must contain (case and
	// punctuation ignored).
	Contains string `yaml:"contains" json:"contains,omitempty"`
	// Expected is the reference text for MaxWER; built-in audio supplies
	// its own.
	Expected string `yaml:"expected" json:"expected,omitempty"`
	// MaxWER bounds the word error rate against Expected, e.g. 0.25 or 25%.
	MaxWER *config.Ratio `yaml:"max_wer" json:"max_wer,omitempty"`
}

// Verify checks a transcript; a miss wraps ErrAssertion.
func (c *Check) Verify(transcript string) error {
	if c.Contains != "" && !containsPhrase(transcript, c.Contains) {
		return fmt.Errorf("%w: transcript does not contain %q", ErrAssertion, c.Contains)
	}
	if c.MaxWER != nil {
		if w := WER(c.Expected, transcript); w > float64(*c.MaxWER) {
			return fmt.Errorf("%w: word error rate %.3f above %.3f", ErrAssertion, w, float64(*c.MaxWER))
		}
	}
	return nil
}
