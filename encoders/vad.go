package encoders

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// VAD is the speech gate: Silero VAD (v4, from the openWakeWord package)
// gives the probability that each 32 ms chunk of 16 kHz audio is speech.
// It is recurrent: a stream's chunks go through in order, the LSTM state
// carried from one to the next.
type VAD struct {
	s *ort.DynamicAdvancedSession
}

const (
	ModelVAD = "vad_silero"
	vadFile  = "silero_vad.onnx"
	// VADChunk is the samples per VAD step at 16 kHz (32 ms).
	VADChunk = 512
	vadState = 64
)

// LoadVAD opens silero_vad.onnx from modelsDir.
func LoadVAD(modelsDir string, cfg SessionConfig) (*VAD, error) {
	s, err := newSession(filepath.Join(modelsDir, vadFile), []string{"input", "sr", "h", "c"}, []string{"output", "hn", "cn"}, cfg)
	if err != nil {
		return nil, &Error{Model: ModelVAD, Op: "load " + vadFile, Err: err}
	}
	return &VAD{s: s}, nil
}

// Close releases the session.
func (v *VAD) Close() error {
	v.s.Destroy()
	return nil
}

// SpeechProb is the speech probability of one chunk of audio.
type SpeechProb struct {
	Start, End time.Duration
	P          float32
}

// Probabilities returns the speech probability of every whole 32 ms chunk
// of samples (16 kHz mono in [-1, 1]), in order.
func (v *VAD) Probabilities(ctx context.Context, samples []float32) ([]SpeechProb, error) {
	n := len(samples) / VADChunk
	out := make([]SpeechProb, 0, n)
	if n == 0 {
		return out, nil
	}
	sr, err := ort.NewScalar(int64(SpeechRate))
	if err != nil {
		return nil, &Error{Model: ModelVAD, Op: "run", Err: err}
	}
	defer sr.Destroy()
	// One set of tensors for the whole stream: each step copies its chunk
	// into the input's memory and the new state over the old.
	x := make([]float32, VADChunk)
	h := make([]float32, 2*vadState)
	c := make([]float32, 2*vadState)
	var tensors []interface{ Destroy() error }
	defer func() {
		for _, t := range tensors {
			t.Destroy()
		}
	}()
	newT := func(shape ort.Shape, data []float32) (*ort.Tensor[float32], error) {
		t, err := ort.NewTensor(shape, data)
		if err == nil {
			tensors = append(tensors, t)
		}
		return t, err
	}
	in, err1 := newT(ort.NewShape(1, VADChunk), x)
	ht, err2 := newT(ort.NewShape(2, 1, vadState), h)
	ct, err3 := newT(ort.NewShape(2, 1, vadState), c)
	pt, err4 := newT(ort.NewShape(1, 1), make([]float32, 1))
	hn, err5 := newT(ort.NewShape(2, 1, vadState), make([]float32, 2*vadState))
	cn, err6 := newT(ort.NewShape(2, 1, vadState), make([]float32, 2*vadState))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, &Error{Model: ModelVAD, Op: "run", Err: err}
	}
	chunk := time.Duration(VADChunk) * time.Second / SpeechRate
	for i := range n {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		copy(x, samples[i*VADChunk:(i+1)*VADChunk])
		if err := v.s.Run([]ort.Value{in, sr, ht, ct}, []ort.Value{pt, hn, cn}); err != nil {
			return nil, &Error{Model: ModelVAD, Op: "run", Err: fmt.Errorf("chunk %d: %w", i, err)}
		}
		copy(h, hn.GetData())
		copy(c, cn.GetData())
		out = append(out, SpeechProb{Start: time.Duration(i) * chunk, End: time.Duration(i+1) * chunk, P: pt.GetData()[0]})
	}
	return out, nil
}

// MeanProb is the mean speech probability of the chunks that start in
// [from, to): the share of that span that is speech.
func MeanProb(probs []SpeechProb, from, to time.Duration) float32 {
	var sum float32
	n := 0
	for _, p := range probs {
		if p.Start >= from && p.Start < to {
			sum += p.P
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float32(n)
}
