package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/worker"
)

// PipelineConfig sets `mediavec bench pipeline`. Each zero field takes
// DefaultPipeline's.
type PipelineConfig struct {
	Clips       int // generated clips
	Seconds     int // per clip
	Width       int
	Height      int
	Concurrency int // jobs in flight in the pipeline; defaults to the cores
	ModelsDir   string
	ORTLib      string
	Dir         string // for the clips and the data; a temporary folder when empty
}

// DefaultPipeline is the pipeline benchmark's defaults: six 720p clips of
// 10 s, the shape of short-video uploads.
var DefaultPipeline = PipelineConfig{Clips: 6, Seconds: 10, Width: 1280, Height: 720}

func (c *PipelineConfig) defaults() {
	c.Clips = cmp.Or(c.Clips, DefaultPipeline.Clips)
	c.Seconds = cmp.Or(c.Seconds, DefaultPipeline.Seconds)
	if c.Width <= 0 || c.Height <= 0 {
		c.Width, c.Height = DefaultPipeline.Width, DefaultPipeline.Height
	}
	c.Concurrency = cmp.Or(c.Concurrency, runtime.NumCPU())
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Pipeline measures, in one run and on the same generated clips, the CPU
// time of every part of a job alone — the decode, each analysis stage, the
// write — then the wall time of the whole pipeline. Both go through the
// stack `mediavec up` runs (internal/app: embedded NATS, the worker, the
// embedded index): the parts are the worker's own analysis of a job, run
// one stage at a time (analyze.Options.Around), and its own write. The
// ideal wall time is the larger of the parts' CPU time over the cores and
// the slowest part alone; the last line prints the pipeline's wall time
// over it.
func Pipeline(ctx context.Context, cfg PipelineConfig, w io.Writer) (float64, error) {
	cfg.defaults()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mediavec-bench-pipeline-*")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var clips []string
	for i := range cfg.Clips {
		p := filepath.Join(dir, fmt.Sprintf("clip%02d.mp4", i))
		// Each clip its own colours and tone, so no two are the same bytes.
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", cfg.Width, cfg.Height),
			"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=44100", 220+60*i),
			"-t", fmt.Sprint(cfg.Seconds), "-vf", fmt.Sprintf("hue=h=%d", 40*i),
			"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", p)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("generate clip: %v: %s", err, out)
		}
		clips = append(clips, p)
	}
	s, err := app.Start(ctx, app.Config{
		ModelsDir: cfg.ModelsDir, ORTLib: cfg.ORTLib, DataDir: filepath.Join(dir, "data"), NATSListen: "127.0.0.1:0",
		Workers: cfg.Concurrency, Worker: worker.Config{FetchWait: 50 * time.Millisecond}, Logger: quietLogger(),
	})
	if err != nil {
		return 0, err
	}
	defer s.Close()

	// 1. Each part alone, clip after clip, in this process: CPU time.
	parts := map[string]time.Duration{}
	measure := func(part string, fn func() error) error {
		c0 := cpuTime()
		err := fn()
		parts[part] += cpuTime() - c0
		return err
	}
	for i, clip := range clips {
		job := queue.Job{VideoID: fmt.Sprintf("alone-clip%02d", i), Source: queue.FileURL(clip)}
		opts := s.Worker().AnalysisOptions(job)
		opts.Around = measure
		res, err := s.Analyzer().Source(ctx, clip, opts)
		if err != nil {
			return 0, err
		}
		if err := measure("index", func() error { return s.Worker().Write(ctx, job, res) }); err != nil {
			return 0, err
		}
	}

	// 2. The whole pipeline: queue, worker, index, as `mediavec up` runs it.
	start := time.Now()
	for i, clip := range clips {
		if _, err := queue.Submit(ctx, s.JetStream(), s.Statuses(), queue.Job{VideoID: fmt.Sprintf("clip%02d", i), Source: queue.FileURL(clip)}, false); err != nil {
			return 0, err
		}
	}
	for i := range clips {
		for {
			st, err := s.Statuses().Get(ctx, fmt.Sprintf("clip%02d", i))
			if err == nil && st.State == queue.StateFailed {
				return 0, fmt.Errorf("clip%02d failed in the pipeline: %s", i, st.Line())
			}
			if err == nil && st.State == queue.StateIndexed {
				break
			}
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wall := time.Since(start)

	var sum, slowest time.Duration
	names := make([]string, 0, len(parts))
	for name, d := range parts {
		sum += d
		slowest = max(slowest, d)
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return parts[names[i]] > parts[names[j]] })
	cores := runtime.NumCPU()
	ideal := max(sum/time.Duration(cores), slowest)
	fmt.Fprintf(w, "pipeline: %d clips of %d s at %dx%d (every default space, thumbnails, as mediavec up runs them), %d cores, %d jobs in flight\n",
		cfg.Clips, cfg.Seconds, cfg.Width, cfg.Height, cores, cfg.Concurrency)
	// SHARE is each part's CPU over the sum; what adding a part costs the
	// pipeline is its CPU over the sum of the others.
	fmt.Fprintf(w, "%-20s %10s %7s %9s\n", "PART ALONE", "CPU", "SHARE", "ADDS")
	for _, n := range names {
		fmt.Fprintf(w, "%-20s %9.2fs %6.1f%% %+8.1f%%\n", n, parts[n].Seconds(), 100*parts[n].Seconds()/sum.Seconds(), 100*parts[n].Seconds()/(sum-parts[n]).Seconds())
	}
	fmt.Fprintf(w, "%-20s %9.2fs\n", "sum", sum.Seconds())
	fmt.Fprintf(w, "ideal wall time: max(sum / %d cores = %.2fs, slowest part %.2fs) = %.2fs\n", cores, (sum / time.Duration(cores)).Seconds(), slowest.Seconds(), ideal.Seconds())
	fmt.Fprintf(w, "pipeline wall time: %.2fs\n", wall.Seconds())
	ratio := wall.Seconds() / ideal.Seconds()
	fmt.Fprintf(w, "pipeline / ideal: %.3f (goal ≤ 1.15)\n", ratio)
	return ratio, nil
}

// quietLogger keeps the worker's per-job logs out of a benchmark's report.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
