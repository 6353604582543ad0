package search

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
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
// near-duplicate test set (neardup_quality_test.go) copies score 0.97 at
// the median after re-encoding, scaling, cropping, overlays, trimming and
// speed changes, and unrelated clips 0.19, with the closest unrelated pair
// (two different colour-bar patterns) at 0.73. Ranking does not depend on
// it: lower it to catch heavily edited copies, raise it for precision.
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
}

// maxQueryFrames bounds the query frames a near-duplicate query aligns.
const maxQueryFrames = 240

// candidatesPerFrame is how many segments of one candidate video each
// query frame may pair with: more than one, so alignment can choose the
// one that keeps time in order.
const candidatesPerFrame = 4

type pair struct {
	q, c   float64 // query and candidate frame times
	qe, ce float64 // their ends
	score  float32
	hit    index.Hit
	qi     int
}

// NearDuplicates finds copies of the video (or image) read from r: every
// query frame pairs with its closest frames in each candidate, and the
// best chain of pairs that keeps time in order on both sides (a trimmed,
// re-cut or sped-up copy still aligns; a video that merely shares some
// frames in another order does not) scores the candidate: the sum of the
// chain's similarities over the number of query frames.
func (s *Searcher) NearDuplicates(ctx context.Context, r io.Reader, name string, opts NearDupOptions) (Response, error) {
	if opts.Threshold <= 0 {
		opts.Threshold = DefaultNearDupThreshold
	}
	opts.Limit = min(cmp.Or(max(opts.Limit, 0), DefaultLimit), MaxLimit)
	opts.Filter.ExcludeUnsafe = opts.Filter.ExcludeUnsafe || opts.Safe
	space := encoders.SpaceFrameDCT
	res, err := s.analyzer.Reader(ctx, r, name, analyze.Options{Spaces: []string{space}, DecodeThreads: opts.DecodeThreads})
	if err != nil {
		return Response{}, err
	}
	var frames []analyze.Segment
	for _, seg := range res.Segments {
		if seg.Space == space {
			frames = append(frames, seg)
		}
	}
	if len(frames) == 0 {
		return Response{}, fmt.Errorf("%w: no video frame", ErrEmptyQuery)
	}
	// Alignment is quadratic in a candidate's pairs: a long query is
	// thinned evenly to maxQueryFrames, which still aligns minutes of
	// video at one frame every few seconds.
	if len(frames) > maxQueryFrames {
		thinned := make([]analyze.Segment, maxQueryFrames)
		for i := range thinned {
			thinned[i] = frames[i*len(frames)/maxQueryFrames]
		}
		frames = thinned
	}
	pairs := map[string][]pair{}
	source := map[string]string{}
	for qi, f := range frames {
		groups, err := s.ix.QueryGroups(ctx, index.Query{
			Collection: index.Segments, Using: space, Dense: f.Vector, Limit: max(50, 5*opts.Limit), Filter: opts.Filter,
		}, candidatesPerFrame)
		if err != nil {
			return Response{}, fmt.Errorf("near-duplicates: %w", err)
		}
		for _, g := range groups {
			source[g.VideoID] = g.Hits[0].Payload.Source
			for _, h := range g.Hits {
				pairs[g.VideoID] = append(pairs[g.VideoID], pair{
					q: f.Start.Seconds(), qe: f.End.Seconds(), c: h.Payload.TStart, ce: h.Payload.TEnd,
					score: h.Score, hit: h, qi: qi,
				})
			}
		}
	}
	var results []Result
	below := 0
	for video, ps := range pairs {
		if err := ctx.Err(); err != nil {
			return Response{}, err
		}
		chain, total := align(ps)
		score := total / float64(len(frames))
		if score < opts.Threshold {
			below++
			continue
		}
		r := Result{VideoID: video, Score: score, Source: source[video], Spaces: map[string]float64{space: score}, Labels: []string{}}
		for _, p := range chain {
			r.Matches = append(r.Matches, Match{Space: space, TStart: p.c, TEnd: p.ce, QueryTStart: p.q, QueryTEnd: p.qe, Score: p.score})
		}
		r.Alignment = fit(chain, len(frames))
		results = append(results, r)
	}
	sort.Slice(results, func(i, j int) bool {
		if results[i].Score != results[j].Score {
			return results[i].Score > results[j].Score
		}
		return results[i].VideoID < results[j].VideoID
	})
	if len(results) > opts.Limit {
		results = results[:opts.Limit]
	}
	return s.finish(ctx, Response{Results: results, Kind: KindNearDuplicates, Searched: []string{space}, MinScore: opts.Threshold, Below: below})
}

// align returns the heaviest chain of pairs in which both the query frame
// and the candidate time strictly increase, and its total similarity
// (dynamic programming over pairs sorted by query frame: O(n²) for the
// few hundred pairs a clip has).
func align(ps []pair) ([]pair, float64) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].qi != ps[j].qi {
			return ps[i].qi < ps[j].qi
		}
		return ps[i].c < ps[j].c
	})
	best := make([]float64, len(ps))
	prev := make([]int, len(ps))
	end := -1
	for i := range ps {
		best[i], prev[i] = float64(ps[i].score), -1
		for j := 0; j < i; j++ {
			if ps[j].qi < ps[i].qi && ps[j].c < ps[i].c && best[j]+float64(ps[i].score) > best[i] {
				best[i], prev[i] = best[j]+float64(ps[i].score), j
			}
		}
		if end < 0 || best[i] > best[end] {
			end = i
		}
	}
	if end < 0 {
		return nil, 0
	}
	var chain []pair
	for i := end; i >= 0; i = prev[i] {
		chain = append(chain, ps[i])
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, best[end]
}

// fit is the least-squares line candidate time = Speed·query time + Offset
// through the chain.
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
	return a
}
