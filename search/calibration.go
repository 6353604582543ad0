package search

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
)

// The kinds of query a calibration model is fitted for: an uploaded video
// or image (and a caller's vector, which is one frame's), words, and an
// indexed video's pooled vectors.
const (
	KindMedia = "media"
	KindText  = "text"
	KindLike  = "like"
	// KindNearDuplicates is not calibrated: its score is the aligned
	// share of the query, and its floor the threshold.
	KindNearDuplicates = "near_duplicates"
)

// Calibration turns a candidate's per-space similarities into the
// probability that it is the same content as the query, one logistic model
// per query kind, fitted on labelled pairs that `mediavec bench
// calibration` generates from real media under edits (see
// docs/search.md). A result's score is that probability, so 0.9 means the
// same thing for a video, an image or a text query.
type Calibration struct {
	// MinScore is the default floor: results under it are not returned.
	MinScore float64 `json:"min_score"`
	// Kinds holds a model per query kind.
	Kinds map[string]Model `json:"kinds"`
	// Trained says what the models were fitted on.
	Trained string `json:"trained"`
}

// Model is a logistic model over the spaces a query searched:
// logit = Bias + Σ over searched spaces (Weight·similarity + Offset), a
// candidate absent from a searched space counting as similarity 0.
type Model struct {
	Bias   float64                 `json:"bias"`
	Spaces map[string]SpaceWeights `json:"spaces"`
}

// SpaceWeights are one space's terms in a Model.
type SpaceWeights struct {
	Weight float64 `json:"weight"`
	Offset float64 `json:"offset"`
}

//go:embed calibration.json
var shippedCalibration []byte

// Shipped is the calibration this build was released with.
func Shipped() Calibration {
	var c Calibration
	if err := json.Unmarshal(shippedCalibration, &c); err != nil {
		panic(fmt.Sprintf("search: calibration.json: %v", err)) // caught by every test
	}
	return c
}

// Score is the probability that a candidate with similarities sims (per
// space) is the query's content, for a query of kind that searched the
// spaces searched. Spaces the model does not know (a user's CLIP model)
// do not count; when the query searched none it knows, the score is the
// candidate's best similarity in [0, 1] — not calibrated, and said so in
// docs/search.md.
func (c Calibration) Score(kind string, searched []string, sims map[string]float64) float64 {
	m, ok := c.Kinds[kind]
	logit, known := m.Bias, false
	if ok {
		for _, s := range searched {
			if w, ok := m.Spaces[s]; ok {
				logit += w.Weight*sims[s] + w.Offset
				known = true
			}
		}
	}
	if !known {
		best := 0.0
		for _, s := range searched {
			best = max(best, sims[s])
		}
		return min(best, 1)
	}
	return 1 / (1 + math.Exp(-logit))
}

// Sample is one labelled (query, candidate) pair for fitting and judging
// a calibration.
type Sample struct {
	Kind     string             `json:"kind"`
	Query    string             `json:"query"`
	Video    string             `json:"video"`
	Searched []string           `json:"searched"`
	Sims     map[string]float64 `json:"sims"`
	Match    bool               `json:"match"`
	// Weight is the sample's weight in a fit; 0 counts as 1.
	Weight float64 `json:"weight,omitempty"`
}

// Fit fits one kind's model to samples by Newton's method on the
// L2-regularised log-likelihood (l2 on the weights, not the bias). The
// samples' classes are weighted to balance (on top of each sample's
// Weight), so the fitted probability of a match does not depend on how
// many non-matches the set happened to hold.
func Fit(samples []Sample, l2 float64) Model {
	// Parameters: the bias, then each space's weight, then the offset of
	// each space some samples did not search (a space every sample
	// searched has no offset of its own: it would be the bias again).
	spaceSet := map[string]int{}
	for _, s := range samples {
		for _, sp := range s.Searched {
			spaceSet[sp]++
		}
	}
	spaces := slices.Sorted(maps.Keys(spaceSet))
	offset := map[string]int{} // space → its offset's parameter
	n := 1 + len(spaces)
	for _, sp := range spaces {
		if spaceSet[sp] < len(samples) {
			offset[sp] = n
			n++
		}
	}
	features := func(s Sample) []float64 {
		x := make([]float64, n)
		x[0] = 1
		for i, sp := range spaces {
			if slices.Contains(s.Searched, sp) {
				x[1+i] = s.Sims[sp]
				if j, ok := offset[sp]; ok {
					x[j] = 1
				}
			}
		}
		return x
	}
	weight := func(s Sample) float64 {
		if s.Weight > 0 {
			return s.Weight
		}
		return 1
	}
	var pos, neg float64
	for _, s := range samples {
		if s.Match {
			pos += weight(s)
		} else {
			neg += weight(s)
		}
	}
	total := pos + neg
	xs := make([][]float64, len(samples))
	ws := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = features(s)
		ws[i] = weight(s) * 0.5 * total / max(1e-9, neg)
		if s.Match {
			ws[i] = weight(s) * 0.5 * total / max(1e-9, pos)
		}
	}
	beta := make([]float64, n)
	for range 100 {
		grad := make([]float64, n)
		hess := make([][]float64, n)
		for i := range hess {
			hess[i] = make([]float64, n)
		}
		for i, x := range xs {
			z := 0.0
			for j := range x {
				z += beta[j] * x[j]
			}
			p := 1 / (1 + math.Exp(-z))
			y := 0.0
			if samples[i].Match {
				y = 1
			}
			for j := range x {
				grad[j] += ws[i] * (p - y) * x[j]
				for k := range x {
					hess[j][k] += ws[i] * p * (1 - p) * x[j] * x[k]
				}
			}
		}
		for j := 1; j < n; j++ {
			grad[j] += l2 * beta[j]
			hess[j][j] += l2
		}
		hess[0][0] += 1e-9
		step := solve(hess, grad)
		moved := 0.0
		for j := range beta {
			beta[j] -= step[j]
			moved = max(moved, math.Abs(step[j]))
		}
		if moved < 1e-10 {
			break
		}
	}
	m := Model{Bias: beta[0], Spaces: map[string]SpaceWeights{}}
	for i, sp := range spaces {
		w := SpaceWeights{Weight: beta[1+i]}
		if j, ok := offset[sp]; ok {
			w.Offset = beta[j]
		}
		m.Spaces[sp] = w
	}
	return m
}

// solve returns x with a·x = b by Gaussian elimination with partial
// pivoting (a is small and, regularised, well-conditioned).
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(slices.Clone(a[i]), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		if m[c][c] == 0 {
			continue
		}
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		if m[r][r] == 0 {
			continue
		}
		s := m[r][n]
		for k := r + 1; k < n; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return x
}

// AUC is the area under the ROC curve of scores against the samples'
// labels: the probability that a random match outscores a random
// non-match (ties count half).
func AUC(scores []float64, match []bool) float64 {
	type sc struct {
		s float64
		m bool
	}
	all := make([]sc, len(scores))
	for i := range scores {
		all[i] = sc{scores[i], match[i]}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s < all[j].s })
	var pos, neg, rankSum float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].s == all[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1 … j
		for k := i; k < j; k++ {
			if all[k].m {
				rankSum += avg
				pos++
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
