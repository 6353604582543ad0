package encoders

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Batcher gathers the items of concurrent callers into batches for one
// model: a batch runs when it holds MaxBatch items or when its first item
// has waited MaxDelay, in one session call, and each caller gets back the
// results of its own items, in order. A caller's items may be split across
// batches, and share a batch with other callers' items.
//
// One goroutine runs every batch, so the run function may keep state (the
// tensors it reuses) without locks.
type Batcher[In, Out any] struct {
	maxBatch int
	maxDelay time.Duration
	run      func(items []In) ([]Out, error)
	reqs     chan *batchRequest[In, Out]
	done     chan struct{}
	closed   sync.Once
	wg       sync.WaitGroup

	statsMu sync.Mutex
	stats   BatchStats
}

// BatchStats counts what a Batcher did.
type BatchStats struct {
	Batches int
	Items   int
}

type batchRequest[In, Out any] struct {
	items     []In
	out       []Out
	next      int // the first item not yet put in a batch
	pending   int // items put in a batch whose results have not come back
	err       error
	done      chan struct{}
	cancelled atomic.Bool // the caller has gone: its items not yet batched never run
}

// ErrBatcherClosed is returned by Do after Close.
var ErrBatcherClosed = errors.New("batcher closed")

// NewBatcher starts a batcher. maxBatch < 1 is taken as 1; a maxDelay of 0
// runs whatever is waiting as soon as the model is free.
func NewBatcher[In, Out any](maxBatch int, maxDelay time.Duration, run func(items []In) ([]Out, error)) *Batcher[In, Out] {
	b := &Batcher[In, Out]{
		maxBatch: max(1, maxBatch), maxDelay: maxDelay, run: run,
		reqs: make(chan *batchRequest[In, Out]), done: make(chan struct{}),
	}
	b.wg.Add(1)
	go b.loop()
	return b
}

// Do runs items through the model and returns their results in order. A
// cancelled ctx returns at once; the items already in a running batch
// finish, the rest never run.
func (b *Batcher[In, Out]) Do(ctx context.Context, items []In) ([]Out, error) {
	if len(items) == 0 {
		return nil, nil
	}
	r := &batchRequest[In, Out]{items: items, out: make([]Out, len(items)), done: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-b.done:
		return nil, ErrBatcherClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		r.cancelled.Store(true)
		return nil, ctx.Err()
	}
}

// Stats returns what the batcher has done so far.
func (b *Batcher[In, Out]) Stats() BatchStats {
	b.statsMu.Lock()
	defer b.statsMu.Unlock()
	return b.stats
}

// Close stops the batcher once the batches in hand have run.
func (b *Batcher[In, Out]) Close() {
	b.closed.Do(func() { close(b.done) })
	b.wg.Wait()
}

// part is a slice of one request's items inside a batch.
type part[In, Out any] struct {
	req        *batchRequest[In, Out]
	start, end int
}

func (b *Batcher[In, Out]) loop() {
	defer b.wg.Done()
	var queue []*batchRequest[In, Out] // requests with items not yet batched
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if len(queue) == 0 {
			select {
			case r := <-b.reqs:
				queue = append(queue, r)
			case <-b.done:
				return
			}
		}
		// Take in every caller that has arrived, so a long request already
		// queued does not keep later ones out of the next batch.
	drain:
		for {
			select {
			case r := <-b.reqs:
				queue = append(queue, r)
			default:
				break drain
			}
		}
		// Gather until the batch is full or the oldest item has waited
		// long enough.
		timer.Reset(b.maxDelay)
	gather:
		for waiting(queue) < b.maxBatch {
			select {
			case r := <-b.reqs:
				queue = append(queue, r)
			case <-timer.C:
				break gather
			case <-b.done:
				break gather
			}
		}
		timer.Stop()
		queue = b.runBatch(queue)
	}
}

func waiting[In, Out any](queue []*batchRequest[In, Out]) int {
	n := 0
	for _, r := range queue {
		n += len(r.items) - r.next
	}
	return n
}

// runBatch takes up to maxBatch items from the queue, a fair share from
// each waiting caller in turn (a long request does not hold up a short one
// behind it), runs them, routes the results, and returns what is left of
// the queue. A batch that fails is run again caller by caller, so one
// caller's bad item fails only that caller.
func (b *Batcher[In, Out]) runBatch(queue []*batchRequest[In, Out]) []*batchRequest[In, Out] {
	live := queue[:0]
	for _, r := range queue {
		if r.cancelled.Load() {
			close(r.done) // nobody waits on it; its rest never runs
			continue
		}
		live = append(live, r)
	}
	queue = live
	if len(queue) == 0 {
		return queue
	}
	var parts []part[In, Out]
	room := b.maxBatch
	share := max(1, room/len(queue))
	for pass := 0; room > 0 && pass < 2; pass++ {
		for _, r := range queue {
			if room == 0 {
				break
			}
			take := min(len(r.items)-r.next, room)
			if pass == 0 {
				take = min(take, share)
			}
			if take <= 0 {
				continue
			}
			parts = append(parts, part[In, Out]{r, r.next, r.next + take})
			r.next += take
			r.pending += take
			room -= take
		}
	}
	var items []In
	for _, p := range parts {
		items = append(items, p.req.items[p.start:p.end]...)
	}
	outs, err := b.runItems(items)
	if err != nil && len(parts) > 1 {
		// Isolate the failure: each caller's items alone.
		for _, p := range parts {
			o, perr := b.runItems(p.req.items[p.start:p.end])
			b.route(p, o, perr)
		}
	} else {
		off := 0
		for _, p := range parts {
			n := p.end - p.start
			var o []Out
			if err == nil {
				o = outs[off : off+n]
			}
			b.route(p, o, err)
			off += n
		}
	}
	// Finish the requests that have all their results, or an error.
	rest := queue[:0]
	for _, r := range queue {
		if r.pending == 0 && (r.next == len(r.items) || r.err != nil) {
			close(r.done)
			continue
		}
		rest = append(rest, r)
	}
	return rest
}

func (b *Batcher[In, Out]) runItems(items []In) ([]Out, error) {
	outs, err := b.run(items)
	if err == nil && len(outs) != len(items) {
		err = errors.New("model returned a result count unlike its input count")
	}
	b.statsMu.Lock()
	b.stats.Batches++
	b.stats.Items += len(items)
	b.statsMu.Unlock()
	return outs, err
}

func (b *Batcher[In, Out]) route(p part[In, Out], outs []Out, err error) {
	if err != nil {
		p.req.err = err
	} else {
		copy(p.req.out[p.start:p.end], outs)
	}
	p.req.pending -= p.end - p.start
}
