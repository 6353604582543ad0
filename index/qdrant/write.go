package qdrant

import (
	"context"
	"fmt"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/mediavec/mediavec/index"
)

// Upsert writes points in batches, each acknowledged only once applied
// (wait=true). The points are checked against the collection's schema
// first, so a bad point fails the call before any batch is written.
func (q *Index) Upsert(ctx context.Context, collection string, points []index.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := q.upsert(ctx, collection, points); err != nil {
		return fmt.Errorf("upsert %d points into %s: %w", len(points), collection, err)
	}
	return nil
}

func (q *Index) upsert(ctx context.Context, collection string, points []index.Point) error {
	info, err := q.info(ctx, collection)
	if err != nil {
		return err
	}
	schema, _ := schemaOf(info.GetConfig().GetParams())
	structs, err := checkedStructs(schema, collection, points)
	if err != nil {
		return err
	}
	return q.send(ctx, collection, structs)
}

// checkedStructs converts points, checked against the collection's schema.
func checkedStructs(schema index.Schema, collection string, points []index.Point) ([]*qc.PointStruct, error) {
	structs := make([]*qc.PointStruct, len(points))
	for i, p := range points {
		if err := schema.CheckPoint(collection, p); err != nil {
			return nil, err
		}
		ps, err := pointStruct(p)
		if err != nil {
			return nil, err
		}
		structs[i] = ps
	}
	return structs, nil
}

// send upserts points in batches, each acknowledged once applied.
func (q *Index) send(ctx context.Context, collection string, structs []*qc.PointStruct) error {
	for _, req := range upsertRequests(collection, structs, q.batch) {
		var res *qc.PointsOperationResponse
		err := q.do(ctx, func(ctx context.Context) (err error) {
			res, err = q.client.GetPointsClient().Upsert(ctx, req)
			return err
		})
		if err == nil {
			err = completed(res.GetResult())
		}
		if err != nil {
			return qerr(ctx, "upsert into "+collection, err, true)
		}
	}
	return nil
}

// ReplaceVideo upserts the video's points, then deletes its points that
// are not among them. It is not atomic on Qdrant, which has no
// multi-operation transactions: a reader may briefly see old and new
// points together, and a failure between the two steps leaves stale
// points behind. It converges, though: every step is idempotent, so the
// retry a failed job gets completes the replacement.
//
// Calls made at the same time share upsert requests (see flush).
func (q *Index) ReplaceVideo(ctx context.Context, collection, videoID string, points []index.Point) error {
	for _, p := range points {
		if p.Payload.VideoID != videoID {
			return fmt.Errorf("replace video %s in %s: %w: point %s belongs to video %q", videoID, collection, index.ErrBadPoint, p.ID, p.Payload.VideoID)
		}
	}
	if q.closed.Load() {
		return index.ErrClosed
	}
	w := &qWrite{collection: collection, videoID: videoID, points: points}
	q.queueMu.Lock()
	q.queue = append(q.queue, w)
	q.queueMu.Unlock()
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	for !w.finished {
		q.flush(ctx)
	}
	if w.err != nil {
		return fmt.Errorf("replace video %s in %s: %w", videoID, collection, w.err)
	}
	return nil
}

// flush sends queued replacements: per collection, every video's points
// in shared batched upserts, then each video's stale points deleted. A
// video queued twice waits for the next flush, so its two replacements
// never interleave. Callers hold flushMu. It runs on the caller's context
// cut loose from its cancellation (with a deadline), since it carries
// other callers' writes too.
func (q *Index) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	q.queueMu.Lock()
	var batch, later []*qWrite
	taken := map[[2]string]bool{}
	for _, w := range q.queue {
		k := [2]string{w.collection, w.videoID}
		if taken[k] {
			later = append(later, w)
			continue
		}
		taken[k] = true
		batch = append(batch, w)
	}
	q.queue = later
	q.queueMu.Unlock()

	byColl := map[string][]*qWrite{}
	var order []string
	for _, w := range batch {
		if byColl[w.collection] == nil {
			order = append(order, w.collection)
		}
		byColl[w.collection] = append(byColl[w.collection], w)
	}
	for _, coll := range order {
		ws := byColl[coll]
		var structs []*qc.PointStruct
		var ok []*qWrite
		info, err := q.info(ctx, coll)
		if err != nil {
			finish(ws, err)
			continue
		}
		schema, _ := schemaOf(info.GetConfig().GetParams())
		for _, w := range ws {
			// A bad point fails its own video only.
			ps, err := checkedStructs(schema, coll, w.points)
			if err != nil {
				finish([]*qWrite{w}, err)
				continue
			}
			structs = append(structs, ps...)
			ok = append(ok, w)
		}
		if err := q.send(ctx, coll, structs); err != nil {
			finish(ok, err)
			continue
		}
		for _, w := range ok {
			keep := make([]*qc.PointId, len(w.points))
			for i, p := range w.points {
				keep[i] = pointID(p.ID) // valid: checked above
			}
			finish([]*qWrite{w}, q.deleteWhere(ctx, coll, staleFilter(w.videoID, keep)))
		}
	}
}

func finish(ws []*qWrite, err error) {
	for _, w := range ws {
		w.finished, w.err = true, err
	}
}

// DeleteVideo removes every point of a video.
func (q *Index) DeleteVideo(ctx context.Context, collection, videoID string) error {
	if err := q.deleteWhere(ctx, collection, staleFilter(videoID, nil)); err != nil {
		return fmt.Errorf("delete video %s from %s: %w", videoID, collection, err)
	}
	return nil
}

func (q *Index) deleteWhere(ctx context.Context, collection string, f *qc.Filter) error {
	req := &qc.DeletePoints{CollectionName: collection, Wait: ptrTo(true), Points: qc.NewPointsSelectorFilter(f)}
	var res *qc.PointsOperationResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Delete(ctx, req)
		return err
	})
	if err == nil {
		err = completed(res.GetResult())
	}
	if err != nil {
		return qerr(ctx, "delete from "+collection, err, true)
	}
	return nil
}

// qWrite is one ReplaceVideo waiting to be sent.
type qWrite struct {
	collection, videoID string
	points              []index.Point
	finished            bool
	err                 error
}
