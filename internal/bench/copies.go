package bench

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/copyset"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/search"
	"github.com/mediavec/mediavec/worker"
)

// CopiesConfig sets `mediavec bench copies`.
type CopiesConfig struct {
	ModelsDir, ORTLib string
	Dir               string // clips and index; a temporary folder when empty
	Plots             string // folder for the precision–recall PNGs; none when empty
	// Sources, when above 0, takes every k-th source and negative so that
	// about this many of each are used (the test's slice); 0 is all 24.
	Sources int
	// Edits, when set, are the only edits made.
	Edits []string
	Log   io.Writer
}

// CopiesReport is what the copy-detection benchmark measured at the
// default threshold.
type CopiesReport struct {
	Threshold float64
	PerEdit   map[string]EditEval
	Edits     []string // in the set's order
	Found     int      // copies whose source ranked first at or over the threshold
	Copies    int
	// FalseCopies are visual copies reported at the threshold for the
	// negatives and the trend-sound clips (other pictures).
	FalseCopies     []string
	NegativeQueries int
	// Audio reuse: the trend-sound clips whose soundtrack's source was
	// reported as audio reuse, and reports of audio reuse for negatives
	// (whose soundtracks no source has).
	AudioFound, AudioPairs int
	FalseAudio             []string
	Misses                 []string
	QuerySeconds           float64 // median wall time of one near-duplicate query
}

// EditEval is one edit's figures.
type EditEval struct {
	Found, Total int
	Ranked       int       // the source ranked first whatever its score
	Scores       []float64 // the source's score for each copy (0: not returned)
}

// Recall is the overall recall@1 at the threshold.
func (r CopiesReport) Recall() float64 { return float64(r.Found) / float64(max(1, r.Copies)) }

// copySpaces are what copy detection reads: the frame descriptor and the
// audio fingerprint.
var copySpaces = []string{encoders.SpaceFrameDCT, encoders.SpaceAudioPrint}

// Copies makes the copy-detection set (copyset), indexes its sources and
// queries every edited copy, every negative and every trend-sound clip
// with near-duplicate search at the default threshold.
func Copies(ctx context.Context, cfg CopiesConfig, w io.Writer) (CopiesReport, error) {
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mediavec-bench-copies-*")
		if err != nil {
			return CopiesReport{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return CopiesReport{}, err
	}
	a, closeModels, err := app.LoadAnalyzer(app.Config{ModelsDir: cfg.ModelsDir, ORTLib: cfg.ORTLib})
	if err != nil {
		return CopiesReport{}, err
	}
	defer closeModels()

	sources, negatives := copyset.Sources(), copyset.Negatives()
	if cfg.Sources > 0 {
		sources, negatives = every(sources, cfg.Sources), every(negatives, cfg.Sources)
	}
	edits := copyset.Edits
	if len(cfg.Edits) > 0 {
		edits = nil
		for _, e := range copyset.Edits {
			if slices.Contains(cfg.Edits, e.Name) {
				edits = append(edits, e)
			}
		}
		if len(edits) == 0 {
			return CopiesReport{}, fmt.Errorf("no edit named %v", cfg.Edits)
		}
	}

	// The clips: sources and negatives, then every repost, two ffmpeg
	// processes at a time.
	start := time.Now()
	srcPaths := make([]string, len(sources))
	negPaths := make([]string, len(negatives))
	var tasks []func() error
	for i, c := range sources {
		tasks = append(tasks, func() (err error) { srcPaths[i], err = copyset.Make(ctx, c, dir); return err })
	}
	for i, c := range negatives {
		tasks = append(tasks, func() (err error) { negPaths[i], err = copyset.Make(ctx, c, dir); return err })
	}
	if err := parallel(ctx, 2, tasks); err != nil {
		return CopiesReport{}, err
	}
	fmt.Fprintf(log, "copies: %d sources and %d negatives made in %s\n", len(sources), len(negatives), time.Since(start).Round(time.Second))
	type query struct {
		path, edit string
		of         []string // the sources it copies; none for negatives
		audioOf    string   // the source whose soundtrack it reuses
		name       string
	}
	var queries []query
	tasks = tasks[:0]
	for i, c := range sources {
		for _, e := range edits {
			out := filepath.Join(dir, c.Name+"--"+e.Name+".mp4")
			other := negPaths[i%len(negPaths)]
			of := []string{c.Name}
			if e.Name == "splice" {
				j := (i + 1) % len(sources)
				other = srcPaths[j]
				of = append(of, sources[j].Name)
			}
			queries = append(queries, query{path: out, edit: e.Name, of: of, name: c.Name + " " + e.Name})
			tasks = append(tasks, func() error { return copyset.Repost(ctx, e, c, srcPaths[i], other, out, i) })
		}
	}
	for i, c := range negatives {
		queries = append(queries, query{path: negPaths[i], edit: "negative", name: "negative " + c.Name})
	}
	for i, c := range sources {
		out := filepath.Join(dir, c.Name+"--trend-sound.mp4")
		picture := negPaths[(i+len(negPaths)/2)%len(negPaths)]
		queries = append(queries, query{path: out, edit: "trend-sound", audioOf: c.Name, name: c.Name + " sound under " + filepath.Base(picture)})
		tasks = append(tasks, func() error { return copyset.TrendSound(ctx, picture, srcPaths[i], out) })
	}
	start = time.Now()
	if err := parallel(ctx, 2, tasks); err != nil {
		return CopiesReport{}, err
	}
	fmt.Fprintf(log, "copies: %d reposts and trend-sound clips made in %s\n", len(tasks), time.Since(start).Round(time.Second))

	// A fresh index every run: the clips are kept, the spaces may differ.
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		return CopiesReport{}, err
	}
	ix, err := embedded.Open(filepath.Join(dir, "index"))
	if err != nil {
		return CopiesReport{}, err
	}
	defer ix.Close()
	segs, vids := worker.Schemas(a.Spaces())
	if err := index.EnsureGeneration(ctx, ix, 1, segs, vids); err != nil {
		return CopiesReport{}, err
	}
	for i, c := range sources {
		res, err := a.Source(ctx, srcPaths[i], analyze.Options{Spaces: copySpaces})
		if err != nil {
			return CopiesReport{}, fmt.Errorf("index %s: %w", c.Name, err)
		}
		sp, video := worker.Points(queue.Job{VideoID: c.Name, Source: queue.FileURL(srcPaths[i])}, res, time.Now().UTC())
		if err := ix.ReplaceVideo(ctx, index.Segments, c.Name, sp); err != nil {
			return CopiesReport{}, err
		}
		if err := ix.ReplaceVideo(ctx, index.Videos, c.Name, []index.Point{video}); err != nil {
			return CopiesReport{}, err
		}
	}

	s := search.NewSearcher(a, ix)
	rep := CopiesReport{Threshold: search.DefaultNearDupThreshold, PerEdit: map[string]EditEval{}}
	for _, e := range edits {
		rep.Edits = append(rep.Edits, e.Name)
	}
	// pr collects, per edit, (score, is the query's source) of every
	// candidate; the negatives' candidates count against every edit.
	type scored struct {
		score float64
		match bool
	}
	pr := map[string][]scored{}
	var negScores []scored
	var took []float64
	for n, q := range queries {
		if n%25 == 0 {
			fmt.Fprintf(log, "copies: query %d/%d\n", n+1, len(queries))
		}
		f, err := os.Open(q.path)
		if err != nil {
			return rep, err
		}
		t0 := time.Now()
		resp, err := s.NearDuplicates(ctx, f, filepath.Base(q.path), search.NearDupOptions{Threshold: 1e-6, Limit: 10})
		f.Close()
		if err != nil {
			return rep, fmt.Errorf("query %s: %w", q.name, err)
		}
		took = append(took, time.Since(t0).Seconds())
		switch q.edit {
		case "negative", "trend-sound":
			rep.NegativeQueries++
			for _, r := range resp.Results {
				negScores = append(negScores, scored{r.Score, false})
				if r.Score >= rep.Threshold {
					rep.FalseCopies = append(rep.FalseCopies, fmt.Sprintf("%s → %s (%.3f%s)", q.name, r.VideoID, r.Score, how(r.Alignment)))
				}
				if q.edit == "negative" && r.AudioReuse != nil && r.AudioReuse.Score >= search.DefaultAudioReuseThreshold {
					rep.FalseAudio = append(rep.FalseAudio, fmt.Sprintf("%s → %s (%.3f)", q.name, r.VideoID, r.AudioReuse.Score))
				}
			}
			if q.edit == "trend-sound" {
				rep.AudioPairs++
				found := false
				for _, r := range resp.Results {
					if r.VideoID == q.audioOf && r.AudioReuse != nil && r.AudioReuse.Score >= search.DefaultAudioReuseThreshold {
						found = true
					} else if r.AudioReuse != nil && r.AudioReuse.Score >= search.DefaultAudioReuseThreshold {
						rep.FalseAudio = append(rep.FalseAudio, fmt.Sprintf("%s → %s (%.3f)", q.name, r.VideoID, r.AudioReuse.Score))
					}
				}
				if found {
					rep.AudioFound++
				} else {
					rep.Misses = append(rep.Misses, q.name+": no audio reuse")
				}
			}
			continue
		}
		ev := rep.PerEdit[q.edit]
		ev.Total++
		rep.Copies++
		// The sources it copies must rank first (both, for a splice),
		// each over the threshold; a splice's sources must also line up
		// with their own halves of the query.
		ok, ranked := true, true
		best := 0.0
		for k, of := range q.of {
			score, rank := 0.0, -1
			for j, r := range resp.Results {
				if r.VideoID == of {
					score, rank = r.Score, j
					if len(q.of) > 1 && r.Alignment != nil {
						mid := (r.Alignment.QueryStart + r.Alignment.QueryEnd) / 2
						if (k == 0) != (mid < copyset.SpliceSecond) {
							ok = false
						}
					}
				}
			}
			if rank < 0 || rank >= len(q.of) {
				ranked, ok = false, false
			}
			if score < rep.Threshold {
				ok = false
			}
			best = max(best, score)
			if k == 0 {
				ev.Scores = append(ev.Scores, score)
			}
		}
		for _, r := range resp.Results {
			pr[q.edit] = append(pr[q.edit], scored{r.Score, slices.Contains(q.of, r.VideoID)})
		}
		if ranked {
			ev.Ranked++
		}
		if ok {
			ev.Found++
			rep.Found++
		} else {
			got := "nothing"
			if len(resp.Results) > 0 {
				got = fmt.Sprintf("%s (%.3f)", resp.Results[0].VideoID, resp.Results[0].Score)
			}
			rep.Misses = append(rep.Misses, fmt.Sprintf("%s: source %.3f, first %s", q.name, best, got))
		}
		rep.PerEdit[q.edit] = ev
	}
	sort.Float64s(took)
	if len(took) > 0 {
		rep.QuerySeconds = took[len(took)/2]
	}

	fmt.Fprintf(w, "copies: %d sources (opencv-doc, scikit-image; Pingus music, espeak-ng voices), %d edits, %d negatives, %d trend-sound clips; default threshold %.2f\n",
		len(sources), len(edits), len(negatives), len(sources), rep.Threshold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "edit\trecall@1\tranked first\tsource score min / median")
	for _, e := range rep.Edits {
		ev := rep.PerEdit[e]
		sc := slices.Sorted(slices.Values(ev.Scores))
		lo, med := 0.0, 0.0
		if len(sc) > 0 {
			lo, med = sc[0], sc[len(sc)/2]
		}
		fmt.Fprintf(tw, "%s\t%.3f (%d/%d)\t%d/%d\t%.3f / %.3f\n", e, float64(ev.Found)/float64(max(1, ev.Total)), ev.Found, ev.Total, ev.Ranked, ev.Total, lo, med)
	}
	tw.Flush()
	fmt.Fprintf(w, "overall recall@1 %.3f (%d/%d)\n", rep.Recall(), rep.Found, rep.Copies)
	fmt.Fprintf(w, "false copies at the threshold: %d (%d negative and trend-sound queries)\n", len(rep.FalseCopies), rep.NegativeQueries)
	fmt.Fprintf(w, "audio reuse found %d/%d trend-sound clips; false audio reuse %d\n", rep.AudioFound, rep.AudioPairs, len(rep.FalseAudio))
	fmt.Fprintf(w, "near-duplicate query: median %.2f s wall\n", rep.QuerySeconds)
	for _, m := range rep.FalseCopies {
		fmt.Fprintf(w, "  false copy: %s\n", m)
	}
	for _, m := range rep.FalseAudio {
		fmt.Fprintf(w, "  false audio reuse: %s\n", m)
	}
	for _, m := range rep.Misses {
		fmt.Fprintf(w, "  miss: %s\n", m)
	}
	if cfg.Plots != "" {
		if err := os.MkdirAll(cfg.Plots, 0o755); err != nil {
			return rep, err
		}
		for _, e := range rep.Edits {
			// Precision–recall over thresholds: the edit's copies against
			// its wrong candidates and every negative's candidates.
			all := append(slices.Clone(pr[e]), negScores...)
			sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
			total := rep.PerEdit[e].Total
			if e == "splice" {
				total *= 2
			}
			var pts plotter.XYs
			tp, fp := 0, 0
			for _, x := range all {
				if x.match {
					tp++
				} else {
					fp++
				}
				pts = append(pts, plotter.XY{X: float64(tp) / float64(max(1, total)), Y: float64(tp) / float64(tp+fp)})
			}
			if err := prPlot(e, pts, filepath.Join(cfg.Plots, "copies-pr-"+e+".png")); err != nil {
				return rep, err
			}
		}
		fmt.Fprintf(w, "wrote %d precision–recall plots to %s\n", len(rep.Edits), cfg.Plots)
	}
	return rep, nil
}

// how says which view of the frames aligned: mirrored, a part of the
// query's frame, a crop of the candidate's.
func how(a *search.Alignment) string {
	if a == nil {
		return ""
	}
	s := ""
	if a.Mirrored {
		s += ", mirrored"
	}
	if b := a.QueryBox; b != nil {
		s += fmt.Sprintf(", query box %.2f,%.2f %.2fx%.2f", b.X, b.Y, b.W, b.H)
	}
	if b := a.Box; b != nil {
		s += fmt.Sprintf(", its crop %.2f,%.2f %.2fx%.2f", b.X, b.Y, b.W, b.H)
	}
	return s
}

func prPlot(edit string, pts plotter.XYs, path string) error {
	p := plot.New()
	p.Title.Text = "Copy detection: " + edit
	p.X.Label.Text = "recall"
	p.Y.Label.Text = "precision"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	if len(pts) > 0 {
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = color.RGBA{R: 40, G: 120, B: 220, A: 255}
		p.Add(l)
	}
	return p.Save(5*vg.Inch, 4*vg.Inch, path)
}

// every returns about n of xs, evenly spread.
func every[T any](xs []T, n int) []T {
	if n >= len(xs) {
		return xs
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, xs[i*len(xs)/n])
	}
	return out
}

// parallel runs tasks, n at a time, and returns the first error.
func parallel(ctx context.Context, n int, tasks []func() error) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	var mu sync.Mutex
	var errs []string
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := t(); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d failed, first: %s", len(errs), len(tasks), errs[0])
	}
	return ctx.Err()
}
