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
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/copyset"
	"github.com/mediavec/mediavec/internal/testmedia"
	"github.com/mediavec/mediavec/internal/vecmath"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/worker"
)

// PipelineConfig sets `mediavec bench pipeline`. Each zero field takes
// DefaultPipeline's.
type PipelineConfig struct {
	// Seconds is the length of each clip of the mix.
	Seconds int
	// Clips names the clips of the mix to run (PipelineMix); all of them
	// when empty.
	Clips []string
	// Runs is how many times each configuration is measured, the two
	// interleaved; medians are reported.
	Runs int
	// Queue is how many times the pipeline pass queues the clips: a
	// worker at capacity always has a next job, and a short queue's last
	// job, finishing alone on one core, would weigh as it never does
	// there.
	Queue int
	// Long also measures a 10-minute clip against its first 30 seconds.
	Long        bool
	Concurrency int // jobs in flight in the pipeline; defaults to the cores
	ModelsDir   string
	ORTLib      string
	Dir         string // for the data; a temporary folder when empty
	// CacheDir keeps the generated clips between runs.
	CacheDir string
	// Log gets progress lines; none when nil.
	Log io.Writer
}

// DefaultPipeline is the pipeline benchmark's defaults: the whole mix at
// 10 s a clip (short-video uploads), queued twice over, three runs.
var DefaultPipeline = PipelineConfig{Seconds: 10, Runs: 3, Queue: 2}

func (c *PipelineConfig) defaults() {
	c.Seconds = cmp.Or(c.Seconds, DefaultPipeline.Seconds)
	c.Runs = cmp.Or(c.Runs, DefaultPipeline.Runs)
	c.Queue = cmp.Or(c.Queue, DefaultPipeline.Queue)
	c.Concurrency = cmp.Or(c.Concurrency, runtime.NumCPU())
	c.CacheDir = cmp.Or(c.CacheDir, filepath.Join(os.TempDir(), "mediavec-bench"))
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// MixClip is one clip of the pipeline benchmark's mix: 1280×720 at 30 fps,
// H.264 (x264 veryfast: B-frames; a keyframe every 2 s as phones and
// apps' exports put them, or x264's default of up to 250 frames) with AAC
// audio.
type MixClip struct {
	Name string
	What string
	// pictures are the ffmpeg inputs of the picture (n of them), filter
	// the filter graph that makes [v] of them, and sound the input of the
	// soundtrack (nil: the first input's own).
	pictures []string
	n        int
	filter   string
	sound    []string
	longGOP  bool // x264's default GOP instead of 2 s
}

// PipelineMix is the benchmark's mix of uploads: opencv-doc's three real
// videos, photographs as a slideshow and under captions, and two generated
// clips, each with a soundtrack.
func PipelineMix() []MixClip {
	cv := func(n string) string { return filepath.Join(testmedia.OpenCV, n) }
	music := func(n string) []string {
		return []string{"-stream_loop", "-1", "-i", filepath.Join(copyset.Music, n)}
	}
	loop := func(p string) []string { return []string{"-stream_loop", "-1", "-i", p} }
	fill := "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,setsar=1"
	video := func(name, what, path string, sound []string) MixClip {
		return MixClip{Name: name, What: what, pictures: loop(path), n: 1, filter: "[0:v]" + fill + ",fps=30[v]", sound: sound}
	}
	photos := []string{"fruits.jpg", "home.jpg", "messi5.jpg", "baboon.jpg", "building.jpg"}
	slides := MixClip{Name: "slideshow", What: "five opencv-doc photos, 2 s each, zooming", n: len(photos), sound: music("sorcerer.it")}
	for i, p := range photos {
		slides.pictures = append(slides.pictures, "-loop", "1", "-framerate", "30", "-t", "2", "-i", cv(p))
		slides.filter += fmt.Sprintf("[%d:v]%s,zoompan=z='min(zoom+0.002,1.2)':d=1:s=1280x720:fps=30[s%d];", i, fill, i)
	}
	for i := range photos {
		slides.filter += fmt.Sprintf("[s%d]", i)
	}
	slides.filter += fmt.Sprintf("concat=n=%d:v=1[v]", len(photos))
	captions := "[0:v]" + fill + ",zoompan=z='min(zoom+0.0008,1.15)':d=1:s=1280x720:fps=30"
	for i, c := range ocrShareCaptions {
		captions += fmt.Sprintf(",drawtext=fontfile=%s:fontsize=56:text='%s':fontcolor=white:borderw=4:bordercolor=black:x=(w-tw)/2:y=h-th-90:enable='gte(t,%d)*lt(t,%d)'",
			captionFont, c, 3*i, 3*i+3)
	}
	return []MixClip{
		video("street", "opencv-doc vtest.avi, Pingus music", cv("vtest.avi"), music("pingus-1.it")),
		video("megamind", "opencv-doc Megamind.avi and its speech", cv("Megamind.avi"), nil),
		video("tree", "opencv-doc tree.avi, Pingus music", cv("tree.avi"), music("gd-ite.it")),
		slides,
		{Name: "captions", What: "a photo under captions changing every 3 s", pictures: []string{"-loop", "1", "-framerate", "30", "-i", cv("fruits.jpg")}, n: 1,
			filter: captions + "[v]", sound: music("goin_march.it")},
		{Name: "testsrc2", What: "ffmpeg's testsrc2 pattern, a tone, x264's long GOP", pictures: []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"}, n: 1,
			filter: "[0:v]null[v]", sound: []string{"-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"}, longGOP: true},
	}
}

// Make writes the clip, seconds long, into dir (kept when already there).
func (c MixClip) Make(ctx context.Context, dir string, seconds int) (string, error) {
	out := filepath.Join(dir, fmt.Sprintf("mix2-%s-%ds.mp4", c.Name, seconds))
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	args := append([]string{"-hide_banner", "-loglevel", "error", "-y"}, c.pictures...)
	audio := "0:a"
	if c.sound != nil {
		args = append(args, c.sound...)
		audio = fmt.Sprintf("%d:a", c.n)
	}
	tmp := filepath.Join(dir, ".partial-"+filepath.Base(out))
	args = append(args, "-filter_complex", c.filter, "-map", "[v]", "-map", audio,
		"-t", fmt.Sprint(seconds), "-r", "30", "-c:v", "libx264", "-preset", "veryfast")
	if !c.longGOP {
		args = append(args, "-g", "60")
	}
	args = append(args, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2", tmp)
	if b, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("make %s (scripts/setup installs opencv-doc and pingus-data): %v: %s", c.Name, err, b)
	}
	return out, os.Rename(tmp, out)
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PipelineFigures are one configuration's figures over the mix.
type PipelineFigures struct {
	// Parts is each part's CPU time alone (the decode, every stage, the
	// index write) over the whole mix, the median run.
	Parts map[string]time.Duration
	// Wall is the whole pipeline's wall time over the mix, queued
	// PipelineConfig.Queue times, the median run, and Video that queue's
	// video time.
	Wall  time.Duration
	Video time.Duration
	// Results are the analyses of the first run, by clip.
	Results map[string]*analyze.Result
}

// Sum is the parts' CPU time together.
func (f PipelineFigures) Sum() time.Duration {
	var s time.Duration
	for _, d := range f.Parts {
		s += d
	}
	return s
}

// Ideal is the wall time the pipeline pass would take on cores with
// nothing lost: the parts' CPU time (measured once over the mix) times the
// queue, over the cores, or the slowest part alone if larger.
func (f PipelineFigures) Ideal(cores, queued int) time.Duration {
	var slowest time.Duration
	for _, d := range f.Parts {
		slowest = max(slowest, d)
	}
	return time.Duration(queued) * max(f.Sum()/time.Duration(cores), slowest)
}

// PipelineReport is what Pipeline measured.
type PipelineReport struct {
	Video time.Duration // of the mix, once
	// Fast is the default configuration; Thorough the one before frames
	// were skipped (analyze.Config.Thorough).
	Fast, Thorough PipelineFigures
	// LabelF1 is the F1 of the fast configuration's per-video label sets
	// against the thorough one's, over every clip's labels; Cosine the
	// lowest cosine of a clip's pooled vector between the two, by space.
	LabelF1 float64
	Cosine  map[string]float64
	// Long and Short are the realtime factors (video time over CPU time
	// per core) of a 10-minute clip and of its first 30 seconds, when
	// PipelineConfig.Long asked.
	Long, Short float64
}

// Realtime is the realtime factor of a configuration: video time over
// the pipeline's wall time.
func (r PipelineReport) Realtime(f PipelineFigures) float64 {
	return f.Video.Seconds() / f.Wall.Seconds()
}

// Pipeline measures, in one run and on the same clips, the default
// configuration against the thorough one (every frame decoded in full,
// every sampled frame through the costly models: the defaults before
// analyze.Config.HeavyChange and decode skipping). For each, several
// times, the two interleaved: the CPU time of every part of a job alone —
// the decode, each analysis stage, the write — then the wall time of the
// whole pipeline. Both go through the stack `mediavec up` runs
// (internal/app: embedded NATS, the worker, the embedded index): the parts
// are the worker's own analysis of a job, run one stage at a time
// (analyze.Options.Around), and its own write. It prints per part the
// CPU seconds per video minute, the realtime factors, pipeline/ideal, and
// how far the fast configuration's labels and vectors are from the
// thorough one's.
func Pipeline(ctx context.Context, cfg PipelineConfig, w io.Writer) (PipelineReport, error) {
	cfg.defaults()
	var rep PipelineReport
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mediavec-bench-pipeline-*")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var clips []string
	var names []string
	for _, c := range PipelineMix() {
		if len(cfg.Clips) > 0 && !slices.Contains(cfg.Clips, c.Name) {
			continue
		}
		fmt.Fprintf(cfg.Log, "making %s (%d s, cached in %s)…\n", c.Name, cfg.Seconds, cfg.CacheDir)
		p, err := c.Make(ctx, cfg.CacheDir, cfg.Seconds)
		if err != nil {
			return rep, err
		}
		clips, names = append(clips, p), append(names, c.Name)
	}
	if len(clips) == 0 {
		return rep, fmt.Errorf("no clip of the mix is named %v", cfg.Clips)
	}
	stacks := map[bool]*app.Stack{}
	for _, thorough := range []bool{false, true} {
		s, err := app.Start(ctx, app.Config{
			ModelsDir: cfg.ModelsDir, ORTLib: cfg.ORTLib, DataDir: filepath.Join(dir, fmt.Sprintf("data-thorough-%v", thorough)), NATSListen: "127.0.0.1:0",
			Analyze: analyze.Config{Thorough: thorough},
			Workers: cfg.Concurrency, Worker: worker.Config{FetchWait: 50 * time.Millisecond}, Logger: quietLogger(),
		})
		if err != nil {
			return rep, err
		}
		defer s.Close()
		stacks[thorough] = s
	}
	for _, c := range clips {
		info, err := probeDuration(ctx, c)
		if err != nil {
			return rep, err
		}
		rep.Video += info
	}

	runs := map[bool][]PipelineFigures{}
	for run := range cfg.Runs {
		for i := range 2 {
			thorough := (i+run)%2 == 1 // alternate which goes first
			name := map[bool]string{false: "fast", true: "thorough"}[thorough]
			fmt.Fprintf(cfg.Log, "run %d/%d: %s…\n", run+1, cfg.Runs, name)
			f, err := measurePipeline(ctx, stacks[thorough], clips, names, cfg.Queue, fmt.Sprintf("%s-%d", name, run))
			if err != nil {
				return rep, fmt.Errorf("%s: %w", name, err)
			}
			runs[thorough] = append(runs[thorough], f)
		}
	}
	rep.Fast, rep.Thorough = medianFigures(runs[false]), medianFigures(runs[true])
	rep.LabelF1, rep.Cosine = compareResults(rep.Fast.Results, rep.Thorough.Results)
	if cfg.Long {
		var err error
		if rep.Long, rep.Short, err = longAgainstShort(ctx, stacks[false], cfg); err != nil {
			return rep, err
		}
	}
	printPipeline(w, cfg, names, rep)
	return rep, nil
}

// measurePipeline runs the clips through s once part by part, then once as
// a pipeline; job ids carry tag so that no run finds another's points.
func measurePipeline(ctx context.Context, s *app.Stack, clips, names []string, queued int, tag string) (PipelineFigures, error) {
	f := PipelineFigures{Parts: map[string]time.Duration{}, Results: map[string]*analyze.Result{}}
	// 1. Each part alone, clip after clip, in this process: CPU time.
	measure := func(part string, fn func() error) error {
		c0 := cpuTime()
		err := fn()
		f.Parts[part] += cpuTime() - c0
		return err
	}
	for i, clip := range clips {
		job := queue.Job{VideoID: fmt.Sprintf("alone-%s-%s", tag, names[i]), Source: queue.FileURL(clip)}
		opts := s.Worker().AnalysisOptions(job)
		opts.Around = measure
		opts.Duplicate = nil // every run analyses the same clips again
		res, err := s.Analyzer().Source(ctx, clip, opts)
		if err != nil {
			return f, fmt.Errorf("%s: %w", names[i], err)
		}
		f.Results[names[i]] = res
		if err := measure("index", func() error { return s.Worker().Write(ctx, job, res) }); err != nil {
			return f, err
		}
	}
	// 2. The whole pipeline: queue, worker, index, as `mediavec up` runs it.
	start := time.Now()
	var ids []string
	for q := range queued {
		for i, clip := range clips {
			id := fmt.Sprintf("pipe-%s-%d-%s", tag, q, names[i])
			// Reprocess: the same bytes again are not an exact re-upload here.
			if _, err := queue.Submit(ctx, s.JetStream(), s.Statuses(), queue.Job{VideoID: id, Source: queue.FileURL(clip), Reprocess: true}, false); err != nil {
				return f, err
			}
			ids = append(ids, id)
			f.Video += f.Results[names[i]].Info.Duration
		}
	}
	for _, id := range ids {
		if err := waitIndexed(ctx, s, id); err != nil {
			return f, err
		}
	}
	f.Wall = time.Since(start)
	return f, nil
}

func waitIndexed(ctx context.Context, s *app.Stack, id string) error {
	for {
		st, err := s.Statuses().Get(ctx, id)
		if err == nil && (st.State == queue.StateFailed || st.State == queue.StateDuplicate) {
			return fmt.Errorf("%s in the pipeline: %s", id, st.Line())
		}
		if err == nil && st.State == queue.StateIndexed {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// medianFigures takes each figure's median over runs, and the first run's
// results.
func medianFigures(runs []PipelineFigures) PipelineFigures {
	out := PipelineFigures{Parts: map[string]time.Duration{}, Results: runs[0].Results, Video: runs[0].Video}
	var walls []float64
	parts := map[string][]float64{}
	for _, r := range runs {
		walls = append(walls, r.Wall.Seconds())
		for p, d := range r.Parts {
			parts[p] = append(parts[p], d.Seconds())
		}
	}
	out.Wall = seconds(median(walls))
	for p, ds := range parts {
		out.Parts[p] = seconds(median(ds))
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// compareResults is the label F1 of fast's per-video label sets against
// thorough's (all clips' labels pooled), and per dense space the lowest
// cosine between a clip's pooled vectors.
func compareResults(fast, thorough map[string]*analyze.Result) (float64, map[string]float64) {
	var tp, fp, fn int
	cos := map[string]float64{}
	for name, t := range thorough {
		f := fast[name]
		want, got := analyze.Labels(t.Objects), analyze.Labels(f.Objects)
		for _, l := range got {
			if slices.Contains(want, l) {
				tp++
			} else {
				fp++
			}
		}
		for _, l := range want {
			if !slices.Contains(got, l) {
				fn++
			}
		}
		for space, v := range t.Pooled {
			c := 0.0
			if u := f.Pooled[space]; len(u) == len(v) {
				c = float64(vecmath.Dot(u, v))
			}
			if old, ok := cos[space]; !ok || c < old {
				cos[space] = c
			}
		}
	}
	f1 := 1.0 // no labels on either side agree perfectly
	if tp+fp+fn > 0 {
		f1 = 2 * float64(tp) / float64(2*tp+fp+fn)
	}
	return f1, cos
}

// longAgainstShort is the realtime factor, from CPU time per core, of a
// 10-minute clip of real video and of its first 30 seconds, analysed
// alone as the worker does.
func longAgainstShort(ctx context.Context, s *app.Stack, cfg PipelineConfig) (long, short float64, err error) {
	street := PipelineMix()[0]
	cores := float64(runtime.NumCPU())
	for _, secs := range []int{600, 30} {
		fmt.Fprintf(cfg.Log, "making and analysing a %d s clip…\n", secs)
		clip, err := street.Make(ctx, cfg.CacheDir, secs)
		if err != nil {
			return 0, 0, err
		}
		dur, err := probeDuration(ctx, clip)
		if err != nil {
			return 0, 0, err
		}
		job := queue.Job{VideoID: fmt.Sprintf("long-%d", secs), Source: queue.FileURL(clip)}
		opts := s.Worker().AnalysisOptions(job)
		opts.Duplicate = nil
		var cpu time.Duration
		opts.Around = func(_ string, run func() error) error {
			c0 := cpuTime()
			err := run()
			cpu += cpuTime() - c0
			return err
		}
		if _, err := s.Analyzer().Source(ctx, clip, opts); err != nil {
			return 0, 0, err
		}
		rt := dur.Seconds() / (cpu.Seconds() / cores)
		if secs == 600 {
			long = rt
		} else {
			short = rt
		}
	}
	return long, short, nil
}

func probeDuration(ctx context.Context, path string) (time.Duration, error) {
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	var secs float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &secs); err != nil {
		return 0, fmt.Errorf("ffprobe %s: %q", path, out)
	}
	return seconds(secs), nil
}

func printPipeline(w io.Writer, cfg PipelineConfig, names []string, rep PipelineReport) {
	cores := runtime.NumCPU()
	minutes := rep.Video.Minutes()
	fmt.Fprintf(w, "pipeline: %d clips of %d s, 1280x720 30 fps H.264 (%s), every default space, thumbnails, as mediavec up runs them; %d cores, %d jobs in flight; median of %d interleaved runs\n",
		len(names), cfg.Seconds, strings.Join(names, ", "), cores, cfg.Concurrency, cfg.Runs)
	fmt.Fprintf(w, "thorough: every frame decoded in full, every sampled frame through the costly models (the previous defaults); fast: the defaults\n")
	set := map[string]bool{}
	for p := range rep.Thorough.Parts {
		set[p] = true
	}
	for p := range rep.Fast.Parts {
		set[p] = true
	}
	parts := make([]string, 0, len(set))
	for p := range set {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return rep.Thorough.Parts[parts[i]] > rep.Thorough.Parts[parts[j]] })
	fmt.Fprintf(w, "%-16s %22s %22s %8s\n", "CPU-s PER VIDEO-MIN", "THOROUGH", "FAST", "RATIO")
	row := func(name string, t, f time.Duration) {
		ratio := "-"
		if f > 0 {
			ratio = fmt.Sprintf("%.2fx", t.Seconds()/f.Seconds())
		}
		fmt.Fprintf(w, "%-16s %22.2f %22.2f %8s\n", name, t.Seconds()/minutes, f.Seconds()/minutes, ratio)
	}
	for _, p := range parts {
		row(p, rep.Thorough.Parts[p], rep.Fast.Parts[p])
	}
	row("sum", rep.Thorough.Sum(), rep.Fast.Sum())
	for _, c := range []struct {
		name string
		f    PipelineFigures
	}{{"thorough", rep.Thorough}, {"fast", rep.Fast}} {
		ideal := c.f.Ideal(cores, cfg.Queue)
		fmt.Fprintf(w, "%-9s pipeline wall %.2fs for %.0fs of video (the mix queued %d times): %.1fx realtime; ideal %.2fs, pipeline / ideal %.3f (goal ≤ 1.15)\n",
			c.name, c.f.Wall.Seconds(), c.f.Video.Seconds(), cfg.Queue, rep.Realtime(c.f), ideal.Seconds(), c.f.Wall.Seconds()/ideal.Seconds())
	}
	fmt.Fprintf(w, "fast vs thorough: %.2fx the realtime factor (goal: fast ≥ 20x realtime)\n", rep.Realtime(rep.Fast)/rep.Realtime(rep.Thorough))
	fmt.Fprintf(w, "quality, fast against thorough: label F1 of the per-video label sets %.3f (goal ≥ 0.95)\n", rep.LabelF1)
	spaces := make([]string, 0, len(rep.Cosine))
	for s := range rep.Cosine {
		spaces = append(spaces, s)
	}
	slices.Sort(spaces)
	for _, s := range spaces {
		fmt.Fprintf(w, "  lowest cosine of a video's pooled %-20s %.4f (goal ≥ 0.98)\n", s, rep.Cosine[s])
	}
	fmt.Fprintf(w, "  %-10s %-28s %-28s %s\n", "CLIP", "LABELS THOROUGH", "LABELS FAST", "FRAMES CENTERNET SAW (THOROUGH → FAST)")
	for _, n := range names {
		t, f := rep.Thorough.Results[n], rep.Fast.Results[n]
		fmt.Fprintf(w, "  %-10s %-28s %-28s %d → %d\n", n, strings.Join(analyze.Labels(t.Objects), ","), strings.Join(analyze.Labels(f.Objects), ","),
			t.Count()[encoders.SpaceFrameCenterNet], f.Count()[encoders.SpaceFrameCenterNet])
	}
	if rep.Long > 0 {
		fmt.Fprintf(w, "cost against length (fast, one job alone, CPU per core): 10 min %.1fx realtime, its first 30 s %.1fx; ratio %.2f (goal ≥ 0.8: cost grows no faster than the video)\n",
			rep.Long, rep.Short, rep.Long/rep.Short)
	}
}

// quietLogger keeps the worker's per-job logs out of a benchmark's report.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
