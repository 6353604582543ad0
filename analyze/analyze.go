// Package analyze is the one decode-and-encode path of mediavec: an upload in
// the worker and a query video in search both go through Source, so a query
// is embedded exactly as the videos it is compared with.
package analyze

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// Config sets sampling and which spaces to compute.
type Config struct {
	// Decode is passed to decode; its Frames are set to what the frame
	// encoders need, and NoAudio/NoVideo to the spaces asked for.
	Decode decode.Config
	// AudioSegment is the length of one audio segment; the speech
	// embeddings inside it are pooled into one vector. Defaults to 2s.
	AudioSegment time.Duration
}

// Spaces lists the spaces this build can compute, in order.
var Spaces = []string{encoders.SpaceFrameDCT, encoders.SpaceAudioSpeech}

// Analyzer embeds videos. It is safe for concurrent use.
type Analyzer struct {
	cfg    Config
	speech *encoders.Speech
}

// New returns an Analyzer. speech may be nil when audio_speech_v1 is not
// configured; jobs that ask for it then fail with a model error.
func New(cfg Config, speech *encoders.Speech) *Analyzer {
	if cfg.AudioSegment <= 0 {
		cfg.AudioSegment = 2 * time.Second
	}
	// One decode feeds every frame encoder: ask for each one's image.
	cfg.Decode.Frames = []decode.FrameSpec{{Width: encoders.FrameDCTInput, Height: encoders.FrameDCTInput, Format: decode.Gray}}
	return &Analyzer{cfg: cfg, speech: speech}
}

// Segment is one embedded time window of a video in one space.
type Segment struct {
	Space    string
	Modality string
	Ordinal  int // position within the space, from 0
	Start    time.Duration
	End      time.Duration
	Vector   []float32
}

// Result is a video's segments and, per space, the pooled video vector.
type Result struct {
	Info     decode.Info
	Segments []Segment
	Pooled   map[string][]float32
	Timings  map[string]time.Duration // per stage: decode, encode
}

// Count returns the number of segments per space.
func (r *Result) Count() map[string]int {
	m := map[string]int{}
	for _, s := range r.Segments {
		m[s.Space]++
	}
	return m
}

// Source decodes the video at source (a path, file:// or http(s):// URL;
// see decode.Open) and embeds it in the given spaces (all of Spaces when
// empty). Errors are *decode.Error for bad input and *encoders.Error for
// model failures.
func (a *Analyzer) Source(ctx context.Context, source string, spaces []string) (*Result, error) {
	return a.analyze(ctx, spaces, func(cfg decode.Config) (*decode.Media, error) { return decode.Open(ctx, source, cfg) })
}

// Reader is Source for a video read from r (seekable for mp4 files with
// their index at the end); name appears in errors.
func (a *Analyzer) Reader(ctx context.Context, r io.Reader, name string, spaces []string) (*Result, error) {
	return a.analyze(ctx, spaces, func(cfg decode.Config) (*decode.Media, error) { return decode.Reader(ctx, r, name, cfg) })
}

func (a *Analyzer) analyze(ctx context.Context, spaces []string, decodeWith func(decode.Config) (*decode.Media, error)) (*Result, error) {
	if len(spaces) == 0 {
		spaces = Spaces
	}
	for _, s := range spaces {
		if !slices.Contains(Spaces, s) {
			return nil, &encoders.Error{Model: s, Op: "select", Err: fmt.Errorf("unknown space %q (have %v)", s, Spaces)}
		}
	}
	wantAudio := slices.Contains(spaces, encoders.SpaceAudioSpeech)
	if wantAudio && a.speech == nil {
		return nil, &encoders.Error{Model: encoders.SpaceAudioSpeech, Op: "select", Err: fmt.Errorf("not loaded")}
	}
	dcfg := a.cfg.Decode
	dcfg.NoAudio = !wantAudio
	dcfg.NoVideo = !slices.Contains(spaces, encoders.SpaceFrameDCT)

	t0 := time.Now()
	media, err := decodeWith(dcfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Info: media.Info, Pooled: map[string][]float32{}, Timings: map[string]time.Duration{"decode": time.Since(t0)}}
	t1 := time.Now()
	if slices.Contains(spaces, encoders.SpaceFrameDCT) {
		if err := a.frames(media, res); err != nil {
			return nil, err
		}
	}
	if wantAudio {
		if err := a.audio(media, res); err != nil {
			return nil, err
		}
	}
	res.Timings["encode"] = time.Since(t1)
	for _, space := range spaces {
		var vecs [][]float32
		for _, s := range res.Segments {
			if s.Space == space {
				vecs = append(vecs, s.Vector)
			}
		}
		if p := meanNormalized(vecs); p != nil {
			res.Pooled[space] = p
		}
	}
	return res, nil
}

func (a *Analyzer) frames(m *decode.Media, res *Result) error {
	enc := encoders.NewFrameDCT()
	for i, f := range m.Frames {
		v, err := enc.Embed(f.Images[0].Data)
		if err != nil {
			return err
		}
		// A frame stands for the time until the next sampled frame.
		end := m.Info.Duration
		if i+1 < len(m.Frames) {
			end = m.Frames[i+1].T
		}
		if end <= f.T {
			end = f.T + time.Second
		}
		res.Segments = append(res.Segments, Segment{
			Space: encoders.SpaceFrameDCT, Modality: "frame", Ordinal: i,
			Start: f.T, End: end, Vector: v,
		})
	}
	return nil
}

func (a *Analyzer) audio(m *decode.Media, res *Result) error {
	embs, err := a.speech.Embed(m.Audio.Samples)
	if err != nil {
		return err
	}
	seg := a.cfg.AudioSegment
	audioEnd := time.Duration(float64(len(m.Audio.Samples)) / float64(encoders.SpeechRate) * float64(time.Second))
	// Pool the embeddings whose window starts inside each segment.
	var cur []([]float32)
	idx := -1
	flush := func() {
		if len(cur) == 0 {
			return
		}
		start := time.Duration(idx) * seg
		end := min(start+seg, audioEnd)
		res.Segments = append(res.Segments, Segment{
			Space: encoders.SpaceAudioSpeech, Modality: "audio", Ordinal: idx,
			Start: start, End: end, Vector: meanNormalized(cur),
		})
		cur = cur[:0]
	}
	for _, e := range embs {
		k := int(e.Start / seg)
		if k != idx {
			flush()
			idx = k
		}
		cur = append(cur, e.Vector)
	}
	flush()
	return nil
}

// meanNormalized is the L2-normalised mean of the L2-normalised vectors.
func meanNormalized(vecs [][]float32) []float32 {
	if len(vecs) == 0 {
		return nil
	}
	out := make([]float32, len(vecs[0]))
	for _, v := range vecs {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if n == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(n))
		for i, x := range v {
			out[i] += x * inv
		}
	}
	var n float64
	for _, x := range out {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return out
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range out {
		out[i] *= inv
	}
	return out
}
