package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/worker"
)

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", "probe [flags] PATH|URL", stderr)
	sampling := fs.String("sampling", decode.DefaultSampling, "sampling policy: fps=N, keyframes or scenes[=THRESHOLD]")
	frames := fs.String("frames", "64x64:gray", "comma-separated images made of each sampled frame, WxH:gray|rgb24")
	allowPrivate := fs.Bool("allow-private", false, "let http(s) sources reach loopback and private addresses")
	threads := fs.Int("decode-threads", 0, "video decoder threads (0: one per core)")
	ocr := fs.Bool("ocr", false, "also read the on-screen text as the worker does (loads the models) and print each reading with the time it holds")
	mopts := modelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want exactly one PATH or URL", errUsage)
	}
	if *ocr {
		return probeOCR(ctx, fs.Arg(0), mopts, *allowPrivate, stdout)
	}
	policy, err := decode.ParsePolicy(*sampling)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	specs, err := parseFrameSpecs(*frames)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	m, err := decode.Open(ctx, fs.Arg(0), decode.Config{Sampling: policy, Frames: specs, Threads: *threads,
		HTTP: decode.HTTPPolicy{AllowPrivate: *allowPrivate}})
	if err != nil {
		return err
	}
	type sample struct {
		T   float64 `json:"t"`
		Key bool    `json:"key"`
	}
	type cue struct {
		Start  float64 `json:"start"`
		End    float64 `json:"end"`
		Text   string  `json:"text"`
		Source string  `json:"source"`
	}
	out := struct {
		decode.Info
		// Seconds, as every other time here; it hides Info's nanoseconds.
		Duration     float64  `json:"duration"`
		Sampling     string   `json:"sampling"`
		Frames       []sample `json:"sampled_frames"`
		AudioSeconds float64  `json:"audio_seconds"`
		AudioRate    int      `json:"audio_rate,omitempty"`
		Text         []cue    `json:"text"`
	}{Info: m.Info, Duration: m.Info.Duration.Seconds(), Sampling: policy.String(), AudioRate: m.Audio.SampleRate,
		Frames: []sample{}, Text: []cue{}}
	for _, f := range m.Frames {
		out.Frames = append(out.Frames, sample{T: f.T.Seconds(), Key: f.Key})
	}
	for _, c := range m.Text {
		out.Text = append(out.Text, cue{Start: c.Start.Seconds(), End: c.End.Seconds(), Text: c.Text, Source: c.Source})
	}
	if m.Audio.SampleRate > 0 {
		out.AudioSeconds = float64(len(m.Audio.Samples)) / float64(m.Audio.SampleRate)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// parseFrameSpecs reads "224x224:rgb24,64x64:gray".
func parseFrameSpecs(s string) ([]decode.FrameSpec, error) {
	var specs []decode.FrameSpec
	for _, part := range strings.Split(s, ",") {
		size, format, _ := strings.Cut(strings.TrimSpace(part), ":")
		ws, hs, ok := strings.Cut(size, "x")
		w, err1 := strconv.Atoi(ws)
		h, err2 := strconv.Atoi(hs)
		if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 {
			return nil, fmt.Errorf("frame spec %q: want WxH[:gray|rgb24]", part)
		}
		spec := decode.FrameSpec{Width: w, Height: h, Format: decode.Gray}
		switch format {
		case "", "gray":
		case "rgb24":
			spec.Format = decode.RGB24
		default:
			return nil, fmt.Errorf("frame spec %q: format must be gray or rgb24", part)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// probeOCR prints what the worker's OCR stage reads in a video: each text
// it read, with the time range it held on screen, as JSON lines.
func probeOCR(ctx context.Context, source string, mopts modelOptions, allowPrivate bool, stdout io.Writer) error {
	var cfg app.Config
	if err := mopts.apply(&cfg); err != nil {
		return err
	}
	cfg.Analyze.Decode.HTTP.AllowPrivate = allowPrivate
	a, unload, err := app.LoadAnalyzer(cfg)
	if err != nil {
		return err
	}
	defer unload()
	res, err := a.Source(ctx, source, analyze.Options{Spaces: []string{encoders.SpaceTextLexical}})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	n := 0
	for _, seg := range res.Segments {
		if seg.Modality != "ocr" {
			continue
		}
		n++
		if err := enc.Encode(struct {
			Start      float64           `json:"start"`
			End        float64           `json:"end"`
			Text       string            `json:"text"`
			Confidence float64           `json:"confidence"`
			Words      []index.TimedWord `json:"words,omitempty"`
		}{seg.Start.Seconds(), seg.End.Seconds(), seg.Text, math.Round(100*float64(seg.Confidence)) / 100, worker.TimedWords(seg.Words)}); err != nil {
			return err
		}
	}
	if n == 0 {
		fmt.Fprintln(stdout, `{"text": null, "note": "no on-screen text read"}`)
	}
	return nil
}
