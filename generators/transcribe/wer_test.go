package transcribe

import (
	"math"
	"testing"
)

func TestWER(t *testing.T) {
	for _, tc := range []struct {
		name, ref, hyp string
		want           float64
	}{
		{"identical", "the patient is stable", "the patient is stable", 0},
		{"case and punctuation ignored", "The patient, is stable.", "the PATIENT is stable", 0},
		{"one substitution", "the patient is stable", "the patient is unstable", 0.25},
		{"one deletion", "the patient is stable", "the patient stable", 0.25},
		{"one insertion", "the patient is stable", "the old patient is stable", 0.25},
		{"all wrong", "a b", "c d", 1},
		{"empty hypothesis", "a b c", "", 1},
		{"insertions can exceed 1", "a", "b c d", 3},
		{"both empty", "", "", 0},
		{"empty reference", "", "words", 1},
		{"apostrophes kept", "don't stop", "dont stop", 0.5},
		{"transposition is two edits", "one two three four", "one three two four", 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WER(tc.ref, tc.hyp); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("WER(%q, %q) = %v, want %v", tc.ref, tc.hyp, got, tc.want)
			}
		})
	}
}

func TestContainsPhrase(t *testing.T) {
	for _, tc := range []struct {
		text, phrase string
		want         bool
	}{
		{"Mild chest pain, since yesterday.", "chest pain", true},
		{"mild chest pain", "CHEST  PAIN", true},
		{"chest painful", "chest pain", false},
		{"the patient", "patient reports", false},
	} {
		if got := containsPhrase(tc.text, tc.phrase); got != tc.want {
			t.Errorf("containsPhrase(%q, %q) = %v", tc.text, tc.phrase, got)
		}
	}
}
