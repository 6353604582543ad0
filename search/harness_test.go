package search

import (
	"testing"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/internal/searchtest"
)

// harness is a searcher over an embedded index that videos are written to
// exactly as the worker writes them, without a queue.
type harness struct {
	*searchtest.Harness
	searcher *Searcher
}

func newHarness(t *testing.T, withSpeech bool) *harness {
	t.Helper()
	h := searchtest.New(t, withSpeech)
	return &harness{Harness: h, searcher: NewSearcher(h.Analyzer, h.Index)}
}

// harnessWith is a harness over an analyzer the test made.
func harnessWith(t *testing.T, a *analyze.Analyzer) *harness {
	t.Helper()
	h := searchtest.WithAnalyzer(t, a)
	return &harness{Harness: h, searcher: NewSearcher(h.Analyzer, h.Index)}
}

// noFloor is Options.MinScore for tests about something else than the
// floor: every result, however unrelated.
var noFloor = new(float64)
