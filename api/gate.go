package api

import (
	"context"
	"errors"
	"sync/atomic"
)

// errBusy is a query turned away because the query decoders are all busy
// and their queue is full: a 429 with Retry-After.
var errBusy = errors.New("too many queries being decoded; try again shortly")

// queryGate bounds the query files decoded at once. A decode of a large
// upload holds hundreds of megabytes while it runs, so the gate, not the
// number of requests, sets the API's memory: at most running decodes, and
// at most queued requests waiting for one; the rest are told to come back.
type queryGate struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
}

func newQueryGate(running, queued int) *queryGate {
	return &queryGate{slots: make(chan struct{}, running), queue: int64(queued)}
}

// enter waits for a decode slot and returns its release; errBusy when the
// queue is full, the context's error when the request gives up.
func (g *queryGate) enter(ctx context.Context) (func(), error) {
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return nil, errBusy
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *queryGate) release() { <-g.slots }
