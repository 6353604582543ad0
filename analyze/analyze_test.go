package analyze

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
)

func newAnalyzer(t *testing.T) *Analyzer {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	sp, err := encoders.LoadSpeech(encoders.DefaultModelsDir(), encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { sp.Close() })
	return New(Config{}, sp)
}

func norm(v []float32) float64 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	return math.Sqrt(n)
}

func TestFileSegmentsAndPooling(t *testing.T) {
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	a := newAnalyzer(t)
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "a", Video: "testsrc2", Audio: "sine=frequency=700", Seconds: 5})
	res, err := a.Source(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := res.Count()
	// 5 frames at 1 fps; 5 s of audio in 2 s segments: 0–2, 2–4, 4–5.
	if counts[encoders.SpaceFrameDCT] != 5 || counts[encoders.SpaceAudioSpeech] != 3 {
		t.Fatalf("segments %v", counts)
	}
	next := map[string]int{}
	for _, s := range res.Segments {
		if s.Ordinal != next[s.Space] {
			t.Errorf("%s ordinal %d, want %d", s.Space, s.Ordinal, next[s.Space])
		}
		next[s.Space]++
		if s.End <= s.Start || s.End > 5100*time.Millisecond {
			t.Errorf("%s segment %d spans %s–%s", s.Space, s.Ordinal, s.Start, s.End)
		}
		wantDim := encoders.FrameDCTDim
		if s.Space == encoders.SpaceAudioSpeech {
			wantDim = encoders.SpeechDim
			if s.Start != time.Duration(s.Ordinal)*2*time.Second {
				t.Errorf("audio segment %d starts at %s", s.Ordinal, s.Start)
			}
		}
		if len(s.Vector) != wantDim {
			t.Errorf("%s vector has %d dims", s.Space, len(s.Vector))
		}
	}
	for space, v := range res.Pooled {
		if math.Abs(norm(v)-1) > 1e-4 {
			t.Errorf("pooled %s has norm %f", space, norm(v))
		}
	}
	if len(res.Pooled) != 2 {
		t.Errorf("pooled spaces %d, want 2", len(res.Pooled))
	}

	only, err := a.Source(t.Context(), p, []string{encoders.SpaceFrameDCT})
	if err != nil {
		t.Fatal(err)
	}
	if c := only.Count(); c[encoders.SpaceAudioSpeech] != 0 || c[encoders.SpaceFrameDCT] != 5 {
		t.Errorf("frame space only: %v", c)
	}
}

func TestFileRejectsUnknownSpace(t *testing.T) {
	a := New(Config{}, nil)
	var me *encoders.Error
	if _, err := a.Source(t.Context(), "x.mp4", []string{"frame_clip_v9"}); !errors.As(err, &me) {
		t.Errorf("unknown space: %v", err)
	}
	if _, err := a.Source(t.Context(), "x.mp4", []string{encoders.SpaceAudioSpeech}); !errors.As(err, &me) {
		t.Errorf("audio without a loaded model: %v", err)
	}
}
