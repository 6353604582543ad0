package bench

import (
	"strings"
	"testing"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/copyset"
)

// TestCopies runs `mediavec bench copies` on a slice of its set: every
// eighth of the 24 sources (vtest, mandrill, astronaut — a street video,
// a photograph, a portrait clip) put through every edit, every eighth
// negative and 3 trend-sound clips. Every
// copy's source must rank first over the default threshold but for at
// most one per edit, nothing is reported as a copy of a negative or of
// the trend-sound clips' other pictures, and every trend-sound clip's
// soundtrack is found as audio reuse, with none for the negatives.
func TestCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("makes about 70 clips; skipped in -short mode")
	}
	var out strings.Builder
	rep, err := Copies(t.Context(), CopiesConfig{ModelsDir: encoders.DefaultModelsDir(), ORTLib: encoders.DefaultORTLib(),
		Dir: t.TempDir(), Sources: 3, Log: testLog{t}}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Edits) != len(copyset.Edits) || rep.Copies != 3*len(copyset.Edits) {
		t.Fatalf("%d edits, %d copies: the slice is not what it should be", len(rep.Edits), rep.Copies)
	}
	for _, e := range rep.Edits {
		if ev := rep.PerEdit[e]; ev.Found < ev.Total-1 {
			t.Errorf("%s: %d/%d copies found", e, ev.Found, ev.Total)
		}
	}
	if r := rep.Recall(); r < 0.95 {
		t.Errorf("recall@1 %.3f, want ≥ 0.95", r)
	}
	if len(rep.FalseCopies) > 0 {
		t.Errorf("false copies: %v", rep.FalseCopies)
	}
	if rep.AudioFound < rep.AudioPairs || len(rep.FalseAudio) > 0 {
		t.Errorf("audio reuse: %d/%d found, false: %v", rep.AudioFound, rep.AudioPairs, rep.FalseAudio)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
