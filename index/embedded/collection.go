package embedded

import (
	"fmt"
	"os"
	"slices"

	"github.com/mediavec/mediavec/index"
)

// collection is one collection in memory: payloads by id, dense vectors in
// one contiguous slab per name, sparse vectors in an inverted index per name.
type collection struct {
	name    string
	schema  index.Schema
	log     *os.File
	points  map[string]*stored
	byVideo map[string]map[*stored]struct{}
	dense   map[string]*slab
	sparse  map[string]*postings
	dead    int // points in the log since overwritten or deleted
}

// stored is a point without its dense vectors, which live in slabs.
type stored struct {
	id      string
	payload index.Payload
	dense   []string // names of its dense vectors
	sparse  map[string]index.SparseVector
}

// slab holds every vector of one name contiguously, so a query is one pass
// of dot products over memory.
type slab struct {
	dim  int
	pts  []*stored
	vecs []float32
	row  map[*stored]int
	// The same rows quantised (see quant.go): pdim int8 codes a row, and
	// each row's scale and error bound.
	pdim   int
	codes  []int8
	scales []float32
	eps    []float32
}

// check validates a point against the schema before it is logged.
func (c *collection) check(p *index.Point) error { return c.schema.CheckPoint(c.name, *p) }

func (c *collection) checkQueryVector(name string, dim int) error {
	want, ok := c.schema.Dense[name]
	if !ok {
		return fmt.Errorf("query %s: %w: no dense vector %q", c.name, index.ErrBadVector, name)
	}
	if dim != want {
		return fmt.Errorf("query %s: %w: vector %q has %d dimensions, the query %d", c.name, index.ErrBadVector, name, want, dim)
	}
	return nil
}

func (c *collection) apply(rec record) {
	switch rec.Op {
	case opUpsert, opReplace:
		if rec.Op == opReplace {
			for sp := range c.byVideo[rec.VideoID] {
				c.remove(sp.id)
			}
		}
		for i := range rec.Points {
			c.insert(&rec.Points[i])
		}
	case opDelete:
		for _, id := range rec.IDs {
			c.remove(id)
		}
	}
}

func (c *collection) insert(p *index.Point) {
	c.remove(p.ID)
	sp := &stored{id: p.ID, payload: p.Payload}
	c.points[p.ID] = sp
	vids := c.byVideo[p.Payload.VideoID]
	if vids == nil {
		vids = map[*stored]struct{}{}
		c.byVideo[p.Payload.VideoID] = vids
	}
	vids[sp] = struct{}{}
	for name, v := range p.Vectors {
		s := c.dense[name]
		if s == nil {
			s = &slab{dim: len(v), row: map[*stored]int{}, pdim: paddedDim(len(v))}
			c.dense[name] = s
		}
		s.row[sp] = len(s.pts)
		s.pts = append(s.pts, sp)
		s.vecs = append(s.vecs, v...)
		codes, scale, eps := quantize(v, s.pdim)
		s.codes = append(s.codes, codes...)
		s.scales = append(s.scales, scale)
		s.eps = append(s.eps, eps)
		sp.dense = append(sp.dense, name)
	}
	if len(p.Sparse) > 0 {
		sp.sparse = make(map[string]index.SparseVector, len(p.Sparse))
		for name, sv := range p.Sparse {
			sp.sparse[name] = sv
			pl := c.sparse[name]
			if pl == nil {
				pl = &postings{terms: map[uint32]map[*stored]float32{}}
				c.sparse[name] = pl
			}
			pl.add(sp, sv)
		}
	}
}

// remove drops a point; each of its dense vectors is swapped with its
// slab's last row so slabs stay dense.
func (c *collection) remove(id string) {
	sp, ok := c.points[id]
	if !ok {
		return
	}
	c.dead++
	delete(c.points, id)
	if vids := c.byVideo[sp.payload.VideoID]; vids != nil {
		delete(vids, sp)
		if len(vids) == 0 {
			delete(c.byVideo, sp.payload.VideoID)
		}
	}
	for _, name := range sp.dense {
		s := c.dense[name]
		r := s.row[sp]
		last := len(s.pts) - 1
		if r != last {
			moved := s.pts[last]
			s.pts[r] = moved
			copy(s.vecs[r*s.dim:(r+1)*s.dim], s.vecs[last*s.dim:(last+1)*s.dim])
			copy(s.codes[r*s.pdim:(r+1)*s.pdim], s.codes[last*s.pdim:(last+1)*s.pdim])
			s.scales[r], s.eps[r] = s.scales[last], s.eps[last]
			s.row[moved] = r
		}
		s.pts[last] = nil
		s.pts = s.pts[:last]
		s.vecs = s.vecs[:last*s.dim]
		s.codes = s.codes[:last*s.pdim]
		s.scales = s.scales[:last]
		s.eps = s.eps[:last]
		delete(s.row, sp)
	}
	for name, sv := range sp.sparse {
		c.sparse[name].remove(sp, sv)
	}
}

// point rebuilds a whole point, its dense vectors copied out of the slabs.
func (c *collection) point(sp *stored) index.Point {
	p := index.Point{ID: sp.id, Payload: sp.payload.Clone()}
	if len(sp.dense) > 0 {
		p.Vectors = make(map[string][]float32, len(sp.dense))
		for _, name := range sp.dense {
			s := c.dense[name]
			r := s.row[sp]
			p.Vectors[name] = slices.Clone(s.vecs[r*s.dim : (r+1)*s.dim])
		}
	}
	if len(sp.sparse) > 0 {
		p.Sparse = make(map[string]index.SparseVector, len(sp.sparse))
		for name, sv := range sp.sparse {
			p.Sparse[name] = sv
		}
	}
	return p
}

// candidates calls fn with every point the filter could pass: only the
// listed videos' points when it names videos, else all of them.
func (c *collection) candidates(f index.Filter, fn func(*stored)) {
	if len(f.VideoIDs) > 0 {
		seen := make(map[string]bool, len(f.VideoIDs))
		for _, v := range f.VideoIDs {
			if seen[v] {
				continue
			}
			seen[v] = true
			for sp := range c.byVideo[v] {
				fn(sp)
			}
		}
		return
	}
	for _, sp := range c.points {
		fn(sp)
	}
}
