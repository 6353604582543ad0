package analyze

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/vecmath"
)

// plan is one analysis: the stages that run, what each reads, and the one
// decode that feeds them all.
type plan struct {
	req    Request
	decode decode.Config
	stages []planned
}

// planned is a stage chosen for an analysis.
type planned struct {
	stage Stage
	needs Needs
	slots []int // where each of needs.Frames is in decode.Frames
}

// plan chooses the stages for opts: those whose spaces are asked for, and
// those that feed them (OCR and object labels for a text space).
func (a *Analyzer) plan(opts Options) (*plan, error) {
	if opts.Budget < 0 || math.IsNaN(opts.Budget) || math.IsInf(opts.Budget, 0) {
		return nil, fmt.Errorf("analyze: Budget %v is not a CPU-seconds figure of 0 or more", opts.Budget)
	}
	spaces := opts.Spaces
	if len(spaces) == 0 {
		spaces = a.Defaults()
	}
	req := Request{Spaces: spaces, Thumbnails: opts.Thumbnails, Safety: opts.Safety, CopyQuery: opts.CopyQuery, Title: opts.Title, Caption: opts.Caption, Hashtags: opts.Hashtags}
	for _, s := range spaces {
		st, info, ok := a.stageOf(s)
		if !ok {
			return nil, fmt.Errorf("%w %q (have %v)", ErrUnknownSpace, s, a.Loaded())
		}
		if !st.Loaded() {
			return nil, &encoders.Error{Model: s, Op: "select", Err: errors.New("not loaded")}
		}
		if info.Modality == "text" {
			req.Text = true
		}
	}
	p := &plan{req: req, decode: a.cfg.Decode}
	p.decode.Frames = nil
	p.decode.NoAudio, p.decode.NoVideo, p.decode.NoText = true, true, true
	p.decode.ContentHash = opts.Duplicate != nil
	if opts.DecodeThreads > 0 {
		p.decode.Threads = opts.DecodeThreads
	}
	for _, st := range a.stages {
		if !st.Loaded() {
			continue
		}
		needs, ok := st.Needs(req)
		if !ok {
			continue
		}
		pl := planned{stage: st, needs: needs}
		for _, spec := range needs.Frames {
			// One conversion per distinct spec, whoever asks for it.
			k := slices.Index(p.decode.Frames, spec)
			if k < 0 {
				k = len(p.decode.Frames)
				p.decode.Frames = append(p.decode.Frames, spec)
			}
			pl.slots = append(pl.slots, k)
		}
		p.decode.NoVideo = p.decode.NoVideo && len(needs.Frames) == 0
		p.decode.NoAudio = p.decode.NoAudio && !needs.Audio
		p.decode.NoText = p.decode.NoText && !needs.Units
		p.stages = append(p.stages, pl)
	}
	if p.decode.NoVideo && p.decode.NoAudio {
		// Text alone (no OCR or objects loaded): still decode the streams,
		// at the least cost, so that a source that cannot be decoded fails
		// as it would for any other space, and an audio-only one passes.
		p.decode.NoVideo, p.decode.NoAudio = false, false
		p.decode.Frames = []decode.FrameSpec{{Width: 16, Height: 16, Format: decode.Gray}}
	}
	return p, nil
}

func (a *Analyzer) analyze(ctx context.Context, opts Options, decodeWith func(decode.Config) (*decode.Media, error)) (*Result, error) {
	p, err := a.plan(opts)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	var media *decode.Media
	decodeOnce := func() (err error) {
		media, err = decodeWith(p.decode)
		return err
	}
	if opts.Around != nil {
		err = opts.Around("decode", decodeOnce)
	} else {
		err = decodeOnce()
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Info: media.Info, Pooled: map[string][]float32{}, PooledSparse: map[string]encoders.Sparse{},
		Timings: map[string]time.Duration{"decode": time.Since(t0)}, ContentSHA256: media.ContentSHA256}
	if opts.Duplicate != nil && media.ContentSHA256 != "" {
		dup, err := opts.Duplicate(ctx, media.ContentSHA256)
		if err != nil {
			return nil, err
		}
		if dup != "" {
			res.DuplicateOf = dup
			return res, nil
		}
	}
	if opts.Budget > 0 {
		res.Budget = p.fitBudget(media, opts.Budget, res.Timings["decode"])
	}
	t1 := time.Now()
	outs, err := p.run(ctx, media, opts.Around, res.Timings)
	if err != nil {
		return nil, err
	}
	p.merge(outs, res)
	res.Timings["encode"] = time.Since(t1)
	return res, nil
}

// run runs the plan's stages on the decoded media: the first phase side by
// side, then the stages that read its text units. Each stage's output is
// at its index in the plan.
func (p *plan) run(ctx context.Context, media *decode.Media, around func(string, func() error) error, timings map[string]time.Duration) ([]*Output, error) {
	outs := make([]*Output, len(p.stages))
	for _, second := range []bool{false, true} {
		var phase []int
		for i, pl := range p.stages {
			if pl.needs.Units == second {
				phase = append(phase, i)
			}
		}
		if len(phase) == 0 {
			continue
		}
		var units []TextUnit
		if second {
			units = p.units(media, outs)
		}
		if err := p.runPhase(ctx, media, phase, units, outs, around, timings); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// runPhase runs the stages at the indices phase, concurrently unless
// around asks for one at a time. The first failure cancels the others; the
// error returned is the first in stage order, so it does not depend on
// scheduling.
func (p *plan) runPhase(ctx context.Context, media *decode.Media, phase []int, units []TextUnit, outs []*Output, around func(string, func() error) error, timings map[string]time.Duration) error {
	stageCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(p.stages))
	took := make([]time.Duration, len(p.stages))
	runOne := func(i int) {
		pl := p.stages[i]
		in := &Input{Request: p.req, Info: media.Info, Audio: media.Audio.Samples, Units: units, media: media, slots: pl.slots}
		out := &Output{}
		start := time.Now()
		run := func() error { return pl.stage.Run(stageCtx, in, out) }
		var err error
		if around != nil {
			err = around(pl.stage.Name(), run)
		} else {
			err = run()
		}
		took[i] = time.Since(start)
		outs[i], errs[i] = out, err
		if err != nil {
			cancel()
		}
	}
	if around != nil {
		for _, i := range phase {
			if runOne(i); errs[i] != nil {
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		for _, i := range phase {
			wg.Go(func() { runOne(i) })
		}
		wg.Wait()
	}
	for _, i := range phase {
		timings[p.stages[i].stage.Name()] = took[i]
	}
	if err := ctx.Err(); err != nil {
		return err // cancelled or out of time: not a stage's fault
	}
	for _, i := range phase {
		if isFailure(errs[i]) {
			return stageError(p.stages[i].stage, errs[i])
		}
	}
	return nil
}

// isFailure reports whether err is a stage's own failure, not the
// cancellation another failure caused.
func isFailure(err error) bool { return err != nil && !errors.Is(err, context.Canceled) }

// stageError types a stage's failure: a decode or model error as it is,
// anything else as a model error of the stage.
func stageError(st Stage, err error) error {
	var me *encoders.Error
	var de *decode.Error
	if errors.As(err, &me) || errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &encoders.Error{Model: st.Name(), Op: "run", Err: err}
}

// units are the text units the second phase reads: the caller's title,
// caption and hashtags, the container's cues, and what the first phase's
// stages made, by start time (stably, so that at one time the caller's
// text comes first).
func (p *plan) units(media *decode.Media, outs []*Output) []TextUnit {
	var units []TextUnit
	var tags []string
	for _, h := range p.req.Hashtags {
		if h = strings.TrimSpace(h); h != "" {
			tags = append(tags, "#"+strings.TrimPrefix(h, "#"))
		}
	}
	for _, t := range []string{p.req.Title, p.req.Caption, strings.Join(tags, " ")} {
		if t = strings.TrimSpace(t); t != "" {
			units = append(units, TextUnit{Start: 0, End: media.Info.Duration, Text: t, Modality: "text", Times: 1})
		}
	}
	for _, c := range media.Text {
		if t := strings.TrimSpace(c.Text); t != "" {
			units = append(units, TextUnit{Start: c.Start, End: c.End, Text: t, Modality: "text", Times: 1})
		}
	}
	for _, o := range outs {
		if o != nil {
			units = append(units, o.Units...)
		}
	}
	slices.SortStableFunc(units, func(x, y TextUnit) int { return cmp.Compare(x.Start, y.Start) })
	return units
}

// merge puts the stages' outputs together in stage order: their segments
// (only of the spaces asked for), object labels on every frame segment
// sampled when they were seen, and per space the pooled video vector.
func (p *plan) merge(outs []*Output, res *Result) {
	// outs[i] is the output of p.stages[i].
	labels := map[time.Duration][]string{}
	probs := map[time.Duration][]float32{}
	for i, o := range outs {
		maps.Copy(probs, o.Probs)
		if o.Safety != nil {
			res.Safety = o.Safety
		}
		if o.Cut > 0 {
			if res.Cut == nil {
				res.Cut = map[string]int{}
			}
			res.Cut[p.stages[i].stage.Name()] += o.Cut
		}
		res.Segments = append(res.Segments, o.Segments...)
		maps.Copy(labels, o.Labels)
		res.Objects = append(res.Objects, o.Objects...)
		maps.Copy(res.PooledSparse, o.PooledSparse)
		if o.Thumbs != nil {
			if res.Thumbs == nil {
				res.Thumbs = map[int64][]byte{}
			}
			maps.Copy(res.Thumbs, o.Thumbs)
		}
	}
	res.Segments = slices.DeleteFunc(res.Segments, func(s Segment) bool { return !p.req.Wants(s.Space) })
	labelAt, probsAt := carried(labels), carried(probs)
	for i, s := range res.Segments {
		if s.Modality != "frame" {
			continue
		}
		if l, ok := labelAt(s.Start); ok {
			res.Segments[i].Labels = l
		}
		if p, ok := probsAt(s.Start); ok {
			res.Segments[i].Safety = p
		}
	}
	for _, space := range p.req.Spaces {
		if space == encoders.SpaceAudioPrint {
			// An average of fingerprints matches nothing: copies are
			// found window by window.
			continue
		}
		var vecs [][]float32
		for _, s := range res.Segments {
			if s.Space == space && s.Vector != nil {
				vecs = append(vecs, s.Vector)
			}
		}
		if v := vecmath.MeanNormalized(vecs); v != nil {
			res.Pooled[space] = v
		}
	}
}

// carried returns a lookup of what a stage saw in the frame sampled at or
// last before a time: a model that saw only the frames that changed
// (Config.HeavyChange) labels each frame in between with what it saw last.
func carried[V any](byTime map[time.Duration]V) func(time.Duration) (V, bool) {
	times := slices.Sorted(maps.Keys(byTime))
	return func(t time.Duration) (V, bool) {
		i, found := slices.BinarySearch(times, t)
		if !found {
			i--
		}
		if i < 0 {
			var zero V
			return zero, false
		}
		return byTime[times[i]], true
	}
}
