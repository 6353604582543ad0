package search

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mediavec/mediavec/internal/vecmath"
)

// The alignment rules on frames whose similarities are known: unit
// vectors, each a little away from the last (a moving scene), with the
// query made of the candidate's own frames.
func TestAlignmentRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	unit := func() []float32 {
		v := make([]float32, 64)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return vecmath.Normalized(v)
	}
	// A moving scene: each frame turns towards a new random direction, so
	// neighbours score about 0.6 and frames 2 s apart about 0.36.
	scene := func(n int) []candidateFrame {
		var out []candidateFrame
		v := unit()
		for i := range n {
			w := unit()
			next := make([]float32, len(v))
			for k := range v {
				next[k] = 0.6*v[k] + 0.8*w[k]
			}
			v = vecmath.Normalized(next)
			out = append(out, candidateFrame{start: float64(i), end: float64(i + 1), vec: v})
		}
		return out
	}
	query := func(cf []candidateFrame, js []int) []queryFrame {
		var out []queryFrame
		for i, j := range js {
			var v []float32
			if j >= 0 {
				v = cf[j].vec
			} else {
				v = unit() // something else
			}
			out = append(out, queryFrame{start: float64(i), end: float64(i + 1), vecs: [][]float32{v}})
		}
		return out
	}
	check := func(name string, qf []queryFrame, cf []candidateFrame, wantScore float64, wantQuery [2]float64) {
		t.Helper()
		chain, score := alignVariant(qf, 0, pairFloor, cf)
		vec := func(j int) []float32 { return cf[j].vec }
		q := func(i int) []float32 { return qf[i].vecs[0] }
		if !keepsPace(chain, cf, vec) || !sameMoments(chain, q, vec) {
			score = 0
		}
		if math.Abs(score-wantScore) > 0.02 {
			t.Errorf("%s: score %.3f, want %.2f", name, score, wantScore)
			return
		}
		if wantScore > 0 {
			a := fit(chain, len(qf))
			if a.QueryStart != wantQuery[0] || a.QueryEnd != wantQuery[1] {
				t.Errorf("%s: query range %g–%g, want %g–%g", name, a.QueryStart, a.QueryEnd, wantQuery[0], wantQuery[1])
			}
		}
	}
	cf := scene(12)
	check("the same frames", query(cf, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}), cf, 1, [2]float64{0, 12})
	check("slowed to 0.8×: some frames twice", query(cf, []int{0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10}), cf, 1, [2]float64{0, 14})
	check("3 s excerpt", query(cf, []int{5, 6, 7}), cf, 1, [2]float64{0, 3})
	check("first half of a splice", query(cf, []int{2, 3, 4, 5, -1, -1, -1, -1}), cf, 1, [2]float64{0, 4})
	check("second half of a splice", query(cf, []int{-1, -1, -1, -1, 6, 7, 8, 9}), cf, 1, [2]float64{4, 8})
	check("one frame held over a moving scene", query(cf, []int{4, 4, 4, 4, 4, 4, 4, 4}), cf, 0, [2]float64{})
	check("the same frames backwards: one pair at a time", query(cf, []int{11, 9, 7, 5, 3, 1}), cf, 1.0/3, [2]float64{0, 1})
	check("a single matching frame", query(cf, []int{-1, -1, 6, -1, -1, -1}), cf, 1.0/3, [2]float64{2, 3})

	// A still: every frame the same picture. Holding it is a copy.
	still := make([]candidateFrame, 8)
	v := unit()
	for i := range still {
		still[i] = candidateFrame{start: float64(i), end: float64(i + 1), vec: v}
	}
	check("a still held longer", query(still, []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), still, 1, [2]float64{0, 12})
}
