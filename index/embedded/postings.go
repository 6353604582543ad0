package embedded

import "github.com/mediavec/mediavec/index"

// postings is the inverted index of one sparse vector name.
type postings struct {
	terms map[uint32]map[*stored]float32
	docs  int // points with this sparse vector
}

func (pl *postings) add(sp *stored, sv index.SparseVector) {
	pl.docs++
	for i, t := range sv.Indices {
		m := pl.terms[t]
		if m == nil {
			m = map[*stored]float32{}
			pl.terms[t] = m
		}
		m[sp] = sv.Values[i]
	}
}

func (pl *postings) remove(sp *stored, sv index.SparseVector) {
	pl.docs--
	for _, t := range sv.Indices {
		if m := pl.terms[t]; m != nil {
			delete(m, sp)
			if len(m) == 0 {
				delete(pl.terms, t)
			}
		}
	}
}

// score is Σ idf(t)·q_t·d_t over the query's terms, with BM25's
// idf(t) = ln(1 + (N − n_t + 0.5)/(n_t + 0.5)), as Qdrant's IDF modifier.
func (pl *postings) score(q index.SparseVector) map[*stored]float32 {
	out := map[*stored]float32{}
	n := float64(pl.docs)
	for i, t := range q.Indices {
		m := pl.terms[t]
		if len(m) == 0 {
			continue
		}
		df := float64(len(m))
		w := float32(index.IDF(n, df)) * q.Values[i]
		for sp, v := range m {
			out[sp] += w * v
		}
	}
	return out
}
