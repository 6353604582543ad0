package encoders

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Speech is the audio_speech_v1 encoder: openWakeWord's front end around
// Google's speech_embedding model. 16 kHz mono audio goes through
// melspectrogram.onnx (32 mel bands, 10 ms hop), the log-mels are scaled as
// x/10+2, and embedding_model.onnx turns each 76-frame window (step 8 frames,
// 80 ms) into a 96-d vector.
type Speech struct {
	mel *ort.DynamicAdvancedSession
	emb *ort.DynamicAdvancedSession
	// batch gathers embedding windows from concurrent jobs into one
	// session call; embTensors are the input and output tensors of each
	// batch size, made once and reused (only the batcher's goroutine
	// touches them).
	batch      *Batcher[[]float32, []float32]
	embTensors map[int]*embTensors
}

type embTensors struct {
	in      *ort.Tensor[float32]
	out     *ort.Tensor[float32]
	scratch []float32 // the input tensor's memory
}

const (
	SpaceAudioSpeech = "audio_speech_v1"
	SpeechDim        = 96
	SpeechRate       = 16000

	melHop        = 160 // samples per mel frame (10 ms)
	melWindow     = 512 // samples one mel frame looks at
	melBands      = 32
	embFrames     = 76 // mel frames per embedding window
	embStep       = 8  // mel frames between embedding windows
	melChunk      = 3000
	embBatch      = 64
	int16Scale    = 32768
	melFrameTime  = 10 * time.Millisecond
	SpeechWindow  = embFrames * melFrameTime
	SpeechStep    = embStep * melFrameTime
	minSpeechSamp = (embFrames-1)*melHop + melWindow
)

// LoadSpeech opens the two sessions from modelsDir.
func LoadSpeech(modelsDir string, cfg SessionConfig) (*Speech, error) {
	mel, err := newSession(filepath.Join(modelsDir, "melspectrogram.onnx"), []string{"input"}, []string{"output"}, cfg)
	if err != nil {
		return nil, &Error{Model: SpaceAudioSpeech, Op: "load melspectrogram.onnx", Err: err}
	}
	emb, err := newSession(filepath.Join(modelsDir, "embedding_model.onnx"), []string{"input_1"}, []string{"conv2d_19"}, cfg)
	if err != nil {
		mel.Destroy()
		return nil, &Error{Model: SpaceAudioSpeech, Op: "load embedding_model.onnx", Err: err}
	}
	s := &Speech{mel: mel, emb: emb, embTensors: map[int]*embTensors{}}
	maxBatch := cfg.MaxBatch
	if maxBatch <= 0 {
		maxBatch = embBatch
	}
	s.batch = NewBatcher(maxBatch, SpeechBatchDelay, s.runWindows)
	return s, nil
}

// SpeechBatchDelay is how long a window waits for others to share its
// session call: short next to the call itself (~10 ms for a full batch).
const SpeechBatchDelay = 2 * time.Millisecond

// Close stops the batcher and releases the sessions and tensors.
func (s *Speech) Close() error {
	s.batch.Close()
	for _, t := range s.embTensors {
		t.in.Destroy()
		t.out.Destroy()
	}
	s.mel.Destroy()
	s.emb.Destroy()
	return nil
}

// BatchStats reports how the embedding batches have been filled.
func (s *Speech) BatchStats() BatchStats { return s.batch.Stats() }

// SpeechEmbedding is one 96-d vector and the time span of audio it covers.
type SpeechEmbedding struct {
	Start, End time.Duration
	Vector     []float32
}

// Embed returns the embeddings of every full 760 ms window of samples
// (16 kHz mono, values in [-1, 1]), in time order. Audio shorter than one
// window gives none. The windows of concurrent calls share session calls.
func (s *Speech) Embed(ctx context.Context, samples []float32) ([]SpeechEmbedding, error) {
	return s.EmbedEvery(ctx, samples, 1)
}

// EmbedEvery is Embed with a window every every-th step (every·80 ms): a
// caller that pools many windows into one vector needs fewer than the
// model's own step, and each costs as much as the others.
func (s *Speech) EmbedEvery(ctx context.Context, samples []float32, every int) ([]SpeechEmbedding, error) {
	every = max(1, every)
	if len(samples) < minSpeechSamp {
		return nil, nil
	}
	mels, err := s.melFrames(samples)
	if err != nil {
		return nil, &Error{Model: SpaceAudioSpeech, Op: "melspectrogram", Err: err}
	}
	nFrames := len(mels) / melBands
	step := embStep * every
	nWin := (nFrames-embFrames)/step + 1
	windows := make([][]float32, nWin)
	for w := range windows {
		off := w * step * melBands
		windows[w] = mels[off : off+embFrames*melBands]
	}
	vecs, err := s.batch.Do(ctx, windows)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &Error{Model: SpaceAudioSpeech, Op: "embedding", Err: err}
	}
	out := make([]SpeechEmbedding, nWin)
	for i, v := range vecs {
		start := time.Duration(i*step) * melFrameTime
		out[i] = SpeechEmbedding{Start: start, End: start + SpeechWindow, Vector: v}
	}
	return out, nil
}

// melFrames computes the scaled log-mel frames of samples, row-major
// [frames][32]. Long audio is cut into chunks that overlap by exactly the
// window's tail, so the result equals one call over the whole signal.
func (s *Speech) melFrames(samples []float32) ([]float32, error) {
	return s.melFramesChunked(samples, melChunk)
}

func (s *Speech) melFramesChunked(samples []float32, chunk int) ([]float32, error) {
	total := (len(samples)-melWindow)/melHop + 1
	mels := make([]float32, 0, total*melBands)
	var buf []float32
	for f0 := 0; f0 < total; f0 += chunk {
		nf := min(chunk, total-f0)
		lo := f0 * melHop
		hi := lo + (nf-1)*melHop + melWindow
		buf = buf[:0]
		// The reference implementation feeds 16-bit PCM values; the model's
		// log-mels are only right at that scale.
		for _, x := range samples[lo:hi] {
			buf = append(buf, x*int16Scale)
		}
		in, err := ort.NewTensor(ort.NewShape(1, int64(len(buf))), buf)
		if err != nil {
			return nil, err
		}
		outs := []ort.Value{nil}
		err = s.mel.Run([]ort.Value{in}, outs)
		in.Destroy()
		if err != nil {
			return nil, err
		}
		t, ok := outs[0].(*ort.Tensor[float32])
		if !ok {
			outs[0].Destroy()
			return nil, fmt.Errorf("melspectrogram output is %T, want float32 tensor", outs[0])
		}
		data := t.GetData()
		if len(data) != nf*melBands {
			t.Destroy()
			return nil, fmt.Errorf("melspectrogram gave %d values for %d frames", len(data), nf)
		}
		for _, v := range data {
			mels = append(mels, v/10+2)
		}
		t.Destroy()
	}
	return mels, nil
}

// runWindows embeds one batch of windows (76×32 log-mels each) in one
// session call, through the tensors kept for that batch size.
func (s *Speech) runWindows(windows [][]float32) ([][]float32, error) {
	n := len(windows)
	t := s.embTensors[n]
	if t == nil {
		scratch := make([]float32, n*embFrames*melBands)
		in, err := ort.NewTensor(ort.NewShape(int64(n), embFrames, melBands, 1), scratch)
		if err != nil {
			return nil, err
		}
		out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), 1, 1, SpeechDim))
		if err != nil {
			in.Destroy()
			return nil, err
		}
		t = &embTensors{in: in, out: out, scratch: scratch}
		s.embTensors[n] = t
	}
	for i, w := range windows {
		if len(w) != embFrames*melBands {
			return nil, fmt.Errorf("window %d has %d values, want %d", i, len(w), embFrames*melBands)
		}
		copy(t.scratch[i*embFrames*melBands:], w)
	}
	if err := s.emb.Run([]ort.Value{t.in}, []ort.Value{t.out}); err != nil {
		return nil, err
	}
	flat := append([]float32(nil), t.out.GetData()...)
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = flat[i*SpeechDim : (i+1)*SpeechDim : (i+1)*SpeechDim]
	}
	return vecs, nil
}
