package bench

import (
	"io"
	"testing"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/realclips"
	"github.com/mediavec/mediavec/search"
)

// The shipped calibration (fitted by `mediavec bench calibration` on folds
// 0–1) on the held-out fold — queries about content it was not fitted on,
// against the whole indexed set: the score separates matches from
// non-matches, and the default floor keeps the matches and drops the
// non-matches of every query family but text by paraphrase, which
// USE-Lite cannot separate as well (docs/search.md gives its figures).
func TestShippedCalibrationHeldOut(t *testing.T) {
	a, closeModels, err := app.LoadAnalyzer(app.Config{ModelsDir: encoders.DefaultModelsDir(), ORTLib: encoders.DefaultORTLib()})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	defer closeModels()
	samples, err := CalibrationSet(t.Context(), a, realclips.Sources(), realclips.Unindexed, func(f int) bool { return f == calHeldOut }, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cal := search.Shipped()
	e := EvaluateCalibration(cal, samples)
	t.Logf("held-out: %d matches, %d non-matches, AUC %.4f, kept %.3f, non-matches over the floor %.4f", e.Matches, e.NonMatches, e.AUC, e.Kept, e.False)
	for f, fe := range e.PerKind {
		t.Logf("  %-6s %2d matches %4d non-matches  AUC %.4f kept %.3f false %.4f", f, fe.Matches, fe.NonMatches, fe.AUC, fe.Kept, fe.False)
	}
	if e.Matches < 30 || e.NonMatches < 300 {
		t.Fatalf("%d matches and %d non-matches: the set is too small to judge", e.Matches, e.NonMatches)
	}
	if e.AUC < 0.98 || e.Kept < 0.95 {
		t.Errorf("AUC %.4f (want ≥ 0.98), kept %.3f of matches (want ≥ 0.95)", e.AUC, e.Kept)
	}
	for _, f := range []string{"video", "image", "like"} {
		if fe := e.PerKind[f]; fe.False > 0.01 {
			t.Errorf("%s queries: %.4f of non-matches over the floor, want ≤ 0.01: %v", f, fe.False, fe.FalseHits)
		}
	}
	for _, f := range []string{"text", "words"} {
		if fe := e.PerKind[f]; fe.False > 0.08 {
			t.Errorf("%s queries: %.4f of non-matches over the floor, want ≤ 0.08: %v", f, fe.False, fe.FalseHits)
		}
	}
}
