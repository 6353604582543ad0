package qdrant

import (
	"context"
	"fmt"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/mediavec/mediavec/index"
)

// Get returns the points with these ids in the order asked, with the ids
// as asked; ids that are not there, or could not be point ids, are left
// out.
func (q *Index) Get(ctx context.Context, collection string, ids ...string) ([]index.Point, error) {
	var want []*qc.PointId
	seen := map[string]bool{}
	for _, id := range ids {
		if index.ValidateID(id) != nil {
			continue
		}
		pid := pointID(id)
		if k := idString(pid); !seen[k] {
			seen[k] = true
			want = append(want, pid)
		}
	}
	if len(want) == 0 {
		// Nothing to fetch, but a missing collection is still an error.
		_, err := q.info(ctx, collection)
		if err != nil {
			return nil, fmt.Errorf("get from %s: %w", collection, err)
		}
		return nil, nil
	}
	req := &qc.GetPoints{
		CollectionName: collection,
		Ids:            want,
		WithPayload:    qc.NewWithPayload(true),
		WithVectors:    qc.NewWithVectors(true),
	}
	var res *qc.GetResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Get(ctx, req)
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "get from "+collection, err, false)
	}
	found := make(map[string]*qc.RetrievedPoint, len(res.GetResult()))
	for _, rp := range res.GetResult() {
		found[idString(rp.GetId())] = rp
	}
	var out []index.Point
	for _, id := range ids {
		if index.ValidateID(id) != nil {
			continue
		}
		rp, ok := found[idString(pointID(id))]
		if !ok {
			continue
		}
		p, err := pointFrom(rp.GetId(), rp.GetPayload(), rp.GetVectors())
		if err != nil {
			return nil, fmt.Errorf("get from %s: %w", collection, err)
		}
		p.ID = id
		out = append(out, p)
	}
	return out, nil
}

// Count returns how many points pass the filter, counted exactly.
func (q *Index) Count(ctx context.Context, collection string, f index.Filter) (int, error) {
	req := &qc.CountPoints{CollectionName: collection, Filter: qdrantFilter(f), Exact: ptrTo(true)}
	var res *qc.CountResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Count(ctx, req)
		return err
	})
	if err != nil {
		return 0, qerr(ctx, "count in "+collection, err, false)
	}
	return int(res.GetResult().GetCount()), nil
}

// Query returns the best points for qu.
func (q *Index) Query(ctx context.Context, qu index.Query) ([]index.Hit, error) {
	if err := qu.Validate(); err != nil {
		return nil, err
	}
	req := queryRequest(qu)
	var res *qc.QueryResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Query(ctx, req)
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "query "+qu.Collection, err, false)
	}
	hits, err := hitsFrom(res.GetResult())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", qu.Collection, err)
	}
	return hits, nil
}

// QueryGroups runs qu grouped by video_id: at most qu.Limit videos, each
// with its best groupSize hits.
func (q *Index) QueryGroups(ctx context.Context, qu index.Query, groupSize int) ([]index.Group, error) {
	if err := qu.Validate(); err != nil {
		return nil, err
	}
	if groupSize < 1 {
		return nil, fmt.Errorf("%w: group size %d", index.ErrBadQuery, groupSize)
	}
	req := groupsRequest(qu, groupSize)
	var res *qc.QueryGroupsResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().QueryGroups(ctx, req)
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "query groups "+qu.Collection, err, false)
	}
	groups := res.GetResult().GetGroups()
	out := make([]index.Group, len(groups))
	for i, g := range groups {
		hits, err := hitsFrom(g.GetHits())
		if err != nil {
			return nil, fmt.Errorf("query groups %s: %w", qu.Collection, err)
		}
		out[i] = index.Group{VideoID: groupID(g.GetId()), Hits: hits}
	}
	return out, nil
}
