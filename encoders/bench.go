package encoders

import (
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"runtime"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// BenchRow is one encoder at one batch size: its throughput with
// everything it does (preprocessing, batching, post-processing) and that
// of the bare session calls on the same prepared tensors.
type BenchRow struct {
	Encoder      string
	Batch        int
	Items        string  // what an item is
	PerSec       float64 // the encoder
	BarePerSec   float64 // the bare session calls; 0 where none applies
	AllocsPerItm float64
}

// Overhead is how much slower the encoder is than the bare calls (0.05:
// 5%).
func (r BenchRow) Overhead() float64 {
	if r.BarePerSec == 0 {
		return 0
	}
	return r.BarePerSec/r.PerSec - 1
}

// BenchConfig sets the encoder benchmark.
type BenchConfig struct {
	ModelsDir string
	Session   SessionConfig
	Batches   []int         // batch sizes tried; defaults to 1, 8, 32, 64
	MinTime   time.Duration // per measurement; defaults to 1 s
	// Frame is a packed RGB24 frame with text for the OCR rows, w×h.
	Frame       []byte
	FrameW      int
	FrameH      int
	AudioSecond float64 // seconds of audio per speech and VAD call; defaults to 10
	// Frame512 is a 512×512 RGB24 photo for the CenterNet rows (a
	// pattern when nil).
	Frame512 []byte
	// CenterNetBatches are the batch sizes tried for CenterNet; defaults
	// to 1, 2, 4, 8.
	CenterNetBatches []int
	// Only, when set, runs only the encoders whose name starts with it.
	Only string
}

// Benchmark measures every shipped ONNX encoder against bare session calls
// on the same prepared tensors, runs the same number of items through
// both, side by side, and prints a table to w. Each measurement repeats
// for MinTime; the better of two runs of each side counts, so a noisy
// neighbour hurts both alike.
func Benchmark(ctx context.Context, cfg BenchConfig, w io.Writer) ([]BenchRow, error) {
	if len(cfg.Batches) == 0 {
		cfg.Batches = []int{1, 8, 32, 64}
	}
	if cfg.MinTime <= 0 {
		cfg.MinTime = time.Second
	}
	if cfg.AudioSecond <= 0 {
		cfg.AudioSecond = 10
	}
	var rows []BenchRow
	print := func(r BenchRow) {
		rows = append(rows, r)
		bare, ratio := "-", "-"
		if r.BarePerSec > 0 {
			bare = fmt.Sprintf("%.1f", r.BarePerSec)
			ratio = fmt.Sprintf("%.3f", r.PerSec/r.BarePerSec)
		}
		fmt.Fprintf(w, "%-22s %5d  %-16s %10.1f  %10s  %7s  %7s  %8.1f\n", r.Encoder, r.Batch, r.Items, r.PerSec, bare, ratio, overheadPct(r), r.AllocsPerItm)
	}
	fmt.Fprintf(w, "encoders on %d cores (GOMAXPROCS %d), ONNX Runtime %s, provider %q, intra-op threads %d\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), ort.GetVersion(), cfg.Session.Provider, max(1, cfg.Session.IntraOpThreads))
	fmt.Fprintf(w, "%-22s %5s  %-16s %10s  %10s  %7s  %7s  %8s\n", "ENCODER", "BATCH", "ITEM", "ITEMS/S", "BARE/S", "RATIO", "OVERH", "ALLOCS/I")

	want := func(name string) bool { return cfg.Only == "" || strings.HasPrefix(name, cfg.Only) }
	if want(SpaceFrameCenterNet) {
		batches := cfg.CenterNetBatches
		if len(batches) == 0 {
			batches = []int{1, 2, 4, 8}
		}
		cr, err := benchCenterNet(cfg, batches)
		for _, r := range cr {
			print(r)
		}
		if err != nil {
			return rows, err
		}
	}
	// audio_speech_v1: the embedding model over windows of a tone.
	samples := benchTone(cfg.AudioSecond)
	for _, b := range cfg.Batches {
		if !want(SpaceAudioSpeech) {
			break
		}
		r, err := benchSpeech(ctx, cfg, samples, b)
		if err != nil {
			return rows, err
		}
		print(r)
	}
	if want(ModelVAD) {
		r, err := benchVAD(cfg, samples)
		if err != nil {
			return rows, err
		}
		print(r)
	}
	if cfg.Frame != nil && want(ModelOCR) {
		dr, rr, err := benchOCR(cfg)
		if err != nil {
			return rows, err
		}
		print(dr)
		for _, r := range rr {
			print(r)
		}
	}
	for _, b := range []int{1, 8, 32} {
		if !want(SpaceTextUSE) {
			break
		}
		r, err := benchUSE(ctx, cfg, b)
		if err != nil {
			return rows, err
		}
		print(r)
	}
	if want(ModelSafety) {
		sr, err := benchSafety(cfg, []int{1, 4, 16})
		for _, r := range sr {
			print(r)
		}
		if err != nil {
			return rows, err
		}
	}
	if want(SpaceFrameDCT) {
		print(benchFrameDCT(cfg.MinTime))
	}
	return rows, nil
}

// benchSentences are short-video titles and captions, the texts
// text_use_v1 embeds most.
var benchSentences = []string{
	"Golden retriever catches a frisbee on the beach", "Easy chocolate chip cookies recipe",
	"Morning yoga routine for beginners", "Top 10 goals of the season!!!", "Wait for it... 😂",
	"Sunset over the mountains #travel #nature", "How to change a flat tire in 5 minutes",
	"Unboxing the newest smartphone", "person", "car", "Street food tour in Bangkok",
	"Don't forget to like and subscribe", "Time-lapse of a flower blooming", "Cat knocks a glass off the table",
	"Le chat dort sur le canapé", "Fireworks celebration on New Year's Eve",
}

// benchUSE runs text_use_v1 (tokenising, the sparse batch, the session
// call) against the bare session call on tensors prepared once, batch
// sentences a call.
func benchUSE(ctx context.Context, cfg BenchConfig, batch int) (BenchRow, error) {
	scfg := cfg.Session
	scfg.MaxBatch = batch
	e, err := LoadSentenceEncoder(cfg.ModelsDir, scfg)
	if err != nil {
		return BenchRow{}, err
	}
	defer e.Close()
	texts := make([]string, batch)
	var indices, values []int64
	for i := range texts {
		texts[i] = benchSentences[i%len(benchSentences)]
		for j, id := range e.Tokens(texts[i]) {
			indices = append(indices, int64(i), int64(j))
			values = append(values, int64(id))
		}
	}
	in0, err := ort.NewTensor(ort.NewShape(int64(len(values)), 2), indices)
	if err != nil {
		return BenchRow{}, err
	}
	defer in0.Destroy()
	in1, err := ort.NewTensor(ort.NewShape(int64(len(values))), values)
	if err != nil {
		return BenchRow{}, err
	}
	defer in1.Destroy()
	bare, _, err := measure(cfg.MinTime, batch, func() error {
		outs := []ort.Value{nil}
		err := e.sess.Run([]ort.Value{in0, in1}, outs)
		if err == nil {
			outs[0].Destroy()
		}
		return err
	})
	if err != nil {
		return BenchRow{}, err
	}
	enc, allocs, err := measure(cfg.MinTime, batch, func() error {
		_, err := e.Embed(ctx, texts)
		return err
	})
	if err != nil {
		return BenchRow{}, err
	}
	return BenchRow{Encoder: SpaceTextUSE, Batch: batch, Items: "sentence", PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs}, nil
}

func overheadPct(r BenchRow) string {
	if r.BarePerSec == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100*r.Overhead())
}

func benchTone(seconds float64) []float32 {
	s := make([]float32, int(seconds*SpeechRate))
	for i := range s {
		t := float64(i) / SpeechRate
		s[i] = float32(0.3 * math.Sin(2*math.Pi*(220+40*t)*t))
	}
	return s
}

// measure runs fn (which handles items items) repeatedly for at least
// minTime, twice, and returns the better items per second and the
// allocations per item.
func measure(minTime time.Duration, items int, fn func() error) (perSec, allocs float64, err error) {
	if err := fn(); err != nil { // warm up
		return 0, 0, err
	}
	best := 0.0
	var ms0, ms1 runtime.MemStats
	for range 2 {
		runtime.ReadMemStats(&ms0)
		n := 0
		start := time.Now()
		for time.Since(start) < minTime {
			if err := fn(); err != nil {
				return 0, 0, err
			}
			n++
		}
		el := time.Since(start)
		runtime.ReadMemStats(&ms1)
		best = max(best, float64(n*items)/el.Seconds())
		allocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(n*items)
	}
	return best, allocs, nil
}

func benchSpeech(ctx context.Context, cfg BenchConfig, samples []float32, batch int) (BenchRow, error) {
	scfg := cfg.Session
	scfg.MaxBatch = batch
	s, err := LoadSpeech(cfg.ModelsDir, scfg)
	if err != nil {
		return BenchRow{}, err
	}
	defer s.Close()
	mels, err := s.melFrames(samples)
	if err != nil {
		return BenchRow{}, err
	}
	nWin := (len(mels)/melBands-embFrames)/embStep + 1
	// Bare: the same windows, prepared once, through the two sessions in
	// batches of the same size.
	melIn := make([]float32, len(samples))
	for i, x := range samples {
		melIn[i] = x * int16Scale
	}
	melT, err := ort.NewTensor(ort.NewShape(1, int64(len(melIn))), melIn)
	if err != nil {
		return BenchRow{}, err
	}
	defer melT.Destroy()
	var embIns []*ort.Tensor[float32]
	var embOuts []*ort.Tensor[float32]
	defer func() {
		for _, t := range embIns {
			t.Destroy()
		}
		for _, t := range embOuts {
			t.Destroy()
		}
	}()
	for first := 0; first < nWin; first += batch {
		n := min(batch, nWin-first)
		data := make([]float32, 0, n*embFrames*melBands)
		for w := first; w < first+n; w++ {
			data = append(data, mels[w*embStep*melBands:w*embStep*melBands+embFrames*melBands]...)
		}
		in, err := ort.NewTensor(ort.NewShape(int64(n), embFrames, melBands, 1), data)
		if err != nil {
			return BenchRow{}, err
		}
		out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), 1, 1, SpeechDim))
		if err != nil {
			in.Destroy()
			return BenchRow{}, err
		}
		embIns, embOuts = append(embIns, in), append(embOuts, out)
	}
	bare, _, err := measure(cfg.MinTime, nWin, func() error {
		outs := []ort.Value{nil}
		if err := s.mel.Run([]ort.Value{melT}, outs); err != nil {
			return err
		}
		outs[0].Destroy()
		for i := range embIns {
			if err := s.emb.Run([]ort.Value{embIns[i]}, []ort.Value{embOuts[i]}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return BenchRow{}, err
	}
	enc, allocs, err := measure(cfg.MinTime, nWin, func() error {
		_, err := s.Embed(ctx, samples)
		return err
	})
	if err != nil {
		return BenchRow{}, err
	}
	return BenchRow{Encoder: SpaceAudioSpeech, Batch: batch, Items: "0.76 s window", PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs}, nil
}

func benchVAD(cfg BenchConfig, samples []float32) (BenchRow, error) {
	v, err := LoadVAD(cfg.ModelsDir, cfg.Session)
	if err != nil {
		return BenchRow{}, err
	}
	defer v.Close()
	n := len(samples) / VADChunk
	sr, _ := ort.NewScalar(int64(SpeechRate))
	defer sr.Destroy()
	shape := ort.NewShape(2, 1, vadState)
	x, _ := ort.NewTensor(ort.NewShape(1, VADChunk), make([]float32, VADChunk))
	h, _ := ort.NewTensor(shape, make([]float32, 2*vadState))
	c, _ := ort.NewTensor(shape, make([]float32, 2*vadState))
	p, _ := ort.NewEmptyTensor[float32](ort.NewShape(1, 1))
	hn, _ := ort.NewEmptyTensor[float32](shape)
	cn, _ := ort.NewEmptyTensor[float32](shape)
	for _, t := range []interface{ Destroy() error }{x, h, c, p, hn, cn} {
		defer t.Destroy()
	}
	bare, _, err := measure(cfg.MinTime, n, func() error {
		for range n {
			if err := v.s.Run([]ort.Value{x, sr, h, c}, []ort.Value{p, hn, cn}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return BenchRow{}, err
	}
	enc, allocs, err := measure(cfg.MinTime, n, func() error {
		_, err := v.Probabilities(context.Background(), samples)
		return err
	})
	if err != nil {
		return BenchRow{}, err
	}
	return BenchRow{Encoder: ModelVAD, Batch: 1, Items: "32 ms chunk", PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs}, nil
}

func benchOCR(cfg BenchConfig) (BenchRow, []BenchRow, error) {
	o, err := LoadOCR(cfg.ModelsDir, OCRConfig{}, cfg.Session)
	if err != nil {
		return BenchRow{}, nil, err
	}
	defer o.Close()
	w, h := cfg.FrameW, cfg.FrameH
	boxes, err := o.detect(cfg.Frame, w, h)
	if err != nil {
		return BenchRow{}, nil, err
	}
	if len(boxes) == 0 {
		return BenchRow{}, nil, fmt.Errorf("the benchmark frame has no text")
	}
	// Detection: the bare call on the tensor detect prepares.
	ratio := 1.0
	if m := max(w, h); m > o.cfg.LimitSide {
		ratio = float64(o.cfg.LimitSide) / float64(m)
	}
	dw := max(32, int(math.Round(float64(w)*ratio/32))*32)
	dh := max(32, int(math.Round(float64(h)*ratio/32))*32)
	detT, err := ort.NewTensor(ort.NewShape(1, 3, int64(dh), int64(dw)), make([]float32, 3*dw*dh))
	if err != nil {
		return BenchRow{}, nil, err
	}
	defer detT.Destroy()
	bare, _, err := measure(cfg.MinTime, 1, func() error {
		outs := []ort.Value{nil}
		err := o.det.Run([]ort.Value{detT}, outs)
		if err == nil {
			outs[0].Destroy()
		}
		return err
	})
	if err != nil {
		return BenchRow{}, nil, err
	}
	enc, allocs, err := measure(cfg.MinTime, 1, func() error {
		_, err := o.detect(cfg.Frame, w, h)
		return err
	})
	if err != nil {
		return BenchRow{}, nil, err
	}
	det := BenchRow{Encoder: ModelOCR + " det", Batch: 1, Items: fmt.Sprintf("%dx%d frame", w, h), PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs}

	// Recognition: the frame's first line, batched.
	var recs []BenchRow
	line := boxes[0]
	width := min(recMaxWidth, max(8, int(math.Ceil(float64(recHeight)*float64(line.Dx())/float64(line.Dy())))))
	width = (width + 7) / 8 * 8
	for _, b := range []int{1, 8, 32} {
		lines := make([]image.Rectangle, b)
		for i := range lines {
			lines[i] = line
		}
		recT, err := ort.NewTensor(ort.NewShape(int64(b), 3, recHeight, int64(width)), make([]float32, b*3*recHeight*width))
		if err != nil {
			return det, recs, err
		}
		bare, _, err := measure(cfg.MinTime, b, func() error {
			outs := []ort.Value{nil}
			err := o.rec.Run([]ort.Value{recT}, outs)
			if err == nil {
				outs[0].Destroy()
			}
			return err
		})
		recT.Destroy()
		if err != nil {
			return det, recs, err
		}
		enc, allocs, err := measure(cfg.MinTime, b, func() error {
			_, err := o.recognize(cfg.Frame, w, h, lines)
			return err
		})
		if err != nil {
			return det, recs, err
		}
		recs = append(recs, BenchRow{Encoder: ModelOCR + " rec", Batch: b, Items: "text line", PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs})
	}
	// Tesseract, on the same line: the bare call is the engine's own
	// recognition of the prepared line; the encoder adds the crop, the
	// enlargement and the hand-over.
	if o.latin != nil {
		perSec, allocs, err := measure(cfg.MinTime, 1, func() error {
			_, err := o.latin.ReadLine(cfg.Frame, w, h, line)
			return err
		})
		if err != nil {
			return det, recs, err
		}
		recs = append(recs, BenchRow{Encoder: "tesseract " + strings.Join(o.latin.langs, "+") + " line", Batch: 1, Items: "text line", PerSec: perSec, AllocsPerItm: allocs})
	}
	return det, recs, nil
}

func benchFrameDCT(minTime time.Duration) BenchRow {
	enc := NewFrameDCT()
	img := make([]byte, FrameDCTInput*FrameDCTInput)
	for i := range img {
		img[i] = byte(i * 7)
	}
	perSec, allocs, _ := measure(minTime, 1, func() error {
		_, err := enc.Embed(img)
		return err
	})
	return BenchRow{Encoder: SpaceFrameDCT + " (built-in)", Batch: 1, Items: "64x64 frame", PerSec: perSec, AllocsPerItm: allocs}
}

// benchCenterNet runs CenterNet (detections and embedding of 512×512
// frames: conversion to floats, the session call, decoding, suppression,
// pooling) against the bare session call on the same prepared tensor, at
// each batch size.
func benchCenterNet(cfg BenchConfig, batches []int) ([]BenchRow, error) {
	c, err := LoadCenterNet(cfg.ModelsDir, CenterNetConfig{}, cfg.Session)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	const s = CenterNetInput
	frame := cfg.Frame512
	if frame == nil {
		frame = make([]byte, s*s*3)
		for i := range frame {
			frame[i] = byte(i * 13)
		}
	}
	var rows []BenchRow
	for _, b := range batches {
		imgs := make([]Image, b)
		for i := range imgs {
			imgs[i] = Image{RGB: frame, Width: s, Height: s}
		}
		x := make([]float32, b*s*s*3)
		for i := range x {
			x[i] = float32(frame[i%len(frame)])
		}
		in, err := ort.NewTensor(ort.NewShape(int64(b), s, s, 3), x)
		if err != nil {
			return rows, err
		}
		bare, _, err := measure(cfg.MinTime, b, func() error {
			outs := []ort.Value{nil, nil, nil}
			err := c.sess.Run([]ort.Value{in}, outs)
			for _, o := range outs {
				if o != nil {
					o.Destroy()
				}
			}
			return err
		})
		in.Destroy()
		if err != nil {
			return rows, err
		}
		enc, allocs, err := measure(cfg.MinTime, b, func() error {
			_, err := c.Run(imgs)
			return err
		})
		if err != nil {
			return rows, err
		}
		rows = append(rows, BenchRow{Encoder: SpaceFrameCenterNet, Batch: b, Items: "512x512 frame", PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs})
	}
	return rows, nil
}

// benchSafety runs the safety model (classes and pooled features of
// 224×224 frames, as decode delivers them: scaling, the session call,
// normalising) against the bare session call on the same prepared tensor,
// at each batch size.
func benchSafety(cfg BenchConfig, batches []int) ([]BenchRow, error) {
	var rows []BenchRow
	const s = NSFWInput
	frame := make([]byte, s*s*3)
	for i := range frame {
		frame[i] = byte(i * 13)
	}
	if cfg.Frame512 != nil {
		// Every other pixel of the photo's centre.
		for y := range s {
			for x := range s {
				src := ((y*2+32)*CenterNetInput + x*2 + 32) * 3
				copy(frame[(y*s+x)*3:(y*s+x)*3+3], cfg.Frame512[src:src+3])
			}
		}
	}
	for _, b := range batches {
		m, err := LoadSafety(cfg.ModelsDir, SafetyConfig{MaxBatch: b}, cfg.Session)
		if err != nil {
			return rows, err
		}
		imgs := make([]Image, b)
		x := make([]float32, b*s*s*3)
		for i := range imgs {
			imgs[i] = Image{RGB: frame, Width: s, Height: s}
			nsfwPixels(imgs[i], x[i*s*s*3:(i+1)*s*s*3])
		}
		in, err := ort.NewTensor(ort.NewShape(int64(b), s, s, 3), x)
		if err != nil {
			m.Close()
			return rows, err
		}
		bare, _, err := measure(cfg.MinTime, b, func() error {
			outs := []ort.Value{nil, nil}
			err := m.sess.Run([]ort.Value{in}, outs)
			for _, o := range outs {
				if o != nil {
					o.Destroy()
				}
			}
			return err
		})
		in.Destroy()
		var enc, allocs float64
		if err == nil {
			enc, allocs, err = measure(cfg.MinTime, b, func() error {
				_, err := m.run(imgs)
				return err
			})
		}
		m.Close()
		if err != nil {
			return rows, err
		}
		rows = append(rows, BenchRow{Encoder: ModelSafety, Batch: b, Items: "224x224 frame", PerSec: enc, BarePerSec: bare, AllocsPerItm: allocs})
	}
	return rows, nil
}
