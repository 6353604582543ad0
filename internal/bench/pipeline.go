package bench

import (
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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/worker"
)

// PipelineConfig sets `mediavec bench pipeline`.
type PipelineConfig struct {
	Clips       int // defaults to 6
	Seconds     int // per clip; defaults to 10
	Width       int // defaults to 1280
	Height      int // defaults to 720
	Concurrency int // jobs in flight in the pipeline; defaults to the cores
	ModelsDir   string
	Dir         string // for the clips and the data; a temporary folder when empty
}

func (c *PipelineConfig) defaults() {
	if c.Clips <= 0 {
		c.Clips = 6
	}
	if c.Seconds <= 0 {
		c.Seconds = 10
	}
	if c.Width <= 0 || c.Height <= 0 {
		c.Width, c.Height = 1280, 720
	}
	if c.Concurrency <= 0 {
		c.Concurrency = runtime.NumCPU()
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Pipeline measures, in one run and on the same generated clips, the CPU
// time of every stage alone (decode, each encoder, the index writes), then
// the wall time of the whole pipeline (embedded NATS, the worker, the
// embedded index). The ideal wall time is the larger of the stages' CPU
// time over the cores and the slowest stage alone; the last line prints
// the pipeline's wall time over it.
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
	set, err := encoders.LoadAll(cfg.ModelsDir, encoders.SessionConfig{})
	if err != nil {
		return 0, err
	}
	defer set.Close()
	a := analyze.New(analyze.Config{Decode: decode.Config{Threads: 1}}, analyze.Models{Speech: set.Speech, VAD: set.VAD, OCR: set.OCR, CenterNet: set.CenterNet})

	// 1. Each stage alone, clip after clip, in this process: CPU time.
	stages := map[string]time.Duration{}
	measure := func(stage string, fn func() error) error {
		c0 := cpuTime()
		err := fn()
		stages[stage] += cpuTime() - c0
		return err
	}
	ix, err := index.OpenEmbedded(filepath.Join(dir, "stage-index"))
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	segSchema, vidSchema := worker.Schemas(a.Spaces())
	if err := index.EnsureGeneration(ctx, ix, 1, segSchema, vidSchema); err != nil {
		return 0, err
	}
	frameDCT := encoders.NewFrameDCT()
	for i, clip := range clips {
		var m *decode.Media
		if err := measure("decode", func() (err error) {
			m, err = decode.File(ctx, clip, decode.Config{Threads: 1, Frames: []decode.FrameSpec{
				{Width: encoders.FrameDCTInput, Height: encoders.FrameDCTInput, Format: decode.Gray},
				{Width: 640, Format: decode.RGB24, Every: 2},
				{Width: encoders.CenterNetInput, Height: encoders.CenterNetInput, Format: decode.RGB24},
			}})
			return err
		}); err != nil {
			return 0, err
		}
		if err := measure(encoders.SpaceFrameDCT, func() error {
			for _, f := range m.Frames {
				if _, err := frameDCT.Embed(f.Images[0].Data); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
		if err := measure(encoders.SpaceAudioSpeech, func() error { _, err := set.Speech.Embed(ctx, m.Audio.Samples); return err }); err != nil {
			return 0, err
		}
		if err := measure(encoders.ModelVAD, func() error { _, err := set.VAD.Probabilities(ctx, m.Audio.Samples); return err }); err != nil {
			return 0, err
		}
		if err := measure(encoders.ModelOCR, func() error {
			for _, f := range m.Frames {
				if im := f.Images[1]; im.Data != nil {
					if _, err := set.OCR.Read(im.Data, im.Spec.Width, im.Spec.Height); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
		if err := measure(encoders.SpaceFrameCenterNet, func() error {
			imgs := make([]encoders.Image, len(m.Frames))
			for i, f := range m.Frames {
				imgs[i] = encoders.Image{RGB: f.Images[2].Data, Width: encoders.CenterNetInput, Height: encoders.CenterNetInput}
			}
			_, err := set.CenterNet.Frames(ctx, imgs)
			return err
		}); err != nil {
			return 0, err
		}
		res, err := a.Source(ctx, clip, analyze.Options{})
		if err != nil {
			return 0, err
		}
		job := queue.Job{VideoID: fmt.Sprintf("clip%02d", i), Source: queue.FileURL(clip)}
		segs, video := worker.Points(job, res, time.Now())
		if err := measure("index", func() error {
			if err := ix.ReplaceVideo(ctx, index.Segments, job.VideoID, segs); err != nil {
				return err
			}
			return ix.ReplaceVideo(ctx, index.Videos, job.VideoID, []index.Point{video})
		}); err != nil {
			return 0, err
		}
	}

	// 2. The whole pipeline: queue, worker, index, as `mediavec up` runs it.
	srv, err := queue.StartEmbedded(queue.EmbeddedConfig{StoreDir: filepath.Join(dir, "jetstream"), Host: "127.0.0.1", Port: -1})
	if err != nil {
		return 0, err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	lanes, err := queue.Ensure(ctx, js, queue.Topology{})
	if err != nil {
		return 0, err
	}
	statuses, err := queue.OpenStatuses(ctx, js)
	if err != nil {
		return 0, err
	}
	pix, err := index.OpenEmbedded(filepath.Join(dir, "pipeline-index"))
	if err != nil {
		return 0, err
	}
	defer pix.Close()
	if err := index.EnsureGeneration(ctx, pix, 1, segSchema, vidSchema); err != nil {
		return 0, err
	}
	wk := worker.New(worker.Config{Concurrency: cfg.Concurrency, FetchWait: 50 * time.Millisecond, Logger: quietLogger()}, js, lanes, statuses, a, pix)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	for i, clip := range clips {
		if _, err := queue.Submit(ctx, js, statuses, queue.Job{VideoID: fmt.Sprintf("clip%02d", i), Source: queue.FileURL(clip)}, false); err != nil {
			stop()
			return 0, err
		}
	}
	go func() { _ = wk.Run(runCtx); close(done) }()
	for i := range clips {
		for {
			st, err := statuses.Get(ctx, fmt.Sprintf("clip%02d", i))
			if err == nil && (st.State == queue.StateIndexed || st.State == queue.StateFailed) {
				if st.State == queue.StateFailed {
					stop()
					<-done
					return 0, fmt.Errorf("clip%02d failed in the pipeline: %s", i, st.Line())
				}
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wall := time.Since(start)
	stop()
	<-done

	var sum, slowest time.Duration
	names := make([]string, 0, len(stages))
	for name, d := range stages {
		sum += d
		slowest = max(slowest, d)
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return stages[names[i]] > stages[names[j]] })
	cores := runtime.NumCPU()
	ideal := max(sum/time.Duration(cores), slowest)
	fmt.Fprintf(w, "pipeline: %d clips of %d s at %dx%d (frames 1/s, CenterNet on each, audio, OCR every other frame), %d cores, %d jobs in flight\n",
		cfg.Clips, cfg.Seconds, cfg.Width, cfg.Height, cores, cfg.Concurrency)
	fmt.Fprintf(w, "%-20s %10s\n", "STAGE ALONE", "CPU")
	for _, n := range names {
		fmt.Fprintf(w, "%-20s %9.2fs\n", n, stages[n].Seconds())
	}
	fmt.Fprintf(w, "%-20s %9.2fs\n", "sum", sum.Seconds())
	fmt.Fprintf(w, "ideal wall time: max(sum / %d cores = %.2fs, slowest stage %.2fs) = %.2fs\n", cores, (sum / time.Duration(cores)).Seconds(), slowest.Seconds(), ideal.Seconds())
	fmt.Fprintf(w, "pipeline wall time: %.2fs\n", wall.Seconds())
	ratio := wall.Seconds() / ideal.Seconds()
	fmt.Fprintf(w, "pipeline / ideal: %.3f (goal ≤ 1.15)\n", ratio)
	return ratio, nil
}

// quietLogger keeps the worker's per-job logs out of a benchmark's report.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
