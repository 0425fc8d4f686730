package transcribe

import (
	"errors"
	"strings"
	"testing"

	"github.com/loadd/loadd/config"
)

func TestParseResult(t *testing.T) {
	dg, err := NewResultParser(defaultStreamPath, defaultFinalPath, defaultTypePath, defaultResultType)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewResultParser("$.text", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		p       *ResultParser
		msg     string
		want    Result
		wantErr string
	}{
		{"deepgram partial", dg, `{"type":"Results","is_final":false,"channel":{"alternatives":[{"transcript":"the pa","confidence":0.9}]}}`, Result{IsResult: true, Transcript: "the pa"}, ""},
		{"deepgram final", dg, `{"type":"Results","is_final":true,"speech_final":true,"channel":{"alternatives":[{"transcript":"the patient"}]}}`, Result{IsResult: true, Final: true, Transcript: "the patient"}, ""},
		{"metadata is not a result", dg, `{"type":"Metadata","request_id":"x"}`, Result{}, ""},
		{"no type counts as result", dg, `{"is_final":true,"channel":{"alternatives":[{"transcript":"ok"}]}}`, Result{IsResult: true, Final: true, Transcript: "ok"}, ""},
		{"missing transcript is empty", dg, `{"type":"Results","is_final":true}`, Result{IsResult: true, Final: true}, ""},
		{"final must be true, not truthy", dg, `{"type":"Results","is_final":"yes"}`, Result{IsResult: true}, ""},
		{"no final path: every result final", plain, `{"text":"hello"}`, Result{IsResult: true, Final: true, Transcript: "hello"}, ""},
		{"not JSON", dg, `Results: hello`, Result{}, "result is not JSON"},
		{"transcript not a string", dg, `{"type":"Results","channel":{"alternatives":[{"transcript":42}]}}`, Result{}, "transcript is float64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Parse([]byte(tc.msg))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrProtocol) {
					t.Fatalf("err = %v, want protocol error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestBatchTranscript(t *testing.T) {
	p, err := NewResultParser("$.results[0].text", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, want, wantErr string }{
		{`{"results":[{"text":"hi there"}]}`, "hi there", ""},
		{`{"results":[]}`, "", "no transcript at $.results[0].text"},
		{`{"results":[{"text":null}]}`, "", "is <nil>, not a string"},
		{`<html>`, "", "reply is not JSON"},
	} {
		got, err := p.Transcript([]byte(tc.body))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Transcript(%s) err = %v, want %q", tc.body, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Transcript(%s) = %q, %v", tc.body, got, err)
		}
	}
	if _, err := NewResultParser("$.[", "", "", ""); err == nil || !strings.HasPrefix(err.Error(), "transcript_path: invalid JSON path") {
		t.Errorf("bad path err = %v", err)
	}
}

func TestCheckVerify(t *testing.T) {
	r := func(v float64) *config.Ratio { x := config.Ratio(v); return &x }
	for _, tc := range []struct {
		name  string
		check Check
		text  string
		ok    bool
	}{
		{"contains", Check{Contains: "chest pain"}, "Mild chest pain.", true},
		{"does not contain", Check{Contains: "broken leg"}, "mild chest pain", false},
		{"WER under bound", Check{Expected: "a b c d", MaxWER: r(0.25)}, "a b c x", true},
		{"WER over bound", Check{Expected: "a b c d", MaxWER: r(0.25)}, "a x c x", false},
		{"both must hold", Check{Contains: "a", Expected: "a b", MaxWER: r(0)}, "a c", false},
	} {
		err := tc.check.Verify(tc.text)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrAssertion)) {
			t.Errorf("%s: Verify(%q) = %v", tc.name, tc.text, err)
		}
	}
}
