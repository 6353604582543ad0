package bench

import (
	"strings"
	"testing"

	"github.com/mediavec/mediavec/encoders"
)

// TestPipeline runs `mediavec bench pipeline` on a slice of its mix
// (the street, Megamind's cuts and speech, the captioned photo, testsrc2's long GOP;
// 6 s each, one run of each configuration) and holds the fast defaults to
// the thorough configuration's results: the same object labels (F1 ≥
// 0.95), every pooled vector within cosine 0.98, and CenterNet shown fewer
// frames wherever a shot holds still. The speed figures are printed, not
// asserted: this machine is shared.
func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every model twice; skipped in -short mode")
	}
	var out strings.Builder
	rep, err := Pipeline(t.Context(), PipelineConfig{Seconds: 6, Runs: 1, Clips: []string{"street", "megamind", "captions", "testsrc2"},
		ModelsDir: encoders.DefaultModelsDir(), ORTLib: encoders.DefaultORTLib(), CacheDir: t.TempDir(), Log: testLog{t}}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.LabelF1 < 0.95 {
		t.Errorf("label F1 %.3f, want ≥ 0.95", rep.LabelF1)
	}
	for _, space := range []string{encoders.SpaceFrameDCT, encoders.SpaceFrameCenterNet, encoders.SpaceAudioSpeech, encoders.SpaceTextUSE} {
		if c, ok := rep.Cosine[space]; !ok || c < 0.98 {
			t.Errorf("%s: lowest pooled cosine %.4f (present %v), want ≥ 0.98", space, c, ok)
		}
	}
	for name, full := range rep.Thorough.Results {
		fast := rep.Fast.Results[name]
		nt, nf := full.Count()[encoders.SpaceFrameCenterNet], fast.Count()[encoders.SpaceFrameCenterNet]
		if nf > nt || name != "megamind" && nf >= nt {
			t.Errorf("%s: CenterNet saw %d frames fast, %d thorough", name, nf, nt)
		}
		if full.Count()[encoders.SpaceFrameDCT] != fast.Count()[encoders.SpaceFrameDCT] {
			t.Errorf("%s: %d frames sampled fast, %d thorough", name, fast.Count()[encoders.SpaceFrameDCT], full.Count()[encoders.SpaceFrameDCT])
		}
	}
}
