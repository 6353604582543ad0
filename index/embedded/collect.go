package embedded

import (
	"container/heap"
	"sort"

	"github.com/viterin/vek/vek32"

	"github.com/mediavec/mediavec/index"
)

// dot is the cosine of two normalised vectors; vek uses AVX2 where the CPU
// has it.
func dot(a, b []float32) float32 { return vek32.Dot(a, b) }

// collector receives scored points during a scan. A scan split across
// workers gives each its own collector and merges them at the end.
type collector interface {
	// wants reports whether a point with this score could be kept, so the
	// scan can skip the filter for points that could not.
	wants(sp *stored, score float32) bool
	offer(sp *stored, score float32)
	merge(other collector)
	// admission is a score below which no point can change the result
	// any more, and whether there is one yet.
	admission() (float32, bool)
	// wholeVideos reports whether a video that may enter the result must
	// be scored whole (groups), not point by point.
	wholeVideos() bool
}

type scored struct {
	sp    *stored
	score float32
}

// better orders by score, then by id, so equal scores rank the same on
// every backend run.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.sp.id < b.sp.id
}

// topK keeps the k best points.
type topK struct {
	k int
	h minHeap
}

func newTopK(k int) *topK { return &topK{k: k, h: make(minHeap, 0, min(k, 4096)+1)} }

func (t *topK) wants(sp *stored, score float32) bool {
	return len(t.h) < t.k || better(scored{sp, score}, t.h[0])
}

func (t *topK) offer(sp *stored, score float32) {
	if !t.wants(sp, score) {
		return
	}
	heap.Push(&t.h, scored{sp, score})
	if len(t.h) > t.k {
		heap.Pop(&t.h)
	}
}

func (t *topK) admission() (float32, bool) {
	if len(t.h) < t.k {
		return 0, false
	}
	return t.h[0].score, true
}

func (t *topK) wholeVideos() bool { return false }

func (t *topK) merge(o collector) {
	for _, s := range o.(*topK).h {
		t.offer(s.sp, s.score)
	}
}

// sorted returns the kept points, best first.
func (t *topK) sorted() []scored {
	out := append([]scored(nil), t.h...)
	sort.Slice(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}

func (t *topK) hits() []index.Hit {
	s := t.sorted()
	out := make([]index.Hit, len(s))
	for i, x := range s {
		out[i] = index.Hit{ID: x.sp.id, Score: x.score, Payload: x.sp.payload}
	}
	return out
}

// minHeap's root is the worst of the kept points.
type minHeap []scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// groups keeps the best size points of every video; limit videos will be
// returned.
type groups struct {
	size, limit int
	byVideo     map[string]*topK
}

func newGroups(size, limit int) *groups {
	return &groups{size: size, limit: limit, byVideo: map[string]*topK{}}
}

// admission is the best score of the limit-th best video: a video whose
// every point scores below it cannot be in the result.
func (g *groups) admission() (float32, bool) {
	if len(g.byVideo) < g.limit {
		return 0, false
	}
	bests := make([]float32, 0, len(g.byVideo))
	for _, t := range g.byVideo {
		best := t.h[0].score
		for _, x := range t.h {
			best = max(best, x.score)
		}
		bests = append(bests, best)
	}
	sort.Slice(bests, func(i, j int) bool { return bests[i] > bests[j] })
	return bests[g.limit-1], true
}

func (g *groups) wholeVideos() bool { return true }

func (g *groups) wants(sp *stored, score float32) bool {
	t := g.byVideo[sp.payload.VideoID]
	return t == nil || t.wants(sp, score)
}

func (g *groups) offer(sp *stored, score float32) {
	t := g.byVideo[sp.payload.VideoID]
	if t == nil {
		t = newTopK(g.size)
		g.byVideo[sp.payload.VideoID] = t
	}
	t.offer(sp, score)
}

func (g *groups) merge(o collector) {
	for _, t := range o.(*groups).byVideo {
		for _, s := range t.h {
			g.offer(s.sp, s.score)
		}
	}
}

// groups returns the limit videos whose best point is best, each with its
// points best first.
func (g *groups) groups(limit int) []index.Group {
	type ranked struct {
		best scored
		hits []index.Hit
	}
	all := make([]ranked, 0, len(g.byVideo))
	for _, t := range g.byVideo {
		s := t.sorted()
		all = append(all, ranked{best: s[0], hits: t.hits()})
	}
	sort.Slice(all, func(i, j int) bool { return better(all[i].best, all[j].best) })
	if len(all) > limit {
		all = all[:limit]
	}
	out := make([]index.Group, len(all))
	for i, r := range all {
		out[i] = index.Group{VideoID: r.best.sp.payload.VideoID, Hits: r.hits}
	}
	return out
}
