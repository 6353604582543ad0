package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/vecmath"
)

// NearDupOptions shape a near-duplicate query.
type NearDupOptions struct {
	// Threshold is the lowest alignment score reported, in [0, 1].
	// Defaults to DefaultNearDupThreshold.
	Threshold float64
	// Limit is the most videos returned. Defaults to DefaultLimit.
	Limit int
	// Filter restricts the candidate segments.
	Filter index.Filter
	// Safe leaves out the videos judged unsafe (Options.Safe).
	Safe bool
	// DecodeThreads is Options.DecodeThreads.
	DecodeThreads int
}

// DefaultNearDupThreshold is where a candidate counts as a copy. On the
// copy-detection set (`mediavec bench copies`: 24 real sources under 18
// repost edits, 24 negatives, 24 trend-sound clips) copies score 0.96 to
// 1.00 at the median per edit, and the figures in docs/search.md are at
// this threshold. Ranking does not depend on it: lower it to catch
// heavier edits, raise it for precision.
const DefaultNearDupThreshold = 0.75

// Alignment says how a near-duplicate lines up with the query: a query
// moment at t is the candidate's moment Speed·t + Offset.
type Alignment struct {
	// Coverage is the fraction of query frames that found their place in
	// the candidate, in order.
	Coverage float64 `json:"coverage"`
	Offset   float64 `json:"offset"`
	Speed    float64 `json:"speed"`
	Pairs    int     `json:"pairs"`
	// QueryStart–QueryEnd and Start–End are the aligned ranges of the
	// query and the candidate, in seconds: in a splice of two sources,
	// each source's own part.
	QueryStart float64 `json:"query_t_start"`
	QueryEnd   float64 `json:"query_t_end"`
	Start      float64 `json:"t_start"`
	End        float64 `json:"t_end"`
	// QueryBox is the part of the query's frame that matched, when it was
	// not the whole frame: the picture inside a reframe's fill or a
	// letterbox's bars, or a picture-in-picture.
	QueryBox *Box `json:"query_box,omitempty"`
	// Box is the part of the candidate's frame the query shows, when the
	// query is a crop of it.
	Box *Box `json:"box,omitempty"`
	// Mirrored says the query is the candidate flipped left to right.
	Mirrored bool `json:"mirrored,omitempty"`
}

// Box is a rectangle of a frame, in fractions of its width and height
// from the top left.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// AudioReuse says a candidate's soundtrack plays under the query: the
// aligned ranges on both sides, and the fingerprints' agreement over them
// (1 − 2 × their bit error rate: 0 for unrelated audio, 1 identical).
type AudioReuse struct {
	Score      float64 `json:"score"`
	QueryStart float64 `json:"query_t_start"`
	QueryEnd   float64 `json:"query_t_end"`
	Start      float64 `json:"t_start"`
	End        float64 `json:"t_end"`
}

// maxQueryFrames bounds the query frames a near-duplicate query aligns.
const maxQueryFrames = 240

// Candidates come from the index: retrievalFrames of the query's frames,
// spread over it, each asks with every whole-frame and aspect view (and
// their mirrors) for its retrievalVideos closest videos, and
// windowFrames of them also with the pictures in picture their frames
// show. Every candidate is then verified on all its frames.
const (
	retrievalFrames = 6
	windowFrames    = 2
	retrievalVideos = 10
	maxCandidates   = 40
	// maxCandidateFrames bounds the frames of one candidate read back
	// for verification (an hour at fps=1).
	maxCandidateFrames = 3600
)

// pairFloor is the similarity under which a query frame and a candidate
// frame are not the same picture: unrelated frames score 0.2 at the
// median, copies 0.8–1.
const pairFloor = 0.5

// Every way the query may show a candidate is one more try at a chance
// match, so the pairs of a variant tried many times need more: the whole
// frame and its mirror image pairFloor; the content, aspect and
// picture-in-picture views (a few a frame) viewFloor; crops and regions
// rebuilt from the 16×16 lowest frequencies (135 crops a frame, and
// smooth pictures alike at those frequencies) cropFloor. On the copy
// set, the copies these views find score 0.92–1.00 at the median pair.
const (
	viewFloor = 0.85
	cropFloor = 0.85
)

// variantFloor is the pair floor of a variant.
func variantFloor(v variant) float64 {
	if v.kind == "" {
		return pairFloor
	}
	return viewFloor
}

// candidateFloor is the least similarity of a candidate's closest frame
// to some query frame for it to be verified: under pairFloor, since a
// crop of the candidate is only compared in verification.
const candidateFloor = 0.3

// minCopyFrames is how many query frames a copy must span to score in
// full: a shorter alignment's score is scaled down in proportion, so one
// chance match of one frame is not a copy.
const minCopyFrames = 3

// variant is one way the query may show a candidate: a part of its frame
// (encoders.Whole, a content box, an aspect box or a window), mirrored or
// not.
type variant struct {
	key      string
	kind     string
	box      encoders.Box
	mirrored bool
}

// queryFrame is one sampled frame of the query: its vector in each
// variant (nil where the frame has none, e.g. no content box).
type queryFrame struct {
	start, end float64
	vecs       [][]float32
}

// candidateFrame is one indexed frame of a candidate video.
type candidateFrame struct {
	start, end float64
	vec        []float32
}

// NearDuplicates finds copies of the video (or image) read from r.
// Candidates come from the index (whole frames, their mirror images, the
// picture inside bars or a fill, picture-in-picture windows); each is
// verified against all its frames: for every way the query may show it,
// the best chain of frame pairs that keeps time in order on both sides
// (a trimmed, re-cut, sped-up or slowed copy still aligns; a video that
// merely shares some frames in another order does not). Its score is the
// chain's similarity summed over the query frames it spans (at least
// minCopyFrames of them), so a copy of part of the query — one source of a
// splice — scores what that part matches.
func (s *Searcher) NearDuplicates(ctx context.Context, r io.Reader, name string, opts NearDupOptions) (Response, error) {
	if opts.Threshold <= 0 {
		opts.Threshold = DefaultNearDupThreshold
	}
	opts.Limit = min(cmp.Or(max(opts.Limit, 0), DefaultLimit), MaxLimit)
	opts.Filter.ExcludeUnsafe = opts.Filter.ExcludeUnsafe || opts.Safe
	space := encoders.SpaceFrameDCT
	spaces := []string{space, encoders.SpaceAudioPrint}
	res, err := s.analyzer.Reader(ctx, r, name, analyze.Options{Spaces: spaces, DecodeThreads: opts.DecodeThreads, CopyQuery: true})
	if err != nil {
		return Response{}, err
	}
	var segs, prints []analyze.Segment
	for _, seg := range res.Segments {
		switch seg.Space {
		case space:
			segs = append(segs, seg)
		case encoders.SpaceAudioPrint:
			prints = append(prints, seg)
		}
	}
	if len(segs) == 0 && len(prints) == 0 {
		return Response{}, fmt.Errorf("%w: no video frame and no audio long enough to fingerprint", ErrEmptyQuery)
	}
	// Verification costs the query's frames × each candidate's, per
	// view: a long query is thinned evenly to maxQueryFrames, which still
	// aligns minutes of video at one frame every few seconds.
	if len(segs) > maxQueryFrames {
		thinned := make([]analyze.Segment, maxQueryFrames)
		for i := range thinned {
			thinned[i] = segs[i*len(segs)/maxQueryFrames]
		}
		segs = thinned
	}
	variants, frames := queryVariants(segs)

	byVideo := map[string]*Result{}
	var cands []string
	source := map[string]string{}
	if len(frames) > 0 {
		if cands, source, err = s.copyCandidates(ctx, space, variants, frames, opts); err != nil {
			return Response{}, err
		}
	}
	reuse, audioSource, err := s.audioReuse(ctx, prints, opts)
	if err != nil {
		return Response{}, err
	}
	for v, src := range audioSource {
		source[v] = src
		if !slices.Contains(cands, v) && len(frames) > 0 {
			cands = append(cands, v)
		}
	}
	below := 0
	bands := &queryBands{frames: frames}
	for _, video := range cands {
		cf, err := s.candidateFrames(ctx, space, video)
		if err != nil {
			return Response{}, err
		}
		best, bestScore, bestChain := -1, 0.0, []pair(nil)
		for k := range variants {
			chain, score := alignVariant(frames, k, variantFloor(variants[k]), cf)
			q := func(i int) []float32 { return frames[i].vecs[k] }
			c := func(j int) []float32 { return cf[j].vec }
			if score > bestScore && keepsPace(chain, cf, c) && sameMoments(chain, q, c) {
				best, bestScore, bestChain = k, score, chain
			}
		}
		// A copy that crops and zooms shows part of the candidate's
		// frame: the candidate's crops against the query's whole frames.
		// One with a banner across the top or bottom shows the rest: that
		// region of both.
		var crop, region *encoders.Box
		if bestScore < cropTried {
			if chain, score, box := alignCrops(frames, bands, cf); score > bestScore {
				best, bestScore, bestChain, crop = 0, score, chain, &box
			}
			for k, r := range encoders.Regions {
				if chain, score := alignRegion(frames, bands, cf, k); score > bestScore {
					best, bestScore, bestChain, crop, region = 0, score, chain, nil, &r
				}
			}
		}
		if best < 0 || bestScore < opts.Threshold {
			if reuse[video] == nil {
				below++
				continue
			}
		}
		r := &Result{VideoID: video, Score: bestScore, Source: source[video], Spaces: map[string]float64{space: bestScore}, Labels: []string{}}
		byVideo[video] = r
		if bestScore < opts.Threshold {
			continue // the soundtrack only
		}
		v := variants[best]
		for _, p := range bestChain {
			r.Matches = append(r.Matches, Match{Space: space, TStart: p.c, TEnd: p.ce, QueryTStart: p.q, QueryTEnd: p.qe, Score: p.score})
		}
		r.Alignment = fit(bestChain, len(frames))
		r.Alignment.Mirrored = v.mirrored
		if v.kind != "" {
			b := v.box
			r.Alignment.QueryBox = &Box{X: b.X, Y: b.Y, W: b.W, H: b.H}
		}
		if crop != nil {
			r.Alignment.Box = &Box{X: crop.X, Y: crop.Y, W: crop.W, H: crop.H}
		}
		if b := region; b != nil {
			r.Alignment.QueryBox = &Box{X: b.X, Y: b.Y, W: b.W, H: b.H}
			r.Alignment.Box = &Box{X: b.X, Y: b.Y, W: b.W, H: b.H}
		}
	}
	for video, a := range reuse {
		r := byVideo[video]
		if r == nil {
			r = &Result{VideoID: video, Source: source[video], Spaces: map[string]float64{}, Labels: []string{}}
			byVideo[video] = r
		}
		r.AudioReuse = a
		r.Spaces[encoders.SpaceAudioPrint] = a.Score
	}
	results := make([]Result, 0, len(byVideo))
	for _, r := range byVideo {
		results = append(results, *r)
	}
	// Copies first, by score; then the videos whose soundtrack alone
	// plays under the query, by how well it lines up.
	sort.Slice(results, func(i, j int) bool {
		a, b := results[i], results[j]
		ac, bc := a.Score >= opts.Threshold, b.Score >= opts.Threshold
		if ac != bc {
			return ac
		}
		if !ac && a.AudioReuse != nil && b.AudioReuse != nil && a.AudioReuse.Score != b.AudioReuse.Score {
			return a.AudioReuse.Score > b.AudioReuse.Score
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.VideoID < b.VideoID
	})
	if len(results) > opts.Limit {
		results = results[:opts.Limit]
	}
	return s.finish(ctx, Response{Results: results, Kind: KindNearDuplicates, Searched: spaces, MinScore: opts.Threshold, Below: below})
}

// audioReuse finds the indexed videos whose soundtrack plays under the
// query: windows of the query's fingerprint (one at every
// sub-fingerprint) ask the index for candidates and, with the hits, for
// the offsets worth trying; at each, the candidate's windows are lined up
// with the query's, and the longest run that agrees is the reused sound.
func (s *Searcher) audioReuse(ctx context.Context, prints []analyze.Segment, opts NearDupOptions) (map[string]*AudioReuse, map[string]string, error) {
	space := encoders.SpaceAudioPrint
	out := map[string]*AudioReuse{}
	source := map[string]string{}
	if len(prints) == 0 {
		return out, source, nil
	}
	hops := func(t float64) int { return int(math.Round(t / encoders.AudioPrintHop)) }
	// A stride's worth of consecutive windows at the start, middle and
	// end of the query: one of each run lines up with an indexed window
	// (where no silence was left out).
	asked := map[int]bool{}
	for _, from := range []int{0, len(prints) / 2, len(prints) - encoders.AudioPrintStride} {
		for i := max(from, 0); i < min(max(from, 0)+encoders.AudioPrintStride, len(prints)); i++ {
			asked[i] = true
		}
	}
	offsets := map[string]map[int]bool{} // candidate → offsets seen
	for i := range asked {
		groups, err := s.ix.QueryGroups(ctx, index.Query{
			Collection: index.Segments, Using: space, Dense: prints[i].Vector, Limit: retrievalVideos, Filter: opts.Filter,
		}, 1)
		if errors.Is(err, index.ErrBadVector) {
			// A generation made before audio_print_v1: no fingerprints
			// to compare with.
			return out, source, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("audio reuse: %w", err)
		}
		for _, g := range groups {
			h := g.Hits[0]
			if float64(h.Score) < audioCandidate {
				continue
			}
			if offsets[g.VideoID] == nil {
				offsets[g.VideoID] = map[int]bool{}
			}
			offsets[g.VideoID][hops(h.Payload.TStart)-hops(prints[i].Start.Seconds())] = true
			source[g.VideoID] = h.Payload.Source
		}
	}
	// The query's sub-fingerprints, from its windows' bits.
	query := subprints(prints, hops)
	for video, deltas := range offsets {
		pts, err := s.videoPoints(ctx, space, video)
		if err != nil {
			return nil, nil, fmt.Errorf("audio reuse: %w", err)
		}
		var segs []analyze.Segment
		for _, p := range pts {
			if v := p.Vectors[space]; len(v) == encoders.AudioPrintDim {
				segs = append(segs, analyze.Segment{Start: seconds(p.Payload.TStart), Vector: v})
			}
		}
		cand := subprints(segs, hops)
		var best *AudioReuse
		for delta := range deltas {
			for d := delta - 1; d <= delta+1; d++ {
				if r := audioRun(query, cand, d); r != nil && (best == nil || r.Score > best.Score) {
					best = r
				}
			}
		}
		if best != nil && best.Score >= DefaultAudioReuseThreshold {
			out[video] = best
		}
	}
	return out, source, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// subprints rebuilds the Chromaprint sub-fingerprints behind fingerprint
// windows (each window's bits are 16 consecutive ones), by their place in
// sub-fingerprints.
func subprints(windows []analyze.Segment, hops func(float64) int) map[int]uint32 {
	out := map[int]uint32{}
	for _, w := range windows {
		at := hops(w.Start.Seconds())
		for k := range encoders.AudioPrintWindow {
			if _, ok := out[at+k]; ok {
				continue
			}
			var x uint32
			for b := range 32 {
				if w.Vector[k*32+b] > 0 {
					x |= 1 << b
				}
			}
			out[at+k] = x
		}
	}
	return out
}

// audioRun lines the candidate's sub-fingerprints up with the query's at
// offset delta (candidate − query, in sub-fingerprints) and returns the
// longest stretch over which every window of AudioPrintWindow of them
// agrees at audioRunFloor or more — at least audioMinRun long — with its
// mean agreement (1 − 2 × the bit error rate) and ranges; nil when there
// is none.
func audioRun(query, cand map[int]uint32, delta int) *AudioReuse {
	// Positions present on both sides, in order, less those where either
	// side repeats its last sub-fingerprint: silence and held notes
	// fingerprint the same everywhere.
	var at []int
	for q, x := range query {
		y, ok := cand[q+delta]
		if !ok {
			continue
		}
		if px, ok := query[q-1]; ok && px == x {
			continue
		}
		if py, ok := cand[q+delta-1]; ok && py == y {
			continue
		}
		at = append(at, q)
	}
	slices.Sort(at)
	agree := make([]float64, len(at))
	for i, q := range at {
		agree[i] = 1 - 2*float64(bits.OnesCount32(query[q]^cand[q+delta]))/32
	}
	// A position is in a stretch when the window of AudioPrintWindow
	// positions from it agrees on average, the positions no more than
	// audioMaxGap apart.
	const win = encoders.AudioPrintWindow
	good := make([]bool, len(at))
	for i := 0; i+win <= len(at); i++ {
		sum, gap := 0.0, false
		for k := i; k < i+win; k++ {
			sum += agree[k]
			gap = gap || (k > i && at[k]-at[k-1] > audioMaxGap)
		}
		if !gap && sum/win >= audioRunFloor {
			for k := i; k < i+win; k++ {
				good[k] = true
			}
		}
	}
	var best *AudioReuse
	bestLen := 0
	for i := 0; i < len(at); {
		if !good[i] {
			i++
			continue
		}
		j, sum := i, 0.0
		for j < len(at) && good[j] && (j == i || at[j]-at[j-1] <= audioMaxGap) {
			sum += agree[j]
			j++
		}
		// A stretch shorter than audioFullRun must agree more: a second
		// or two of the same synthetic voice can agree by chance.
		n := at[j-1] - at[i] + 1
		if n < audioFullRun && sum/float64(j-i) < audioShortRunScore {
			i = j
			continue
		}
		if n >= audioMinRun && n > bestLen {
			bestLen = n
			hop := encoders.AudioPrintHop
			best = &AudioReuse{Score: sum / float64(j-i),
				QueryStart: float64(at[i]) * hop, QueryEnd: float64(at[j-1]+1) * hop,
				Start: float64(at[i]+delta) * hop, End: float64(at[j-1]+delta+1) * hop}
		}
		i = j
	}
	return best
}

// audioMaxGap is the most sub-fingerprints a stretch of reused sound may
// skip (about 1 s: the pauses of speech, silence left out of the index).
const audioMaxGap = 8

// audioMinRun is the shortest reused sound reported, in sub-fingerprints
// (16, about 2 s); one shorter than audioFullRun (about 3 s) must agree at
// audioShortRunScore. On the copy set a 2 s stretch of one espeak-ng
// narration agreed with another's at 0.51; reused sound agrees at 0.9
// and more.
const (
	audioMinRun        = 16
	audioFullRun       = 24
	audioShortRunScore = 0.75
)

// audioRunFloor is the agreement a window must keep to stay in a run of
// reused sound: under the reuse threshold, so a voice-over across a few
// windows does not cut the run.
const audioRunFloor = 0.3

// audioCandidate is the least agreement of a query window with an indexed
// window for its video to be lined up (unrelated sound: 0 ± 0.1).
const audioCandidate = 0.3

// queryVariants lists the ways the query may show a candidate, and each
// query frame's vector in each: the whole frame and its mirror image,
// the picture inside bars or a fill and each aspect box (and their
// mirror images), and the picture-in-picture windows.
func queryVariants(segs []analyze.Segment) ([]variant, []queryFrame) {
	variants := []variant{{key: "whole"}, {key: "whole/mirrored", mirrored: true}}
	at := map[string]int{"whole": 0, "whole/mirrored": 1}
	frames := make([]queryFrame, len(segs))
	add := func(i int, v variant, vec []float32) {
		k, ok := at[v.key]
		if !ok {
			k = len(variants)
			at[v.key] = k
			variants = append(variants, v)
		}
		for len(frames[i].vecs) <= k {
			frames[i].vecs = append(frames[i].vecs, nil)
		}
		frames[i].vecs[k] = vec
	}
	for i, seg := range segs {
		frames[i] = queryFrame{start: seg.Start.Seconds(), end: seg.End.Seconds()}
		add(i, variants[0], seg.Vector)
		add(i, variants[1], encoders.MirrorFrameDCT(seg.Vector))
		for _, view := range seg.Views {
			// A window is keyed by the grid cell it was found from: the
			// same picture in picture, frame after frame.
			key := view.Kind
			if view.Kind != encoders.ViewContent {
				key = fmt.Sprintf("%s %.2f,%.2f %.2fx%.2f", view.Kind, view.Cell.X, view.Cell.Y, view.Cell.W, view.Cell.H)
			}
			add(i, variant{key: key, kind: view.Kind, box: view.Box}, view.Vector)
			if view.Kind != encoders.ViewWindow {
				add(i, variant{key: key + "/mirrored", kind: view.Kind, box: view.Box, mirrored: true}, encoders.MirrorFrameDCT(view.Vector))
			}
		}
	}
	for i := range frames {
		for len(frames[i].vecs) < len(variants) {
			frames[i].vecs = append(frames[i].vecs, nil)
		}
	}
	return variants, frames
}

// copyCandidates asks the index for the videos closest to some of the
// query's frames in its variants, best first.
func (s *Searcher) copyCandidates(ctx context.Context, space string, variants []variant, frames []queryFrame, opts NearDupOptions) ([]string, map[string]string, error) {
	best := map[string]float32{}
	source := map[string]string{}
	n := min(len(frames), retrievalFrames)
	for f := range n {
		qf := frames[f*len(frames)/n]
		// windowFrames of the n, evenly spread, also ask with windows.
		step := max(1, n/windowFrames)
		windows := f%step == 0 && f/step < windowFrames
		for k, v := range variants {
			vec := qf.vecs[k]
			if vec == nil || (v.kind == encoders.ViewWindow && !windows) {
				continue
			}
			groups, err := s.ix.QueryGroups(ctx, index.Query{
				Collection: index.Segments, Using: space, Dense: vec, Limit: retrievalVideos, Filter: opts.Filter,
			}, 1)
			if err != nil {
				return nil, nil, fmt.Errorf("near-duplicates: %w", err)
			}
			for _, g := range groups {
				if sc := g.Hits[0].Score; sc > best[g.VideoID] {
					best[g.VideoID] = sc
				}
				source[g.VideoID] = g.Hits[0].Payload.Source
			}
		}
	}
	var cands []string
	for v, sc := range best {
		if sc >= candidateFloor {
			cands = append(cands, v)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if best[cands[i]] != best[cands[j]] {
			return best[cands[i]] > best[cands[j]]
		}
		return cands[i] < cands[j]
	})
	if len(cands) > maxCandidates {
		cands = cands[:maxCandidates]
	}
	return cands, source, nil
}

// candidateFrames reads a candidate video's frame vectors back from the
// index, in time order.
func (s *Searcher) candidateFrames(ctx context.Context, space, video string) ([]candidateFrame, error) {
	pts, err := s.videoPoints(ctx, space, video)
	if err != nil {
		return nil, fmt.Errorf("near-duplicates: %w", err)
	}
	out := make([]candidateFrame, 0, len(pts))
	for _, p := range pts {
		if v := p.Vectors[space]; len(v) > 0 {
			out = append(out, candidateFrame{start: p.Payload.TStart, end: p.Payload.TEnd, vec: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out, nil
}

// videoPoints reads a video's segments of one space back from the index,
// vectors included, by their point ids (ordinal 0 up to the count).
func (s *Searcher) videoPoints(ctx context.Context, space, video string) ([]index.Point, error) {
	n, err := s.ix.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{video}, Space: space})
	if err != nil {
		return nil, fmt.Errorf("count %s of %s: %w", space, video, err)
	}
	ids := make([]string, min(n, maxCandidateFrames))
	for i := range ids {
		ids[i] = index.SegmentID(video, space, i)
	}
	pts, err := s.ix.Get(ctx, index.Segments, ids...)
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", space, video, err)
	}
	return pts, nil
}

type pair struct {
	q, c   float64 // query and candidate frame times
	qe, ce float64 // their ends
	score  float32
	qi, cj int // query and candidate frame numbers
}

// alignVariant aligns the query's frames in variant k with a candidate's
// frames: the chain of pairs over pairFloor, query frames strictly in
// order and candidate frames never going back (a slowed copy shows one
// frame of its source several times), that has the most similarity
// above the floor (dynamic programming over the query × candidate
// matrix). It returns the chain and its score: the chain's similarity
// over the query frames it spans, at least minCopyFrames (or all the
// query's, when it has fewer).
func alignVariant(frames []queryFrame, k int, floor float64, cf []candidateFrame) ([]pair, float64) {
	return align(frames, cf, floor, func(i, j int) float32 {
		if q := frames[i].vecs[k]; q != nil {
			return vecmath.Dot(q, cf[j].vec)
		}
		return 0
	})
}

// align finds the chain through the similarities sim(i, j) of query frame
// i and candidate frame j of pairs at floor or over (see alignVariant).
func align(frames []queryFrame, cf []candidateFrame, floor float64, similarity func(i, j int) float32) ([]pair, float64) {
	nq, nc := len(frames), len(cf)
	if nc == 0 {
		return nil, 0
	}
	sim := make([]float32, nq*nc)
	any := false
	for i := range frames {
		for j := range cf {
			s := similarity(i, j)
			sim[i*nc+j] = s
			any = any || float64(s) >= floor
		}
	}
	if !any {
		return nil, 0
	}
	// best[i*nc+j]: the heaviest chain ending with pair (i, j); run[j]:
	// the heaviest chain over earlier query frames ending at a candidate
	// frame ≤ j, and where it ends.
	best := make([]float64, nq*nc)
	from := make([]int, nq*nc)
	run := make([]float64, nc)
	runAt := make([]int, nc)
	for j := range runAt {
		runAt[j] = -1
	}
	end, endScore := -1, 0.0
	for i := range nq {
		for j := range nc {
			s := float64(sim[i*nc+j])
			if s < floor {
				best[i*nc+j] = -1
				continue
			}
			w := s - floor
			best[i*nc+j], from[i*nc+j] = w, -1
			if runAt[j] >= 0 {
				best[i*nc+j], from[i*nc+j] = run[j]+w, runAt[j]
			}
			if best[i*nc+j] > endScore {
				end, endScore = i*nc+j, best[i*nc+j]
			}
		}
		// Fold row i into the running prefix maximum for later rows.
		m, mAt := -1.0, -1
		for j := range nc {
			if b := best[i*nc+j]; b > m && b > 0 {
				m, mAt = b, i*nc+j
			}
			if mAt >= 0 && m > run[j] || (runAt[j] < 0 && mAt >= 0) {
				run[j], runAt[j] = m, mAt
			}
		}
	}
	if end < 0 {
		return nil, 0
	}
	var chain []pair
	total := 0.0
	for at := end; at >= 0; at = from[at] {
		i, j := at/nc, at%nc
		total += float64(sim[at])
		chain = append(chain, pair{q: frames[i].start, qe: frames[i].end, c: cf[j].start, ce: cf[j].end, score: sim[at], qi: i, cj: j})
	}
	slices.Reverse(chain)
	span := chain[len(chain)-1].qi - chain[0].qi + 1
	return chain, total / float64(max(span, min(minCopyFrames, nq)))
}

// Frames of a fixed camera at other moments (the same street, other
// passers-by) match frame by frame as well as a copy does; what differs is
// how the frames change. Over an aligned chain, each side's frames less
// their mean (what moves) correlate near 1 in a copy and near 0 for other
// moments of the same scene. Measured on opencv-doc's vtest: copies
// (graded, HEVC at 300 kb/s, a logo) 0.996–1.000, the same street 66 s
// later 0.016. A chain whose frames barely change on either side (a still,
// a slow zoom) has nothing that moves to compare, and is not judged.
const (
	movingEnergy  = 0.02 // mean squared change of a unit frame vector from the chain's mean
	minMotionCorr = 0.5
)

// A copy plays its source in order at a steady speed: over a candidate
// whose frames change, a chain whose candidate time advances slower than
// minSpeed per second of the query, or strays from its fitted line by
// more than maxStray seconds on average, is one or two moments of a
// moving scene matched again and again (the same street, other
// passers-by), not a copy. A still, whose frames do not change, may be
// held as long as the copy likes.
const (
	minSpeed = 0.5
	maxStray = 1.0
)

// keepsPace reports whether the chain's candidate time follows its query
// time steadily, or the candidate's frames around it barely change.
func keepsPace(chain []pair, cf []candidateFrame, candidate func(int) []float32) bool {
	if len(chain) < minCopyFrames {
		return true
	}
	first, last := chain[0], chain[len(chain)-1]
	span := last.q - first.q
	if span <= 0 {
		return true
	}
	a := fit(chain, len(chain))
	stray := 0.0
	for _, p := range chain {
		stray += math.Abs(p.c-(a.Speed*p.q+a.Offset)) / float64(len(chain))
	}
	if a.Speed >= minSpeed && stray <= maxStray {
		return true
	}
	// The candidate's frames around the chain, a query span either side
	// (a chain held at the candidate's last frame has none after it).
	var near []pair
	for j, f := range cf {
		if f.start >= first.c-span && f.start <= last.c+span {
			near = append(near, pair{cj: j})
		}
	}
	return len(near) < 2 || !changes(near, candidate)
}

// changes reports whether the frames' vectors move away from their mean
// by movingEnergy or more.
func changes(ps []pair, vec func(int) []float32) bool {
	dim := len(vec(ps[0].cj))
	mean := make([]float64, dim)
	for _, p := range ps {
		v := vec(p.cj)
		if len(v) != dim {
			return false
		}
		for d := range dim {
			mean[d] += float64(v[d]) / float64(len(ps))
		}
	}
	var e float64
	for _, p := range ps {
		v := vec(p.cj)
		for d := range dim {
			r := float64(v[d]) - mean[d]
			e += r * r
		}
	}
	return e/float64(len(ps)) >= movingEnergy
}

// sameMoments reports whether the chain's frames change together on both
// sides, or too little to tell.
func sameMoments(chain []pair, query, candidate func(int) []float32) bool {
	if len(chain) < minCopyFrames {
		return true
	}
	dim := len(candidate(chain[0].cj))
	mq, mc := make([]float64, dim), make([]float64, dim)
	for _, p := range chain {
		q, c := query(p.qi), candidate(p.cj)
		if len(q) != dim || len(c) != dim {
			return true
		}
		for d := range dim {
			mq[d] += float64(q[d]) / float64(len(chain))
			mc[d] += float64(c[d]) / float64(len(chain))
		}
	}
	var dot, eq, ec float64
	for _, p := range chain {
		q, c := query(p.qi), candidate(p.cj)
		for d := range dim {
			rq, rc := float64(q[d])-mq[d], float64(c[d])-mc[d]
			dot += rq * rc
			eq += rq * rq
			ec += rc * rc
		}
	}
	n := float64(len(chain))
	if eq/n < movingEnergy || ec/n < movingEnergy {
		return true
	}
	return dot/math.Sqrt(eq*ec) >= minMotionCorr
}

// cropTried is the score under which a candidate's crops are tried: a
// candidate the query already shows whole needs none.
const cropTried = 0.9

// queryBands are the query's whole-frame vectors cut to the frequencies
// a crop or a region of a candidate is compared on: made once a query,
// when the first candidate needs them, not once a candidate.
type queryBands struct {
	frames  []queryFrame
	band    map[int][][]float32 // by band (encoders.BandFrameDCT)
	regions [][][]float32       // by encoders.Regions
}

func (qb *queryBands) cut(band int) [][]float32 {
	if qs, ok := qb.band[band]; ok {
		return qs
	}
	if qb.band == nil {
		qb.band = map[int][][]float32{}
	}
	qs := make([][]float32, len(qb.frames))
	for i, f := range qb.frames {
		qs[i] = encoders.BandFrameDCT(f.vecs[0], band)
	}
	qb.band[band] = qs
	return qs
}

func (qb *queryBands) region(k int) [][]float32 {
	if qb.regions == nil {
		qb.regions = make([][][]float32, len(encoders.Regions))
		for r, box := range encoders.Regions {
			qs := make([][]float32, len(qb.frames))
			for i, f := range qb.frames {
				qs[i] = encoders.RegionFrameDCT(f.vecs[0], box)
			}
			qb.regions[r] = qs
		}
	}
	return qb.regions[k]
}

// alignCrops aligns the query's whole frames with crops of the
// candidate's frames (encoders.FrameCrops), each crop box in turn, and
// returns the best.
func alignCrops(frames []queryFrame, qb *queryBands, cf []candidateFrame) ([]pair, float64, encoders.Box) {
	crops := make([][]encoders.FrameCrop, len(cf))
	for j, c := range cf {
		crops[j] = encoders.FrameCrops(c.vec)
	}
	if len(cf) == 0 || len(crops[0]) == 0 {
		return nil, 0, encoders.Whole
	}
	var bestChain []pair
	bestScore, bestBox := 0.0, encoders.Whole
	for b, c := range crops[0] {
		qs := qb.cut(c.Band)
		crop := func(j int) []float32 {
			if b >= len(crops[j]) {
				return nil
			}
			return crops[j][b].Vector
		}
		chain, score := align(frames, cf, cropFloor, func(i, j int) float32 { return vecmath.Dot(qs[i], crop(j)) })
		if score > bestScore && keepsPace(chain, cf, crop) && sameMoments(chain, func(i int) []float32 { return qs[i] }, crop) {
			bestChain, bestScore, bestBox = chain, score, c.Box
		}
	}
	return bestChain, bestScore, bestBox
}

// alignRegion aligns region k of encoders.Regions of the query's frames
// with the same region of the candidate's, both rebuilt from their
// whole-frame vectors (encoders.RegionFrameDCT).
func alignRegion(frames []queryFrame, qb *queryBands, cf []candidateFrame, k int) ([]pair, float64) {
	qs := qb.region(k)
	cs := make([][]float32, len(cf))
	for j, c := range cf {
		cs[j] = encoders.RegionFrameDCT(c.vec, encoders.Regions[k])
	}
	chain, score := align(frames, cf, cropFloor, func(i, j int) float32 { return vecmath.Dot(qs[i], cs[j]) })
	q := func(i int) []float32 { return qs[i] }
	c := func(j int) []float32 { return cs[j] }
	if !keepsPace(chain, cf, c) || !sameMoments(chain, q, c) {
		return nil, 0
	}
	return chain, score
}

// fit is the least-squares line candidate time = Speed·query time + Offset
// through the chain, and the ranges it covers.
func fit(chain []pair, frames int) *Alignment {
	a := &Alignment{Coverage: float64(len(chain)) / float64(frames), Pairs: len(chain), Speed: 1}
	n := float64(len(chain))
	var sq, sc, sqq, sqc float64
	for _, p := range chain {
		sq += p.q
		sc += p.c
		sqq += p.q * p.q
		sqc += p.q * p.c
	}
	if d := n*sqq - sq*sq; len(chain) >= 2 && d > 1e-9 {
		a.Speed = (n*sqc - sq*sc) / d
	}
	a.Offset = (sc - a.Speed*sq) / n
	if len(chain) > 0 {
		first, last := chain[0], chain[len(chain)-1]
		a.QueryStart, a.QueryEnd, a.Start, a.End = first.q, last.qe, first.c, last.ce
	}
	return a
}

// DefaultAudioReuseThreshold is where an aligned soundtrack counts as
// reused.
const DefaultAudioReuseThreshold = 0.5
