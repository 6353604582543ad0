package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/realclips"
	"github.com/mediavec/mediavec/search"
)

// CalibrationConfig sets `mediavec bench calibration`.
type CalibrationConfig struct {
	ModelsDir, ORTLib string
	Dir               string // clips and index; a temporary folder when empty
	Write             string // where to write the fitted calibration JSON; none when empty
	Plots             string // folder for the PNG plots; none when empty
	Samples           string // where to write every labelled pair as JSON lines; none when empty
	Log               io.Writer
}

// calHeldOut is the fold the figures are reported on; the others fit.
const calHeldOut = CalFolds - 1

// calL2 are the regularisation strengths tried, per sample weight (the
// samples' weights sum to their number).
var calL2 = []float64{0.01, 0.1, 0.3, 1, 3, 10}

// CalReport is what the calibration benchmark measured on the held-out
// fold.
type CalReport struct {
	Calibration search.Calibration
	Held        CalEval
}

// CalEval is a calibration judged on labelled pairs.
type CalEval struct {
	Matches, NonMatches int
	AUC                 float64
	Kept                float64            // share of matches at or over the floor
	False               float64            // share of non-matches at or over the floor
	PerKind             map[string]CalEval // by query family: video, image, text, words, like
	Misses, FalseHits   []string
}

// EvaluateCalibration scores samples with cal and judges it at its floor.
func EvaluateCalibration(cal search.Calibration, samples []CalSample) CalEval {
	return evaluate(cal, samples, true)
}

func evaluate(cal search.Calibration, samples []CalSample, perKind bool) CalEval {
	var e CalEval
	var scores []float64
	var labels []bool
	kept, falseHits := 0, 0
	for _, s := range samples {
		p := cal.Score(s.Kind, s.Searched, s.Sims)
		scores = append(scores, p)
		labels = append(labels, s.Match)
		if s.Match {
			e.Matches++
			if p >= cal.MinScore {
				kept++
			} else {
				e.Misses = append(e.Misses, fmt.Sprintf("%s → %s %.3f", s.Query, s.Video, p))
			}
		} else {
			e.NonMatches++
			if p >= cal.MinScore {
				falseHits++
				e.FalseHits = append(e.FalseHits, fmt.Sprintf("%s → %s %.3f", s.Query, s.Video, p))
			}
		}
	}
	e.AUC = search.AUC(scores, labels)
	e.Kept = float64(kept) / float64(max(1, e.Matches))
	e.False = float64(falseHits) / float64(max(1, e.NonMatches))
	if perKind {
		e.PerKind = map[string]CalEval{}
		for _, s := range samples {
			f := family(s.Query)
			if _, done := e.PerKind[f]; !done {
				e.PerKind[f] = evaluate(cal, slices.DeleteFunc(slices.Clone(samples), func(s CalSample) bool { return family(s.Query) != f }), false)
			}
		}
	}
	return e
}

// family is a query's family, from its name: video (an edited copy),
// image (a screenshot), text (a paraphrase), words (the title's words),
// like.
func family(query string) string {
	f, _, _ := strings.Cut(query, ":")
	return f
}

func kinds(samples []CalSample) []string {
	var out []string
	for _, s := range samples {
		if !slices.Contains(out, s.Kind) {
			out = append(out, s.Kind)
		}
	}
	sort.Strings(out)
	return out
}

// fitCalibration fits a model per kind with strength l2. Each pair also
// counts with every smaller set of its searched spaces (as a query
// restricted to some spaces, or a deployment without some models, would
// search): the full set weighs half the pair, its subsets share the other
// half, so a query of one space is calibrated too while the common case
// keeps most of the fit.
func fitCalibration(samples []CalSample, l2, floor float64) search.Calibration {
	cal := search.Calibration{MinScore: floor, Kinds: map[string]search.Model{}}
	for _, k := range kinds(samples) {
		var ks []search.Sample
		for _, s := range samples {
			if s.Kind == k {
				ks = append(ks, withSubsets(s.Sample)...)
			}
		}
		cal.Kinds[k] = search.Fit(ks, l2)
	}
	return cal
}

// withSubsets is s, weighted half, and s restricted to each non-empty
// proper subset of its searched spaces, sharing the other half.
func withSubsets(s search.Sample) []search.Sample {
	n := len(s.Searched)
	if n <= 1 {
		return []search.Sample{s}
	}
	full := s
	full.Weight = 0.5
	out := []search.Sample{full}
	subsets := 1<<n - 2
	for mask := 1; mask < 1<<n-1; mask++ {
		sub := s
		sub.Searched = nil
		for i, sp := range s.Searched {
			if mask&(1<<i) != 0 {
				sub.Searched = append(sub.Searched, sp)
			}
		}
		sub.Weight = 0.5 / float64(subsets)
		out = append(out, sub)
	}
	return out
}

// logLoss is the mean negative log-likelihood of samples under cal, each
// class weighted to half, as the fit weighs them.
func logLoss(cal search.Calibration, samples []CalSample) float64 {
	var pos, neg, lp, ln float64
	for _, s := range samples {
		p := min(max(cal.Score(s.Kind, s.Searched, s.Sims), 1e-9), 1-1e-9)
		if s.Match {
			pos++
			lp -= math.Log(p)
		} else {
			neg++
			ln -= math.Log(1 - p)
		}
	}
	return 0.5*lp/max(1, pos) + 0.5*ln/max(1, neg)
}

// CalFloor is the default floor: a result is shown when the calibrated
// probability that it is the query's content is at least even.
const CalFloor = 0.5

// Calibration builds the calibration set from real media, picks the
// regularisation by cross-validation between the fitting folds, fits a
// model per query kind on them, and reports on the held-out fold: AUC, the
// share of matches the floor keeps and of non-matches it lets through,
// per kind, with every miss and false hit named. It writes the fitted
// calibration (cfg.Write) and the plots (cfg.Plots) when asked.
func Calibration(ctx context.Context, cfg CalibrationConfig, w io.Writer) (CalReport, error) {
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mediavec-bench-calibration-*")
		if err != nil {
			return CalReport{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	a, closeModels, err := app.LoadAnalyzer(app.Config{ModelsDir: cfg.ModelsDir, ORTLib: cfg.ORTLib})
	if err != nil {
		return CalReport{}, err
	}
	defer closeModels()
	sources := realclips.Sources()
	samples, err := CalibrationSet(ctx, a, sources, realclips.Unindexed, func(int) bool { return true }, dir, log)
	if err != nil {
		return CalReport{}, err
	}
	if cfg.Samples != "" {
		if err := writeSamples(cfg.Samples, samples); err != nil {
			return CalReport{}, err
		}
	}
	var fitting, held []CalSample
	for _, s := range samples {
		if s.Fold == calHeldOut {
			held = append(held, s)
		} else {
			fitting = append(fitting, s)
		}
	}

	// The strength that generalises best between the fitting folds.
	best, bestLoss := calL2[0], math.Inf(1)
	for _, l2 := range calL2 {
		loss := 0.0
		for f := range calHeldOut {
			var in, out []CalSample
			for _, s := range fitting {
				if s.Fold == f {
					out = append(out, s)
				} else {
					in = append(in, s)
				}
			}
			loss += logLoss(fitCalibration(in, l2, CalFloor), out)
		}
		fmt.Fprintf(log, "calibration: l2 %g: cross-validated log-loss %.4f\n", l2, loss/calHeldOut)
		if loss < bestLoss {
			best, bestLoss = l2, loss
		}
	}
	cal := fitCalibration(fitting, best, CalFloor)
	cal.Trained = fmt.Sprintf("mediavec bench calibration: %d sources (%d indexed), %d labelled pairs of folds 0–%d, l2 %g", len(sources), len(sources)-realclips.Unindexed, len(fitting), calHeldOut-1, best)
	report := CalReport{Calibration: cal, Held: EvaluateCalibration(cal, held)}

	pos := 0
	for _, s := range samples {
		if s.Match {
			pos++
		}
	}
	fmt.Fprintf(w, "calibration: %d sources from opencv-doc and scikit-image (%d never indexed), %d labelled pairs (%d matches, %d non-matches)\n",
		len(sources), realclips.Unindexed, len(samples), pos, len(samples)-pos)
	fmt.Fprintf(w, "fitted on folds 0–%d (%d pairs), l2 %g by cross-validation; held-out fold %d (%d pairs, other content):\n",
		calHeldOut-1, len(fitting), best, calHeldOut, len(held))
	writeEval(w, report.Held, cal.MinScore)
	if cfg.Write != "" {
		b, err := json.MarshalIndent(cal, "", "  ")
		if err != nil {
			return report, err
		}
		if err := os.WriteFile(cfg.Write, append(b, '\n'), 0o644); err != nil {
			return report, err
		}
		fmt.Fprintf(w, "wrote %s\n", cfg.Write)
	}
	if cfg.Plots != "" {
		if err := calPlots(cal, held, cfg.Plots, w); err != nil {
			return report, err
		}
	}
	return report, nil
}

func writeSamples(path string, samples []CalSample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, s := range samples {
		if err := enc.Encode(s); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func writeEval(w io.Writer, e CalEval, floor float64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "QUERIES\tMATCHES\tNON-MATCHES\tROC AUC\tKEPT ≥ %.2f\tNON-MATCHES ≥ %.2f\n", floor, floor)
	row := func(k string, e CalEval) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%.3f\t%.4f\n", k, e.Matches, e.NonMatches, e.AUC, e.Kept, e.False)
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range e.PerKind {
			if !yield(k) {
				return
			}
		}
	}) {
		row(k, e.PerKind[k])
	}
	row("all", e)
	tw.Flush()
	if len(e.Misses) > 0 {
		fmt.Fprintf(w, "matches under the floor: %s\n", strings.Join(e.Misses, "; "))
	}
	if len(e.FalseHits) > 0 {
		fmt.Fprintf(w, "non-matches at or over the floor: %s\n", strings.Join(e.FalseHits, "; "))
	}
}

// calPlots writes the score distributions of matches and non-matches and
// the reliability curve (predicted probability against the share of
// matches per bin, the two classes weighted equal) of the held-out pairs.
func calPlots(cal search.Calibration, held []CalSample, dir string, w io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const bins = 20
	var mh, nh [bins]float64
	var sumP, nMatch, nNon, nAll [10]float64
	var mCount, nCount float64
	for _, s := range held {
		p := cal.Score(s.Kind, s.Searched, s.Sims)
		b := min(int(p*bins), bins-1)
		if s.Match {
			mh[b]++
			mCount++
		} else {
			nh[b]++
			nCount++
		}
		r := min(int(p*10), 9)
		sumP[r] += p
		nAll[r]++
		if s.Match {
			nMatch[r]++
		} else {
			nNon[r]++
		}
	}
	p := plot.New()
	p.Title.Text = "Calibrated score, held-out pairs"
	p.X.Label.Text = "score"
	p.Y.Label.Text = "share of the class"
	hist := func(h [bins]float64, n float64, c color.Color, off vg.Length) (*plotter.BarChart, error) {
		vals := make(plotter.Values, bins)
		for i := range h {
			vals[i] = h[i] / max(1, n)
		}
		bc, err := plotter.NewBarChart(vals, vg.Points(7))
		if err != nil {
			return nil, err
		}
		bc.Color, bc.LineStyle.Width, bc.Offset = c, 0, off
		return bc, nil
	}
	m, err := hist(mh, mCount, color.RGBA{R: 40, G: 120, B: 220, A: 255}, -vg.Points(3.5))
	if err != nil {
		return err
	}
	n, err := hist(nh, nCount, color.RGBA{R: 220, G: 90, B: 40, A: 255}, vg.Points(3.5))
	if err != nil {
		return err
	}
	p.Add(m, n)
	p.Legend.Add(fmt.Sprintf("matches (%d)", int(mCount)), m)
	p.Legend.Add(fmt.Sprintf("non-matches (%d)", int(nCount)), n)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(40)
	labels := make([]string, bins)
	for i := range labels {
		if i%4 == 0 {
			labels[i] = fmt.Sprintf("%.1f", float64(i)/bins)
		}
	}
	p.NominalX(labels...)
	scores := filepath.Join(dir, "calibration-scores.png")
	if err := p.Save(7*vg.Inch, 4*vg.Inch, scores); err != nil {
		return err
	}

	r := plot.New()
	r.Title.Text = "Reliability, held-out pairs"
	r.X.Label.Text = "mean predicted probability (bins of 0.1)"
	r.Y.Label.Text = "share of matches, classes weighted equal"
	r.X.Min, r.X.Max, r.Y.Min, r.Y.Max = 0, 1, 0, 1
	var pts plotter.XYs
	for i := range sumP {
		if nAll[i] > 0 {
			// The score is the probability of a match with the classes
			// equally likely, so the observed share is weighted so too.
			m, n := nMatch[i]/max(1, mCount), nNon[i]/max(1, nCount)
			pts = append(pts, plotter.XY{X: sumP[i] / nAll[i], Y: m / (m + n)})
		}
	}
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return err
	}
	diag.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	r.Add(diag, line, points)
	reliability := filepath.Join(dir, "calibration-reliability.png")
	if err := r.Save(5*vg.Inch, 5*vg.Inch, reliability); err != nil {
		return err
	}
	fmt.Fprintf(w, "plots: %s, %s\n", scores, reliability)
	return nil
}
