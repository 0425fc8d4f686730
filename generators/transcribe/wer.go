package transcribe

import (
	"strings"
	"unicode"
)

// Words splits text into lower-case words, dropping punctuation, so that
// "Pain, since yesterday." and "pain since yesterday" compare equal.
// Apostrophes inside words are kept ("don't").
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// WER returns the word error rate of hyp against the reference ref:
// (substitutions + deletions + insertions) / words in ref, from the word
// edit distance. An empty reference gives 0 for an empty hypothesis and 1
// otherwise.
func WER(ref, hyp string) float64 {
	r, h := Words(ref), Words(hyp)
	if len(r) == 0 {
		if len(h) == 0 {
			return 0
		}
		return 1
	}
	// One row of the Levenshtein table at a time.
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(h)]) / float64(len(r))
}

// containsPhrase reports whether text contains phrase, word for word,
// ignoring case and punctuation.
func containsPhrase(text, phrase string) bool {
	return strings.Contains(" "+strings.Join(Words(text), " ")+" ", " "+strings.Join(Words(phrase), " ")+" ")
}
