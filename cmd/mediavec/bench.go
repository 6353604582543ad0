package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/bench"
	"github.com/mediavec/mediavec/internal/lists"
	"github.com/mediavec/mediavec/internal/tfjs"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, "Usage: mediavec bench decode|index|encoders|pipeline|calibration|copies [flags]\n\nBenchmarks:\n  decode      go-astiav decode and sampling against the ffmpeg CLI on the same clip\n  index       the embedded index: upserts/s and top-10 latency at 100k and 1M points, against a plain Go loop\n  encoders    every ONNX encoder at batch 1 and larger, against bare session calls on the same tensors\n  pipeline    each stage's CPU time alone against the whole pipeline's wall time, on generated 720p clips\n  calibration the search score's calibration on real media under edits: ROC AUC and the floor, per query kind\n  copies      copy detection on real media reposted 18 ways: recall@1 per edit, false copies, audio reuse, precision–recall plots")
			return nil
		}
		return fmt.Errorf("%w: want a benchmark: decode, index, encoders, pipeline, calibration or copies", errUsage)
	}
	switch args[0] {
	case "decode":
		return runBenchDecode(ctx, args[1:], stdout, stderr)
	case "index":
		return runBenchIndex(ctx, args[1:], stdout, stderr)
	case "encoders":
		return runBenchEncoders(ctx, args[1:], stdout, stderr)
	case "pipeline":
		return runBenchPipeline(ctx, args[1:], stdout, stderr)
	case "calibration":
		return runBenchCalibration(ctx, args[1:], stdout, stderr)
	case "copies":
		return runBenchCopies(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown benchmark %q (have: decode, index, encoders, pipeline, calibration, copies)", errUsage, args[0])
}

func runBenchCopies(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench copies", "bench copies [flags]", stderr)
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	dir := fs.String("dir", "", "folder for the clips and the index, kept between runs (default: a temporary one)")
	plots := fs.String("plots", "", "folder for the precision–recall PNGs, one per edit")
	sources := fs.Int("sources", 0, "use about this many of the 24 sources and of the 24 negatives (0: all)")
	edits := fs.String("edits", "", "comma-separated edits to make (default: all)")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var log io.Writer = stderr
	if *quiet {
		log = io.Discard
	}
	var only []string
	if *edits != "" {
		only = strings.Split(*edits, ",")
	}
	_, err := bench.Copies(ctx, bench.CopiesConfig{ModelsDir: *models, ORTLib: *ortLib, Dir: *dir, Plots: *plots, Sources: *sources, Edits: only, Log: log}, stdout)
	return err
}

func runBenchDecode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench decode", "bench decode [flags]", stderr)
	clip := fs.String("clip", "", "clip to decode (default: a generated 1080p30 h264 clip)")
	seconds := fs.Int("seconds", bench.DefaultDecode.Seconds, "length of the generated clip")
	size := fs.String("size", fmt.Sprintf("%dx%d", bench.DefaultDecode.Width, bench.DefaultDecode.Height), "size of the generated clip")
	threads := fs.Int("threads", bench.DefaultDecode.Threads, "decoder threads, the same for mediavec and the ffmpeg CLI")
	runs := fs.Int("runs", bench.DefaultDecode.Runs, "runs of each side; the best counts")
	rss := fs.String("rss", "auto", `clip for the peak-memory run in a child process ("auto": a generated 4K clip; "": skip)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	wi, hi, err := parseSize(*size)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return bench.Decode(ctx, bench.DecodeConfig{
		Clip: *clip, Seconds: *seconds, Width: wi, Height: hi, Threads: *threads, Runs: *runs,
		CacheDir: filepath.Join(encoders.CacheDir(), "bench"), RSSClip: *rss, Self: self,
	}, stdout)
}

func runBenchIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench index", "bench index [flags]", stderr)
	dim := fs.Int("dim", bench.DefaultIndex.Dim, "vector dimension")
	sizes := fs.String("sizes", joinInts(bench.DefaultIndex.Sizes), "comma-separated collection sizes, ascending")
	queries := fs.Int("queries", bench.DefaultIndex.Queries, "top-k queries per size")
	dir := fs.String("dir", "", "folder for the index files (default: a temporary folder, removed after)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ns []int
	for _, s := range lists.Split(*sizes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || (len(ns) > 0 && n <= ns[len(ns)-1]) {
			return fmt.Errorf("%w: --sizes must be ascending positive integers", errUsage)
		}
		ns = append(ns, n)
	}
	_, err := bench.Index(ctx, bench.IndexConfig{Dim: *dim, Sizes: ns, Queries: *queries, Dir: *dir}, stdout)
	return err
}

func runBenchEncoders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench encoders", "bench encoders [flags]", stderr)
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	threads := fs.Int("intra-op-threads", encoders.DefaultIntraOpThreads, "threads one inference may use")
	provider := fs.String("provider", encoders.DefaultProvider, "execution provider: cpu, cuda or tensorrt")
	minTime := fs.Duration("time", time.Second, "how long each measurement runs")
	only := fs.String("only", "", "only the encoders whose name starts with this (frame_centernet_v1, audio_speech_v1, vad_silero, ocr_ppocrv4, text_use_v1, safety_nsfwjs_v1, frame_dct_v1)")
	tfjsDir := fs.String("tfjs-models", filepath.Join(encoders.DefaultModelsDir(), "tfjs"), "folder of centernet.json, for the converter's wall time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := encoders.InitRuntime(*ortLib); err != nil {
		return err
	}
	if *only == "" || strings.HasPrefix(encoders.SpaceFrameCenterNet, *only) {
		if err := benchConverter(filepath.Join(*tfjsDir, "centernet.json"), stdout); err != nil {
			return err
		}
	}
	frame, w, h, err := bench.TextFrame(ctx, 640, 360, "Subscribe for more videos")
	if err != nil {
		return err
	}
	rows, err := encoders.Benchmark(ctx, encoders.BenchConfig{
		ModelsDir: *models, Session: encoders.SessionConfig{IntraOpThreads: *threads, Provider: *provider},
		MinTime: *minTime, Frame: frame, FrameW: w, FrameH: h, Frame512: bench.Photo512(ctx), Only: *only,
	}, stdout)
	if err != nil {
		return err
	}
	// Batch 1 beside the best batch, per encoder.
	type pair struct{ one, best encoders.BenchRow }
	var order []string
	byEnc := map[string]*pair{}
	worst := 0.0
	for _, r := range rows {
		worst = max(worst, r.Overhead())
		p := byEnc[r.Encoder]
		if p == nil {
			p = &pair{best: r}
			byEnc[r.Encoder] = p
			order = append(order, r.Encoder)
		}
		if r.Batch == 1 {
			p.one = r
		}
		if r.PerSec > p.best.PerSec {
			p.best = r
		}
	}
	for _, e := range order {
		p := byEnc[e]
		fmt.Fprintf(stdout, "%-22s batch 1: %9.1f/s   best batch %d: %9.1f/s (%.2f×)\n", e, p.one.PerSec, p.best.Batch, p.best.PerSec, p.best.PerSec/p.one.PerSec)
	}
	fmt.Fprintf(stdout, "largest encoder overhead over the bare session calls: %+.1f%% (goal ≤ 10%%)\n", 100*worst)
	return nil
}

func runBenchPipeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench pipeline", "bench pipeline [flags]", stderr)
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	var names []string
	for _, c := range bench.PipelineMix() {
		names = append(names, c.Name)
	}
	clips := fs.String("clips", "", "comma-separated clips of the mix to run (default: all of "+strings.Join(names, ", ")+")")
	seconds := fs.Int("seconds", bench.DefaultPipeline.Seconds, "length of each clip")
	runs := fs.Int("runs", bench.DefaultPipeline.Runs, "runs of each configuration, interleaved; medians are reported")
	queued := fs.Int("queue", bench.DefaultPipeline.Queue, "times the pipeline pass queues the mix (a worker at capacity always has a next job)")
	long := fs.Bool("long", true, "also measure a 10-minute clip against its first 30 seconds")
	concurrency := fs.Int("concurrency", 0, "jobs in flight in the pipeline (default: the cores)")
	cache := fs.String("cache", filepath.Join(os.TempDir(), "mediavec-bench"), "folder that keeps the generated clips between runs")
	ocrShare := fs.Bool("ocr-share", true, "also measure on-screen text's share of a job on opencv-doc's video with and without captions, with and without Tesseract")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := bench.PipelineConfig{Seconds: *seconds, Runs: *runs, Queue: *queued, Long: *long, Concurrency: *concurrency, ModelsDir: *models, ORTLib: *ortLib, CacheDir: *cache, Log: stderr}
	if *quiet {
		cfg.Log = nil
	}
	if *clips != "" {
		cfg.Clips = strings.Split(*clips, ",")
	}
	if _, err := bench.Pipeline(ctx, cfg, stdout); err != nil || !*ocrShare {
		return err
	}
	fmt.Fprintln(stdout)
	_, err := bench.OCRShare(ctx, cfg, stdout)
	return err
}

func runBenchCalibration(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench calibration", "bench calibration [flags]", stderr)
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	write := fs.String("write", "", "write the fitted calibration JSON here (search/calibration.json ships it)")
	plots := fs.String("plots", "", "folder for the PNG plots: score distributions and reliability")
	dir := fs.String("dir", "", "folder for the clips and the index (default: a temporary one)")
	samples := fs.String("samples", "", "write every labelled pair here, as JSON lines")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var log io.Writer = stderr
	if *quiet {
		log = io.Discard
	}
	_, err := bench.Calibration(ctx, bench.CalibrationConfig{ModelsDir: *models, ORTLib: *ortLib, Dir: *dir, Write: *write, Plots: *plots, Samples: *samples, Log: log}, stdout)
	return err
}

// joinInts writes integers as a comma-separated list.
func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// parseSize reads a --size of the form WxH.
func parseSize(size string) (int, int, error) {
	w, h, ok := strings.Cut(size, "x")
	wi, err1 := strconv.Atoi(w)
	hi, err2 := strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || wi <= 0 || hi <= 0 {
		return 0, 0, fmt.Errorf("%w: --size must be WxH", errUsage)
	}
	return wi, hi, nil
}

// benchConverter times `models import-tfjs --for frame_centernet_v1`:
// reading and dequantising centernet.json, converting it with the shipped
// model's settings, and encoding the ONNX file, best of three.
func benchConverter(modelJSON string, w io.Writer) error {
	best := time.Duration(math.MaxInt64)
	var nodes int
	for range 3 {
		start := time.Now()
		m, err := tfjs.Load(modelJSON)
		if err != nil {
			return fmt.Errorf("converter benchmark: %w (run scripts/setup, or pass --tfjs-models)", err)
		}
		imp := encoders.TFJSImports[encoders.SpaceFrameCenterNet]
		res, err := tfjs.Convert(m, tfjs.Options{Outputs: imp.Outputs, DynamicBatch: imp.DynamicBatch})
		if err != nil {
			return err
		}
		if _, err := res.Model.Marshal(); err != nil {
			return err
		}
		best = min(best, time.Since(start))
		nodes = len(m.Nodes)
	}
	fmt.Fprintf(w, "import-tfjs %s (%d TF.js nodes): %s wall, best of 3 (read + dequantise + convert + encode)\n", filepath.Base(modelJSON), nodes, best.Round(100*time.Microsecond))
	return nil
}
