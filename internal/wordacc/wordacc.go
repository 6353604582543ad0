// Package wordacc measures how well text was read: word accuracy, as OCR
// and speech recognition report it, for the tests and benchmarks that
// judge on-screen text against what a person typed.
package wordacc

import (
	"strings"
	"unicode"
)

// Words splits text into lower-case words without the punctuation around
// them.
func Words(text string) []string {
	var out []string
	for _, w := range strings.Fields(strings.ToLower(text)) {
		if w = strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// Accuracy is 1 − (word edit distance ÷ reference words): every word
// missed, added or read wrong costs one. It can go below 0 when much is
// added.
func Accuracy(ref, got []string) float64 {
	if len(ref) == 0 {
		return 0
	}
	prev := make([]int, len(got)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur := make([]int, len(got)+1)
		cur[0] = i
		for j := 1; j <= len(got); j++ {
			sub := prev[j-1]
			if ref[i-1] != got[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return 1 - float64(prev[len(got)])/float64(len(ref))
}
