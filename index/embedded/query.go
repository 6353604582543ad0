package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mediavec/mediavec/index"
)

// Get returns points by id, vectors included.
func (e *Index) Get(ctx context.Context, collection string, ids ...string) ([]index.Point, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return nil, err
	}
	var out []index.Point
	for _, id := range ids {
		if sp, ok := c.points[id]; ok {
			out = append(out, c.point(sp))
		}
	}
	return out, nil
}

// Count returns how many points pass the filter.
func (e *Index) Count(ctx context.Context, collection string, f index.Filter) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return 0, err
	}
	if f.IsZero() {
		return len(c.points), nil
	}
	n := 0
	c.candidates(f, func(sp *stored) {
		if f.Match(&sp.payload) {
			n++
		}
	})
	return n, nil
}

// Query returns the best points for q.
func (e *Index) Query(ctx context.Context, q index.Query) ([]index.Hit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(q.Collection)
	if err != nil {
		return nil, err
	}
	col := newTopK(q.Limit)
	if err := e.run(ctx, c, q, func() collector { return newTopK(q.Limit) }, col); err != nil {
		return nil, err
	}
	return col.hits(), nil
}

// QueryGroups runs q and groups its hits by video.
func (e *Index) QueryGroups(ctx context.Context, q index.Query, groupSize int) ([]index.Group, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if groupSize < 1 {
		return nil, fmt.Errorf("%w: group size %d", index.ErrBadQuery, groupSize)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(q.Collection)
	if err != nil {
		return nil, err
	}
	col := newGroups(groupSize, q.Limit)
	if err := e.run(ctx, c, q, func() collector { return newGroups(groupSize, q.Limit) }, col); err != nil {
		return nil, err
	}
	return col.groups(q.Limit), nil
}

// run scores the candidates of q into col; newCol makes a collector for
// each parallel scan worker.
func (e *Index) run(ctx context.Context, c *collection, q index.Query, newCol func() collector, col collector) error {
	switch {
	case q.Dense != nil:
		s := c.dense[q.Using]
		if err := c.checkQueryVector(q.Using, len(q.Dense)); err != nil {
			return err
		}
		if s == nil {
			return nil
		}
		return e.scanDense(ctx, c, s, index.Normalized(q.Dense), q, newCol, col)
	case q.Sparse != nil:
		if !slices.Contains(c.schema.Sparse, q.Using) {
			return fmt.Errorf("query %s: %w: no sparse vector %q", c.name, index.ErrBadVector, q.Using)
		}
		pl := c.sparse[q.Using]
		if pl == nil {
			return nil
		}
		for sp, score := range pl.score(*q.Sparse) {
			if q.ScoreThreshold != nil && score < *q.ScoreThreshold {
				continue
			}
			if q.Filter.Match(&sp.payload) {
				col.offer(sp, score)
			}
		}
		return nil
	default:
		k := q.RRFK
		if k <= 0 {
			k = index.DefaultRRFK
		}
		fused := map[*stored]float32{}
		for _, sub := range q.Prefetch {
			sub.Collection = q.Collection
			if sub.Filter.IsZero() {
				sub.Filter = q.Filter
			}
			top := newTopK(sub.Limit)
			if err := e.run(ctx, c, sub, func() collector { return newTopK(sub.Limit) }, top); err != nil {
				return err
			}
			for rank, h := range top.sorted() {
				fused[h.sp] += 1 / float32(k+rank+1)
			}
		}
		for sp, score := range fused {
			col.offer(sp, score)
		}
		return nil
	}
}

// parallelRows is the slab size from which a dense scan is split across
// workers: below it, starting goroutines costs more than it saves.
const parallelRows = 16384

func (e *Index) scanDense(ctx context.Context, c *collection, s *slab, q []float32, qu index.Query, newCol func() collector, col collector) error {
	f, threshold := qu.Filter, qu.ScoreThreshold
	if len(f.VideoIDs) > 0 {
		// A few videos: score only their points.
		c.candidates(f, func(sp *stored) {
			r, ok := s.row[sp]
			if !ok || !f.Match(&sp.payload) {
				return
			}
			score := dot(q, s.vecs[r*s.dim:(r+1)*s.dim])
			if threshold == nil || score >= *threshold {
				col.offer(sp, score)
			}
		})
		return nil
	}
	if len(s.pts) >= quantRows && !e.noQuant {
		return e.scanQuantized(ctx, c, s, q, qu, newCol, col)
	}
	return e.scanExact(ctx, s, q, qu, newCol, col, nil)
}

// scanExact scores every row of the slab in float32 (but those in skip),
// split across workers for a large slab.
func (e *Index) scanExact(ctx context.Context, s *slab, q []float32, qu index.Query, newCol func() collector, col collector, skip map[int]struct{}) error {
	f, threshold := qu.Filter, qu.ScoreThreshold
	n := len(s.pts)
	workers := 1
	if n >= parallelRows {
		workers = max(1, e.scanWorkers)
	}
	scan := func(lo, hi int, col collector) error {
		for r := lo; r < hi; r++ {
			if (r-lo)%8192 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if skip != nil {
				if _, ok := skip[r]; ok {
					continue
				}
			}
			score := dot(q, s.vecs[r*s.dim:(r+1)*s.dim])
			if threshold != nil && score < *threshold {
				continue
			}
			if !col.wants(s.pts[r], score) {
				continue
			}
			if sp := s.pts[r]; f.Match(&sp.payload) {
				col.offer(sp, score)
			}
		}
		return nil
	}
	if workers == 1 {
		return scan(0, n, col)
	}
	cols := make([]collector, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		cols[w] = newCol()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = scan(w*chunk, min(n, (w+1)*chunk), cols[w])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, o := range cols {
		col.merge(o)
	}
	return nil
}
