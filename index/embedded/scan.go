package embedded

import (
	"container/heap"
	"context"
	"sync"

	"github.com/mediavec/mediavec/index"
)

// quantRows is the slab size from which a query scans the int8 codes
// first: below it the float32 slab fits in cache and the plain scan wins.
const quantRows = 32768

// boundSlack absorbs float32 rounding in the bound and in the rescored
// dot products; the rounding of a dot product grows with its length.
func boundSlack(dim int) float32 { return 1e-5 + float32(dim)/(1<<22) }

// scanQuantized answers exactly what scanExact answers, reading a quarter
// of the bytes:
//
//  1. int8 dot products of the quantised query with every row (AVX2),
//     split across workers: approx(r) = raw(r)·scale_q·scale_r;
//  2. the rows with the best approx scores (that pass the filter) are
//     rescored in float32 and offered: this gives an admission score A
//     that the final result's worst score cannot fall below;
//  3. |q·v − approx(r)| ≤ ε_q(1+ε_r) + ε_r, where ε are the quantisation
//     errors (‖q‖ = ‖v‖ = 1), so a row whose approx plus that bound is
//     below A cannot be in the result; every other row is rescored.
//
// For grouped queries a row above the bound brings in its whole video, so
// every video that can be in the result is scored exactly.
func (e *Index) scanQuantized(ctx context.Context, c *collection, s *slab, q []float32, qu index.Query, newCol func() collector, col collector) error {
	n := len(s.pts)
	qc, qscale, qeps := quantize(q, s.pdim)
	raw := make([]int32, n)
	workers := max(1, e.scanWorkers)
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		if lo >= hi {
			continue
		}
		wg.Go(func() { dotsInt8(qc, s.codes[lo*s.pdim:hi*s.pdim], s.pdim, raw[lo:hi]) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	f, threshold := qu.Filter, qu.ScoreThreshold
	rescored := map[int]struct{}{}
	rescore := func(r int) {
		rescored[r] = struct{}{}
		score := dot(q, s.vecs[r*s.dim:(r+1)*s.dim])
		if threshold == nil || score >= *threshold {
			col.offer(s.pts[r], score)
		}
	}

	seeds := make(approxHeap, 0, 64)
	seedN := max(64, 8*qu.Limit)
	for r := range n {
		a := float32(raw[r]) * qscale * s.scales[r]
		if len(seeds) == seedN && a <= seeds[0].a {
			continue
		}
		if !f.Match(&s.pts[r].payload) {
			continue
		}
		if len(seeds) == seedN {
			seeds[0] = approxRow{r, a}
			heap.Fix(&seeds, 0)
		} else {
			heap.Push(&seeds, approxRow{r, a})
		}
	}
	for _, sd := range seeds {
		rescore(sd.r)
	}
	admit, ok := col.admission()
	if threshold != nil && (!ok || *threshold > admit) {
		admit, ok = *threshold, true
	}
	if !ok {
		// Too few results to bound anything (a filter that passes few
		// points, fewer videos than asked for): score the rest exactly.
		return e.scanExact(ctx, s, q, qu, newCol, col, rescored)
	}
	videos := map[string]struct{}{}
	slack := boundSlack(s.dim)
	for r := range n {
		a := float32(raw[r]) * qscale * s.scales[r]
		if a+qeps*(1+s.eps[r])+s.eps[r]+slack < admit {
			continue
		}
		sp := s.pts[r]
		if col.wholeVideos() {
			// Every video in the result has its best point above the
			// bound, seeds included: score those videos whole, so their
			// groups are exact too.
			if f.Match(&sp.payload) {
				videos[sp.payload.VideoID] = struct{}{}
			}
			continue
		}
		if _, done := rescored[r]; done || !f.Match(&sp.payload) {
			continue
		}
		rescore(r)
	}
	for v := range videos {
		for sp := range c.byVideo[v] {
			r, ok := s.row[sp]
			if !ok {
				continue
			}
			if _, done := rescored[r]; done || !f.Match(&sp.payload) {
				continue
			}
			rescore(r)
		}
	}
	return ctx.Err()
}

type approxRow struct {
	r int
	a float32
}

// approxHeap is a min-heap on the approximate score.
type approxHeap []approxRow

func (h approxHeap) Len() int           { return len(h) }
func (h approxHeap) Less(i, j int) bool { return h[i].a < h[j].a }
func (h approxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *approxHeap) Push(x any)        { *h = append(*h, x.(approxRow)) }
func (h *approxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
