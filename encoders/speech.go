package encoders

import (
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
	return &Speech{mel: mel, emb: emb}, nil
}

// Close releases the sessions.
func (s *Speech) Close() error {
	s.mel.Destroy()
	s.emb.Destroy()
	return nil
}

// SpeechEmbedding is one 96-d vector and the time span of audio it covers.
type SpeechEmbedding struct {
	Start, End time.Duration
	Vector     []float32
}

// Embed returns the embeddings of every full 760 ms window of samples
// (16 kHz mono, values in [-1, 1]), in time order. Audio shorter than one
// window gives none.
func (s *Speech) Embed(samples []float32) ([]SpeechEmbedding, error) {
	if len(samples) < minSpeechSamp {
		return nil, nil
	}
	mels, err := s.melFrames(samples)
	if err != nil {
		return nil, &Error{Model: SpaceAudioSpeech, Op: "melspectrogram", Err: err}
	}
	nFrames := len(mels) / melBands
	nWin := (nFrames-embFrames)/embStep + 1
	out := make([]SpeechEmbedding, 0, nWin)
	input := make([]float32, 0, embBatch*embFrames*melBands)
	for first := 0; first < nWin; first += embBatch {
		n := min(embBatch, nWin-first)
		input = input[:0]
		for w := first; w < first+n; w++ {
			off := w * embStep * melBands
			input = append(input, mels[off:off+embFrames*melBands]...)
		}
		vecs, err := s.runEmbedding(input, n)
		if err != nil {
			return nil, &Error{Model: SpaceAudioSpeech, Op: "embedding", Err: err}
		}
		for i := 0; i < n; i++ {
			start := time.Duration((first+i)*embStep) * melFrameTime
			out = append(out, SpeechEmbedding{Start: start, End: start + SpeechWindow, Vector: vecs[i*SpeechDim : (i+1)*SpeechDim]})
		}
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

func (s *Speech) runEmbedding(input []float32, n int) ([]float32, error) {
	in, err := ort.NewTensor(ort.NewShape(int64(n), embFrames, melBands, 1), input)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), 1, 1, SpeechDim))
	if err != nil {
		return nil, err
	}
	defer out.Destroy()
	if err := s.emb.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
		return nil, err
	}
	return append([]float32(nil), out.GetData()...), nil
}
