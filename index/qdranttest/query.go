package qdranttest

import (
	"fmt"
	"math"
	"sort"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// status400 is an InvalidArgument raised by Qdrant's gRPC layer itself,
// whose messages carry no "Wrong input:" prefix.
func status400(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, args...))
}

// defaultRRFK is Qdrant's k when a request leaves it out.
const defaultRRFK = 2

type hit struct {
	p     *point
	score float32
}

// stage is one level of a query: the top-level request or a prefetch.
type stage struct {
	prefetch  []*qdrant.PrefetchQuery
	query     *qdrant.Query
	using     string
	filter    *qdrant.Filter
	threshold *float32
	limit     int
}

// run answers one stage, best first. With prefetches, their results are
// the candidates: a fusion ranks them by reciprocal rank, a nearest query
// rescores them. The stage's filter is propagated into each prefetch, as
// Qdrant merges a query's filter into its prefetches.
func (c *collection) run(st stage) ([]hit, error) {
	var lists [][]hit
	for _, pf := range st.prefetch {
		l, err := c.run(stage{
			prefetch: pf.GetPrefetch(), query: pf.GetQuery(), using: pf.GetUsing(),
			filter: both(st.filter, pf.GetFilter()), threshold: pf.ScoreThreshold,
			limit: int(valueOr(pf.Limit, 10)),
		})
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	switch q := st.query.GetVariant().(type) {
	case nil:
		if len(lists) == 0 {
			return c.scroll(st)
		}
		if len(lists) > 1 {
			return nil, badInput("a query with several prefetches needs a fusion or a nearest query")
		}
		return truncate(lists[0], st.limit), nil
	case *qdrant.Query_Nearest:
		return c.nearest(st, q.Nearest, lists)
	case *qdrant.Query_Rrf:
		k := defaultRRFK
		if q.Rrf.K != nil {
			k = int(q.Rrf.GetK())
		}
		return c.rrf(st, lists, k, q.Rrf.GetWeights())
	case *qdrant.Query_Fusion:
		if q.Fusion != qdrant.Fusion_RRF {
			return nil, unsupported("fusion " + q.Fusion.String())
		}
		return c.rrf(st, lists, defaultRRFK, nil)
	default:
		return nil, unsupported(fmt.Sprintf("query %T", q))
	}
}

// both is the conjunction of two filters; either may be nil.
func both(a, b *qdrant.Filter) *qdrant.Filter {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewFilterAsCondition(a), qdrant.NewFilterAsCondition(b)}}
}

func truncate(hits []hit, limit int) []hit {
	if len(hits) > limit {
		return hits[:limit]
	}
	return hits
}

// scroll lists the points passing the filter by id, as a query without a
// query does.
func (c *collection) scroll(st stage) ([]hit, error) {
	var out []hit
	for _, p := range c.points {
		ok, err := matches(st.filter, p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, hit{p: p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].p.key < out[j].p.key })
	return truncate(out, st.limit), nil
}

// candidates are the points a stage scores: its prefetches' results, or
// every point.
func (c *collection) candidates(lists [][]hit) []*point {
	if lists == nil {
		out := make([]*point, 0, len(c.points))
		for _, p := range c.points {
			out = append(out, p)
		}
		return out
	}
	seen := map[*point]bool{}
	var out []*point
	for _, l := range lists {
		for _, h := range l {
			if !seen[h.p] {
				seen[h.p] = true
				out = append(out, h.p)
			}
		}
	}
	return out
}

func (c *collection) nearest(st stage, in *qdrant.VectorInput, lists [][]hit) ([]hit, error) {
	var dense []float32
	var sv *qdrant.SparseVector
	switch v := in.GetVariant().(type) {
	case *qdrant.VectorInput_Dense:
		dense = v.Dense.GetData()
	case *qdrant.VectorInput_Sparse:
		sv = v.Sparse
	case *qdrant.VectorInput_Id:
		_, key, err := parseID(v.Id)
		if err != nil {
			return nil, err
		}
		p, ok := c.points[key]
		if !ok {
			return nil, notFound("No point with id %s found", key)
		}
		if d, ok := p.dense[st.using]; ok {
			dense = d
		} else if s, ok := p.sparse[st.using]; ok {
			sv = s
		} else {
			return nil, badInput("Not existing vector name error: %s", st.using)
		}
	default:
		return nil, unsupported(fmt.Sprintf("query input %T", v))
	}
	better := func(a, b float32) bool { return a > b }
	var score func(p *point) (float32, bool)
	if sv != nil {
		if err := c.checkSparse(st.using, sv); err != nil {
			return nil, err
		}
		score = c.sparseScorer(st.using, sv)
	} else {
		if err := c.checkDense(st.using, dense); err != nil {
			return nil, err
		}
		dist := c.dense[st.using].GetDistance()
		if dist == qdrant.Distance_Cosine {
			dense = normalized(dense)
		}
		if dist == qdrant.Distance_Euclid || dist == qdrant.Distance_Manhattan {
			better = func(a, b float32) bool { return a < b }
		}
		score = func(p *point) (float32, bool) {
			v, ok := p.dense[st.using]
			if !ok {
				return 0, false
			}
			return distance(dist, dense, v), true
		}
	}
	var out []hit
	for _, p := range c.candidates(lists) {
		s, ok := score(p)
		if !ok {
			continue
		}
		if st.threshold != nil && better(*st.threshold, s) {
			continue
		}
		pass, err := matches(st.filter, p)
		if err != nil {
			return nil, err
		}
		if pass {
			out = append(out, hit{p, s})
		}
	}
	sortHits(out, better)
	return truncate(out, st.limit), nil
}

func distance(d qdrant.Distance, q, v []float32) float32 {
	var s float32
	switch d {
	case qdrant.Distance_Euclid:
		for i := range q {
			x := q[i] - v[i]
			s += x * x
		}
		return float32(math.Sqrt(float64(s)))
	case qdrant.Distance_Manhattan:
		for i := range q {
			s += float32(math.Abs(float64(q[i] - v[i])))
		}
		return s
	default: // Cosine (both sides normalised) and Dot
		for i := range q {
			s += q[i] * v[i]
		}
		return s
	}
}

// sparseScorer scores a point by the dot product over shared terms; with
// the IDF modifier each query weight is multiplied by the term's
// ln(1 + (N − n + 0.5)/(n + 0.5)), N the points having this sparse vector,
// n those having the term. A point sharing no term is not a hit.
func (c *collection) sparseScorer(name string, q *qdrant.SparseVector) func(*point) (float32, bool) {
	weights := map[uint32]float32{}
	for i, t := range q.Indices {
		weights[t] = q.Values[i]
	}
	if c.sparse[name].GetModifier() == qdrant.Modifier_Idf {
		df := map[uint32]int{}
		n := 0
		for _, p := range c.points {
			sv, ok := p.sparse[name]
			if !ok {
				continue
			}
			n++
			for _, t := range sv.Indices {
				if _, asked := weights[t]; asked {
					df[t]++
				}
			}
		}
		for t, w := range weights {
			d := float64(df[t])
			weights[t] = w * float32(math.Log(1+(float64(n)-d+0.5)/(d+0.5)))
		}
	}
	return func(p *point) (float32, bool) {
		sv, ok := p.sparse[name]
		if !ok {
			return 0, false
		}
		var s float32
		shared := false
		for i, t := range sv.Indices {
			if w, ok := weights[t]; ok {
				s += w * sv.Values[i]
				shared = true
			}
		}
		return s, shared
	}
}

// rrf fuses ranked lists as Qdrant does: a point scores, summed over the
// lists it is in, 1/(position/w + k − 1) with position counted from 1 and
// w its list's weight (1 unless given). With weight 1 that is
// 1/(k + position − 1): Qdrant's top-ranked point scores 1/k, not 1/(k+1)
// (lib/segment/src/common/reciprocal_rank_fusion.rs).
func (c *collection) rrf(st stage, lists [][]hit, k int, weights []float32) ([]hit, error) {
	if len(lists) == 0 {
		return nil, badInput("Fusion queries need prefetches")
	}
	if len(weights) > 0 && len(weights) != len(lists) {
		return nil, badInput("Number of weights in RRF should match number of pre-fetches: got %d, expected %d", len(weights), len(lists))
	}
	fused := map[*point]float32{}
	for i, l := range lists {
		w := float32(1)
		if len(weights) > 0 {
			w = weights[i]
		}
		for pos, h := range l {
			if w <= 0 {
				fused[h.p] += 0
				continue
			}
			fused[h.p] += 1 / (float32(pos+1)/w + float32(k) - 1)
		}
	}
	var out []hit
	for p, s := range fused {
		if st.threshold != nil && s < *st.threshold {
			continue
		}
		pass, err := matches(st.filter, p)
		if err != nil {
			return nil, err
		}
		if pass {
			out = append(out, hit{p, s})
		}
	}
	sortHits(out, func(a, b float32) bool { return a > b })
	return truncate(out, st.limit), nil
}

// sortHits orders best first; equal scores by point id.
func sortHits(hits []hit, better func(a, b float32) bool) {
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.score != b.score {
			return better(a.score, b.score)
		}
		return a.p.key < b.p.key
	})
}
