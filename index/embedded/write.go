package embedded

import (
	"context"
	"fmt"
	"slices"

	"github.com/mediavec/mediavec/index"
)

// Upsert writes points, replacing points with the same id. Dense vectors
// are L2-normalised (the distance is cosine). It returns once the write is
// on disk.
func (e *Index) Upsert(ctx context.Context, collection string, points []index.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := e.write(ctx, collection, record{Op: opUpsert, Points: points}); err != nil {
		return fmt.Errorf("upsert %d points into %s: %w", len(points), collection, err)
	}
	return nil
}

// ReplaceVideo atomically replaces every point of a video with points: a
// reader never sees the video half-written.
func (e *Index) ReplaceVideo(ctx context.Context, collection, videoID string, points []index.Point) error {
	for _, p := range points {
		if p.Payload.VideoID != videoID {
			return fmt.Errorf("replace video %s in %s: %w: point %s belongs to video %q", videoID, collection, index.ErrBadPoint, p.ID, p.Payload.VideoID)
		}
	}
	if err := e.write(ctx, collection, record{Op: opReplace, VideoID: videoID, Points: points}); err != nil {
		return fmt.Errorf("replace video %s in %s: %w", videoID, collection, err)
	}
	return nil
}

// DeleteVideo removes every point of a video.
func (e *Index) DeleteVideo(ctx context.Context, collection, videoID string) error {
	if err := e.write(ctx, collection, record{Op: opReplace, VideoID: videoID}); err != nil {
		return fmt.Errorf("delete video %s from %s: %w", videoID, collection, err)
	}
	return nil
}

func (e *Index) write(ctx context.Context, collection string, rec record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.readOnly {
		return ErrReadOnly
	}
	clean := make([]index.Point, len(rec.Points))
	for i, p := range rec.Points {
		clean[i] = p
		clean[i].Payload = p.Payload.Clone()
		clean[i].Vectors = make(map[string][]float32, len(p.Vectors))
		for name, v := range p.Vectors {
			clean[i].Vectors[name] = index.Normalized(v)
		}
		if len(p.Sparse) > 0 {
			clean[i].Sparse = make(map[string]index.SparseVector, len(p.Sparse))
			for name, sv := range p.Sparse {
				sorted := sv.Sorted()
				clean[i].Sparse[name] = index.SparseVector{Indices: slices.Clone(sorted.Indices), Values: slices.Clone(sorted.Values)}
			}
		}
	}
	rec.Points = clean

	// Group commit: the write joins the queue; whoever holds writeMu next
	// logs every queued write, one append and one fsync per collection,
	// so concurrent jobs share the fsync that makes their points durable.
	w := &pendingWrite{collection: collection, rec: rec}
	e.queueMu.Lock()
	e.queue = append(e.queue, w)
	e.queueMu.Unlock()
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if !w.done {
		e.commit()
	}
	return w.err
}

// pendingWrite is one write waiting for the group commit.
type pendingWrite struct {
	collection string
	rec        record
	body       []byte // the encoded record
	done       bool
	err        error
}

// commit logs and applies every queued write. Callers hold writeMu.
func (e *Index) commit() {
	e.queueMu.Lock()
	batch := e.queue
	e.queue = nil
	e.queueMu.Unlock()
	byColl := map[*collection][]*pendingWrite{}
	var order []*collection
	e.mu.RLock()
	for _, w := range batch {
		w.done = true
		c, err := e.collection(w.collection)
		if err == nil {
			for i := range w.rec.Points {
				if err = c.check(&w.rec.Points[i]); err != nil {
					break
				}
			}
		}
		if err != nil {
			w.err = err
			continue
		}
		// Encode now: a write that cannot be logged (too large) fails
		// alone, not the others it would have shared an append with.
		if w.body, err = encodeChecked(w.rec); err != nil {
			w.err = err
			continue
		}
		if byColl[c] == nil {
			order = append(order, c)
		}
		byColl[c] = append(byColl[c], w)
	}
	e.mu.RUnlock()
	for _, c := range order {
		ws := byColl[c]
		recs := make([]record, len(ws))
		bodies := make([][]byte, len(ws))
		for i, w := range ws {
			recs[i], bodies[i] = w.rec, w.body
		}
		// Log first, then apply: a point visible to queries is always on
		// disk.
		e.syncs++
		if err := c.appendBodies(bodies); err != nil {
			for _, w := range ws {
				w.err = fmt.Errorf("write log: %w", err)
			}
			continue
		}
		e.mu.Lock()
		for _, r := range recs {
			c.apply(r)
		}
		e.mu.Unlock()
	}
}
