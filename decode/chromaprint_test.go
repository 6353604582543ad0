package decode

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"os/exec"
	"slices"
	"testing"

	"github.com/mediavec/mediavec/internal/testmedia"
)

const chromaprintRate = 16000

// megamindAudio is the soundtrack of opencv-doc's Megamind.avi (11 s of
// film dialogue and music, AC-3 stereo at 48 kHz) as the ffmpeg CLI
// resamples it to 16 kHz mono float, the form decode's own audio path gives.
func megamindAudio(t *testing.T) (path string, samples []float32) {
	t.Helper()
	needFFmpeg(t)
	path = testmedia.Path(t, testmedia.OpenCV, "Megamind.avi")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "fatal", "-i", path,
		"-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	samples = make([]float32, len(out)/4)
	for i := range samples {
		samples[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
	}
	return path, samples
}

// bestAlignment slides b over a by k = lo..hi values (b[i] against a[i+k])
// and returns the offset with the lowest bit error rate over the overlap.
func bestAlignment(a, b []uint32, lo, hi int) (bestK int, bestBER float64) {
	bestBER = 2
	for k := lo; k <= hi; k++ {
		var diff, n int
		for i := range b {
			if j := i + k; j >= 0 && j < len(a) {
				diff += bits.OnesCount32(a[j] ^ b[i])
				n++
			}
		}
		if n < 10 {
			continue
		}
		if ber := float64(diff) / float64(32*n); ber < bestBER {
			bestK, bestBER = k, ber
		}
	}
	return bestK, bestBER
}

func TestChromaprintOfSpeech(t *testing.T) {
	t.Parallel()
	path, samples := megamindAudio(t)
	seconds := float64(len(samples)) / chromaprintRate
	ctx := t.Context()

	full, err := Chromaprint(ctx, samples, chromaprintRate)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Chromaprint(ctx, samples, chromaprintRate)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(full, again) {
		t.Error("two fingerprints of the same samples differ")
	}

	// The count: one value per hop after the first, which needs about
	// 2.7 s (see ChromaprintHop), so not seconds/ChromaprintHop.
	want := math.Floor((seconds*11025-4096)/1365) - 18
	t.Logf("%.3f s of audio: %d values (%.0f expected, %.1f hops)", seconds, len(full), want, seconds/ChromaprintHop)
	if math.Abs(float64(len(full))-want) > 1 {
		t.Errorf("%d values from %.2f s, want %.0f", len(full), seconds, want)
	}
	// The hop itself: cutting c seconds off the start removes c/hop values.
	for _, cut := range []float64{1, 3, 5} {
		fp, err := Chromaprint(ctx, samples[int(cut*chromaprintRate):], chromaprintRate)
		if err != nil {
			t.Fatal(err)
		}
		if d, w := len(full)-len(fp), cut/ChromaprintHop; math.Abs(float64(d)-w) > 1 {
			t.Errorf("cutting %.0f s removed %d values, want %.1f", cut, d, w)
		}
	}

	// The audio from 1.0 s on lines up with the full fingerprint 1/hop
	// values in, with few differing bits: frames fall 1.0 s mod hop
	// (0.10 hop) apart, so not every bit matches.
	late, err := Chromaprint(ctx, samples[chromaprintRate:], chromaprintRate)
	if err != nil {
		t.Fatal(err)
	}
	k, ber := bestAlignment(full, late, 0, 20)
	t.Logf("audio from 1.0 s: best offset %d values (1.0 s is %.2f), bit error rate %.3f", k, 1/ChromaprintHop, ber)
	if ber >= 0.25 {
		t.Errorf("audio from 1.0 s: bit error rate %.3f at the best offset, want < 0.25", ber)
	}
	if math.Abs(float64(k)-1/ChromaprintHop) > 1 {
		t.Errorf("audio from 1.0 s aligns at %d values, want %.1f", k, 1/ChromaprintHop)
	}

	// Unrelated audio with the same voice, level and spectrum: the same
	// samples played backwards. No offset either way matches.
	reversed := slices.Clone(samples)
	slices.Reverse(reversed)
	rev, err := Chromaprint(ctx, reversed, chromaprintRate)
	if err != nil {
		t.Fatal(err)
	}
	k, ber = bestAlignment(full, rev, -20, 20)
	t.Logf("reversed audio: best offset %d, bit error rate %.3f", k, ber)
	if ber <= 0.35 {
		t.Errorf("reversed audio matches at offset %d with bit error rate %.3f, want > 0.35", k, ber)
	}

	// The ffmpeg CLI's own chromaprint muxer, from the file: the same
	// decode and resampling, then float→s16 in libswresample, which
	// Chromaprint's conversion mirrors, so the values are equal.
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "fatal", "-i", path,
		"-vn", "-ac", "1", "-ar", "16000", "-f", "chromaprint", "-fp_format", "raw", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg -f chromaprint: %v", err)
	}
	cli := make([]uint32, len(out)/4)
	for i := range cli {
		cli[i] = binary.LittleEndian.Uint32(out[4*i:])
	}
	if !slices.Equal(full, cli) {
		k, ber := bestAlignment(full, cli, 0, 0)
		t.Errorf("ffmpeg CLI gives %d values, Chromaprint %d; bit error rate %.3f (offset %d)", len(cli), len(full), ber, k)
	}
}

func TestChromaprintEdges(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tone := make([]float32, 2*chromaprintRate)
	for i := range tone {
		tone[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/chromaprintRate))
	}
	// Under about 2.7 s the library has no whole value yet: empty, no error.
	for _, s := range [][]float32{nil, tone[:chromaprintRate], tone} {
		fp, err := Chromaprint(ctx, s, chromaprintRate)
		if err != nil || len(fp) != 0 {
			t.Errorf("%.1f s: %d values, %v; want none, no error", float64(len(s))/chromaprintRate, len(fp), err)
		}
	}
	if _, err := Chromaprint(ctx, tone, 500); err == nil {
		t.Error("500 Hz: no error")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Chromaprint(cancelled, tone, chromaprintRate); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
