// Package bench is the benchmark harness behind `mediavec bench`: each
// benchmark runs mediavec and a baseline side by side in one run, on the
// same generated input, and prints figures and their ratio.
package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mediavec/mediavec/decode"
)

// DecodeConfig sets `mediavec bench decode`.
type DecodeConfig struct {
	Clip    string // input; generated into CacheDir when empty
	Seconds int    // length of the generated clip. Defaults to 60.
	Width   int    // defaults to 1920
	Height  int    // defaults to 1080
	Threads int    // decoder threads for both sides. Defaults to 2.
	Runs    int    // runs of each side; the best counts. Defaults to 3.
	// CacheDir keeps generated clips between runs.
	CacheDir string
	// RSSClip, when set, is decoded in a child process (Self, "probe") to
	// measure peak memory; generated as a 4K clip when "auto".
	RSSClip string
	// Self is the mediavec binary, for the memory run.
	Self string
}

// DefaultDecode is the decode benchmark's defaults: a 60 s 1080p clip,
// two decoder threads on each side, best of three runs.
var DefaultDecode = DecodeConfig{Seconds: 60, Width: 1920, Height: 1080, Threads: 2, Runs: 3}

func (c *DecodeConfig) defaults() {
	c.Seconds = cmp.Or(c.Seconds, DefaultDecode.Seconds)
	if c.Width <= 0 || c.Height <= 0 {
		c.Width, c.Height = DefaultDecode.Width, DefaultDecode.Height
	}
	c.Threads = cmp.Or(c.Threads, DefaultDecode.Threads)
	c.Runs = cmp.Or(c.Runs, DefaultDecode.Runs)
	c.CacheDir = cmp.Or(c.CacheDir, filepath.Join(os.TempDir(), "mediavec-bench"))
}

// MakeClip generates (or reuses) a testsrc2 h264 clip at 30 fps with a
// 250-frame GOP, the shape of a typical upload.
func MakeClip(dir string, w, h, seconds int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, fmt.Sprintf("testsrc2-%dx%d-%ds-gop250.mp4", w, h, seconds))
	if st, err := os.Stat(p); err == nil && st.Size() > 0 {
		return p, nil
	}
	tmp := p + ".tmp.mp4"
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", w, h), "-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-keyint_min", "250", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("generate %s: %v: %s", p, err, out)
	}
	return p, os.Rename(tmp, p)
}

// Decode runs the decode benchmark and writes its report to w. The last
// line is the fps=1 throughput ratio against the ffmpeg CLI.
func Decode(ctx context.Context, cfg DecodeConfig, w io.Writer) error {
	cfg.defaults()
	clip := cfg.Clip
	if clip == "" {
		fmt.Fprintf(w, "generating a %dx%d 30 fps h264 clip of %d s (cached in %s)…\n", cfg.Width, cfg.Height, cfg.Seconds, cfg.CacheDir)
		var err error
		if clip, err = MakeClip(cfg.CacheDir, cfg.Width, cfg.Height, cfg.Seconds); err != nil {
			return err
		}
	}
	probe, err := decode.File(ctx, clip, decode.Config{Sampling: decode.Policy{Kind: decode.PolicyKeyframes}, NoAudio: true, NoText: true})
	if err != nil {
		return err
	}
	dur := probe.Info.Duration.Seconds()
	fmt.Fprintf(w, "clip: %s, %dx%d, %.1f s, %d threads, best of %d runs\n", filepath.Base(clip), probe.Info.Width, probe.Info.Height, dur, cfg.Threads, cfg.Runs)

	rgb := []decode.FrameSpec{{Width: 224, Height: 224, Format: decode.RGB24}}
	sides := []struct {
		name string
		run  func() (int, error)
	}{
		{"ffmpeg CLI -vf fps=1,scale=224:224", func() (int, error) {
			cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", strconv.Itoa(cfg.Threads),
				"-i", clip, "-an", "-vf", "fps=1,scale=224:224", "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", "/dev/null")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return 0, fmt.Errorf("ffmpeg: %v: %s", err, out)
			}
			return int(dur), nil
		}},
		{"mediavec decode fps=1 → 224×224 RGB", func() (int, error) {
			m, err := decode.File(ctx, clip, decode.Config{Frames: rgb, NoAudio: true, NoText: true, Threads: cfg.Threads,
				Sampling: decode.Policy{Kind: decode.PolicyFPS, FPS: 1}, MaxFrames: 100000})
			if err != nil {
				return 0, err
			}
			return len(m.Frames), nil
		}},
		{"mediavec decode keyframes → 224×224 RGB", func() (int, error) {
			m, err := decode.File(ctx, clip, decode.Config{Frames: rgb, NoAudio: true, NoText: true, Threads: cfg.Threads,
				Sampling: decode.Policy{Kind: decode.PolicyKeyframes}, MaxFrames: 100000})
			if err != nil {
				return 0, err
			}
			return len(m.Frames), nil
		}},
	}
	best := make([]time.Duration, len(sides))
	frames := make([]int, len(sides))
	// Interleave the sides, so a noisy neighbour slows each alike.
	for r := 0; r < cfg.Runs; r++ {
		for i, s := range sides {
			start := time.Now()
			n, err := s.run()
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			el := time.Since(start)
			if best[i] == 0 || el < best[i] {
				best[i] = el
			}
			frames[i] = n
		}
	}
	fmt.Fprintf(w, "%-42s %10s %12s %10s\n", "", "wall", "video s/s", "samples")
	for i, s := range sides {
		fmt.Fprintf(w, "%-42s %10s %12.1f %10d\n", s.name, best[i].Round(time.Millisecond), dur/best[i].Seconds(), frames[i])
	}
	keyVsFPS := best[1].Seconds() / best[2].Seconds()
	fmt.Fprintf(w, "keyframes vs fps=1: %.1fx faster (goal ≥ 5x)\n", keyVsFPS)

	if cfg.RSSClip != "" && cfg.Self != "" {
		rssClip := cfg.RSSClip
		if rssClip == "auto" {
			fmt.Fprintln(w, "generating a 3840x2160 clip of 10 s for the memory run…")
			if rssClip, err = MakeClip(cfg.CacheDir, 3840, 2160, 10); err != nil {
				return err
			}
		}
		rss, err := childPeakRSS(ctx, cfg.Self, "probe", "--frames", "224x224:rgb24", rssClip)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "peak RSS decoding %s in a child process: %d MB (goal < 300 MB)\n", filepath.Base(rssClip), rss>>20)
	}
	ratio := best[0].Seconds() / best[1].Seconds()
	fmt.Fprintf(w, "fps=1 throughput vs ffmpeg CLI: %.2fx (goal ≥ 0.95x)\n", ratio)
	return nil
}

// childPeakRSS runs a command and returns its peak resident set in bytes.
func childPeakRSS(ctx context.Context, name string, args ...string) (int64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s %v: %v: %s", name, args, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, fmt.Errorf("no resource usage for %s", name)
	}
	return ru.Maxrss * 1024, nil // Linux reports KiB
}
