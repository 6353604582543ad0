package analyze

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mediavec/mediavec/encoders"
)

func loadSafetyModels(t *testing.T) Models {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	cn, err := encoders.LoadCenterNet(encoders.DefaultModelsDir(), encoders.CenterNetConfig{}, encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { cn.Close() })
	sm, err := encoders.LoadSafety(encoders.DefaultModelsDir(), encoders.SafetyConfig{}, encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { sm.Close() })
	return Models{CenterNet: cn, Safety: sm}
}

// A real street clip: MaxObjectFrames frames are classified, each for the
// sampled frames up to the next, its probabilities ride on the frame
// segments sampled then, and the summary counts every sampled frame
// against the configured threshold — none explicit at the default, all of
// them when the threshold is lowered below what any frame scores.
func TestSafetySummary(t *testing.T) {
	models := loadSafetyModels(t)
	clip := filepath.Join(opencvData, "vtest.avi")
	const frames = 4
	for _, tc := range []struct {
		name       string
		threshold  float64
		wantUnsafe bool
	}{
		{"default threshold", 0, false},
		{"threshold below every frame", 1e-12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(Config{MaxObjectFrames: frames, UnsafeThreshold: tc.threshold}, models)
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Source(t.Context(), clip, Options{Spaces: []string{encoders.SpaceFrameCenterNet}, Safety: true})
			if err != nil {
				t.Fatal(err)
			}
			s := res.Safety
			sampled := int(math.Ceil(res.Info.Duration.Seconds())) // at fps=1
			if s == nil || s.Frames != sampled {
				t.Fatalf("safety %+v, want %d frames covered", s, sampled)
			}
			if s.Max["Neutral"] < 0.5 || s.Share["Neutral"] == 0 {
				t.Errorf("a street scene: Neutral max %.3f, share %.2f", s.Max["Neutral"], s.Share["Neutral"])
			}
			for _, c := range encoders.NSFWClasses {
				if m := s.Max[c]; m < 0 || m > 1 {
					t.Errorf("%s max %v", c, m)
				}
			}
			if s.Unsafe != tc.wantUnsafe || (tc.wantUnsafe && s.UnsafeFrames != sampled) || (!tc.wantUnsafe && s.UnsafeFrames != 0) {
				t.Errorf("unsafe %v with %d explicit frames, want %v", s.Unsafe, s.UnsafeFrames, tc.wantUnsafe)
			}
			n := 0
			for _, seg := range res.Segments {
				if seg.Space != encoders.SpaceFrameCenterNet {
					continue
				}
				n++
				var sum float32
				for _, p := range seg.Safety {
					sum += p
				}
				if len(seg.Safety) != len(encoders.NSFWClasses) || sum < 0.999 || sum > 1.001 {
					t.Errorf("frame %d: safety %v, want five probabilities summing to 1", seg.Ordinal, seg.Safety)
				}
			}
			if n != frames {
				t.Errorf("%d frame segments, want %d", n, frames)
			}
		})
	}
}

// frame_mobilenet_v1 is optional: not among the defaults, nor made by an
// analysis that names no spaces, nor classified unless asked; named, it
// comes from the safety model's pooled features.
func TestOptionalSpace(t *testing.T) {
	a, err := New(Config{MaxObjectFrames: 2}, loadSafetyModels(t))
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Defaults(); slices.Contains(d, encoders.SpaceFrameMobileNet) || !slices.Contains(a.Loaded(), encoders.SpaceFrameMobileNet) {
		t.Errorf("defaults %v, loaded %v: want frame_mobilenet_v1 loaded but not a default", d, a.Loaded())
	}
	clip := filepath.Join(opencvData, "vtest.avi")
	res, err := a.Source(t.Context(), clip, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Count(); c[encoders.SpaceFrameMobileNet] != 0 || c[encoders.SpaceFrameCenterNet] != 2 || res.Safety != nil {
		t.Errorf("default analysis: %v, safety %v", c, res.Safety)
	}
	res, err = a.Source(t.Context(), clip, Options{Spaces: []string{encoders.SpaceFrameMobileNet}})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Count(); c[encoders.SpaceFrameMobileNet] != 2 || len(res.Pooled[encoders.SpaceFrameMobileNet]) != encoders.MobileNetDim {
		t.Errorf("named: %v", c)
	}
}
