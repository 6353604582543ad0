package encoders

import (
	"encoding/binary"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pcm16k runs a command that writes 16 kHz mono s16le to stdout (through
// the ffmpeg CLI) and returns the samples in [-1, 1].
func pcm16k(t *testing.T, args ...string) []float32 {
	t.Helper()
	out, err := exec.Command("ffmpeg", append(append([]string{"-v", "error"}, args...), "-ac", "1", "-ar", "16000", "-f", "s16le", "-")...).Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v", args, err)
	}
	s := make([]float32, len(out)/2)
	for i := range s {
		s[i] = float32(int16(binary.LittleEndian.Uint16(out[2*i:]))) / 32768
	}
	return s
}

func TestVADTellsSpeechFromTonesAndNoise(t *testing.T) {
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	v, err := LoadVAD(DefaultModelsDir(), SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	defer v.Close()
	wav := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Every upload is understood within seconds, its frames, its sound and its words.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (run scripts/setup): %v: %s", err, out)
	}
	speech := pcm16k(t, "-i", wav)
	tone := pcm16k(t, "-f", "lavfi", "-i", "sine=frequency=440:duration=3")
	noise := pcm16k(t, "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.3:duration=3")
	silence := make([]float32, 3*SpeechRate)

	mean := func(s []float32) float32 {
		probs, err := v.Probabilities(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(s) / VADChunk; len(probs) != want {
			t.Fatalf("%d probabilities for %d samples, want %d", len(probs), len(s), want)
		}
		end := time.Duration(len(probs)) * 32 * time.Millisecond
		return MeanProb(probs, 0, end)
	}
	ps, pt, pn, pz := mean(speech), mean(tone), mean(noise), mean(silence)
	t.Logf("mean speech probability: speech %.3f, tone %.3f, pink noise %.3f, silence %.3f", ps, pt, pn, pz)
	if ps < 0.5 {
		t.Errorf("speech scores %.3f, want ≥ 0.5", ps)
	}
	for name, p := range map[string]float32{"tone": pt, "noise": pn, "silence": pz} {
		if p > 0.2 || math.IsNaN(float64(p)) {
			t.Errorf("%s scores %.3f, want ≤ 0.2", name, p)
		}
	}
	// The state carries across chunks: the same audio gives the same
	// probabilities on every run.
	a, _ := v.Probabilities(t.Context(), speech)
	b, _ := v.Probabilities(t.Context(), speech)
	for i := range a {
		if a[i].P != b[i].P {
			t.Fatalf("chunk %d: %v then %v", i, a[i].P, b[i].P)
		}
	}
}
