package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/mediavec/mediavec/decode"
)

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", "probe [flags] PATH", stderr)
	interval := fs.Duration("frame-interval", time.Second, "time between sampled frames")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want exactly one PATH", errUsage)
	}
	m, err := decode.File(ctx, fs.Arg(0), decode.Config{FrameInterval: *interval})
	if err != nil {
		return err
	}
	out := struct {
		decode.Info
		DurationSeconds float64   `json:"duration_seconds"`
		Frames          []float64 `json:"sampled_frames"`
		AudioSeconds    float64   `json:"audio_seconds"`
		AudioRate       int       `json:"audio_rate,omitempty"`
	}{Info: m.Info, DurationSeconds: m.Info.Duration.Seconds(), AudioRate: m.Audio.SampleRate}
	for _, f := range m.Frames {
		out.Frames = append(out.Frames, f.T.Seconds())
	}
	if m.Audio.SampleRate > 0 {
		out.AudioSeconds = float64(len(m.Audio.Samples)) / float64(m.Audio.SampleRate)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
