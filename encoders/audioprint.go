package encoders

import "math"

const (
	// SpaceAudioPrint is the audio fingerprint space: Chromaprint's
	// sub-fingerprints over a window of about 2 s, as ±1 bits. Two
	// windows' cosine is 1 − 2 × their bit error rate: about 0 for
	// unrelated audio, near 1 for the same sound, whatever was re-encoded.
	SpaceAudioPrint = "audio_print_v1"
	// AudioPrintWindow is how many sub-fingerprints (of 32 bits, one per
	// decode.ChromaprintHop ≈ 0.124 s) a window holds.
	AudioPrintWindow = 16
	// AudioPrintStride is how far apart indexed windows start, in
	// sub-fingerprints (about 1 s). A query makes a window at every
	// sub-fingerprint, so one of each stride lines up with an indexed one.
	AudioPrintStride = 8
	// AudioPrintDim is the vector size: 32 bits a sub-fingerprint.
	AudioPrintDim = 32 * AudioPrintWindow
	// AudioPrintHop is the time between sub-fingerprints, in seconds:
	// decode.ChromaprintHop (1365 samples at 11025 Hz), which search
	// lines windows up by.
	AudioPrintHop = 1365.0 / 11025
	// audioPrintQuiet is the RMS level (of full scale) under which a
	// stretch of a window is silence, about −46 dBFS, and
	// audioPrintMaxQuiet the share of silence a window may hold: silence
	// fingerprints the same in every recording, so windows of it would
	// match every other silent window.
	audioPrintQuiet    = 0.005
	audioPrintMaxQuiet = 0.5
)

// AudioPrint is one window of a fingerprint: where it starts, in
// sub-fingerprints, and its vector.
type AudioPrint struct {
	Start  int
	Vector []float32
}

// AudioPrints cuts a Chromaprint fingerprint of samples (mono, at rate)
// into windows of AudioPrintWindow sub-fingerprints every stride, each a
// unit vector of ±1/√AudioPrintDim, one per bit. Windows that are more
// than half silence are left out.
func AudioPrints(fp []uint32, samples []float32, rate, stride int) []AudioPrint {
	stride = max(stride, 1)
	v := float32(1 / math.Sqrt(AudioPrintDim))
	// quiet[i]: sub-fingerprint i's stretch of audio is silence.
	hop := AudioPrintHop * float64(rate)
	quiet := make([]bool, len(fp))
	for i := range quiet {
		a, b := int(float64(i)*hop), min(int(float64(i+1)*hop), len(samples))
		var sum float64
		for _, x := range samples[min(a, b):b] {
			sum += float64(x) * float64(x)
		}
		quiet[i] = b <= a || math.Sqrt(sum/float64(b-a)) < audioPrintQuiet
	}
	var out []AudioPrint
	for s := 0; s+AudioPrintWindow <= len(fp); s += stride {
		n := 0
		for _, q := range quiet[s : s+AudioPrintWindow] {
			if q {
				n++
			}
		}
		if float64(n) > audioPrintMaxQuiet*AudioPrintWindow {
			continue
		}
		vec := make([]float32, AudioPrintDim)
		for k, x := range fp[s : s+AudioPrintWindow] {
			for b := range 32 {
				if x>>b&1 == 1 {
					vec[k*32+b] = v
				} else {
					vec[k*32+b] = -v
				}
			}
		}
		out = append(out, AudioPrint{Start: s, Vector: vec})
	}
	return out
}
