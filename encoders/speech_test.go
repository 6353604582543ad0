package encoders

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadSpeech(t *testing.T) *Speech {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	s, err := LoadSpeech(DefaultModelsDir(), SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tone(freq float64, seconds float64, amp float32) []float32 {
	n := int(seconds * SpeechRate)
	out := make([]float32, n)
	for i := range out {
		out[i] = amp * float32(math.Sin(2*math.Pi*freq*float64(i)/SpeechRate))
	}
	return out
}

func TestSpeechWindows(t *testing.T) {
	t.Parallel()
	s := loadSpeech(t)
	samples := tone(440, 3, 0.3)
	embs, err := s.Embed(t.Context(), samples)
	if err != nil {
		t.Fatal(err)
	}
	frames := (len(samples)-melWindow)/melHop + 1
	if want := (frames-embFrames)/embStep + 1; len(embs) != want {
		t.Fatalf("%d windows from 3s, want %d", len(embs), want)
	}
	for i, e := range embs {
		if len(e.Vector) != SpeechDim {
			t.Fatalf("window %d has %d dims", i, len(e.Vector))
		}
		if e.Start != SpeechStep*timeD(i) || e.End-e.Start != SpeechWindow {
			t.Fatalf("window %d spans %s–%s", i, e.Start, e.End)
		}
		for _, x := range e.Vector {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("window %d is not finite", i)
			}
		}
	}
	if embs, err := s.Embed(t.Context(), tone(440, 0.5, 0.3)); err != nil || len(embs) != 0 {
		t.Errorf("half a second: %d windows, %v; want none", len(embs), err)
	}
}

// The embedding tells sounds apart: a tone is closer to itself at another
// loudness than to noise.
func TestSpeechSeparatesSounds(t *testing.T) {
	t.Parallel()
	s := loadSpeech(t)
	mean := func(samples []float32) []float32 {
		embs, err := s.Embed(t.Context(), samples)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, SpeechDim)
		for _, e := range embs {
			for i, x := range e.Vector {
				out[i] += x
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(3, 4))
	noise := make([]float32, 2*SpeechRate)
	for i := range noise {
		noise[i] = float32(rng.NormFloat64() * 0.1)
	}
	a := mean(tone(440, 2, 0.3))
	b := mean(tone(440, 2, 0.15))
	c := mean(noise)
	same, diff := cosine(a, b), cosine(a, c)
	t.Logf("tone/quieter tone %.3f, tone/noise %.3f", same, diff)
	if same < 0.95 || same-diff < 0.05 {
		t.Errorf("tone vs quieter tone %.3f, tone vs noise %.3f: want the first ≥ 0.95 and clearly higher", same, diff)
	}
}

// Long audio is cut into chunks for the mel model; the chunks must join
// without a seam.
func TestSpeechChunkingIsSeamless(t *testing.T) {
	t.Parallel()
	s := loadSpeech(t)
	samples := tone(300, 4, 0.2)
	for i := range samples {
		samples[i] += 0.05 * float32(math.Sin(float64(i)*0.0007))
	}
	whole, err := s.melFramesChunked(samples, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	chunked, err := s.melFramesChunked(samples, 37)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != len(chunked) {
		t.Fatalf("%d values whole, %d chunked", len(whole), len(chunked))
	}
	for i := range whole {
		if d := math.Abs(float64(whole[i] - chunked[i])); d > 1e-3 {
			t.Fatalf("value %d differs by %g", i, d)
		}
	}
}

func TestManifestVerify(t *testing.T) {
	t.Parallel()
	m, ok := Lookup(SpaceAudioSpeech)
	if !ok {
		t.Fatal("no audio_speech_v1 in the manifest")
	}
	if err := m.Verify(DefaultModelsDir()); err != nil {
		t.Fatalf("installed models: %v (run scripts/setup)", err)
	}
	dir := t.TempDir()
	err := m.Verify(dir)
	if err == nil || !strings.Contains(err.Error(), "audio_speech_v1") || !strings.Contains(err.Error(), "melspectrogram.onnx") {
		t.Errorf("missing file: %v", err)
	}
	for _, f := range m.Files {
		os.WriteFile(filepath.Join(dir, f.Name), []byte("not a model"), 0o644)
	}
	err = m.Verify(dir)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("corrupted file: %v", err)
	}
}

func timeD(i int) time.Duration { return time.Duration(i) }
