package encoders

import (
	"context"
	"errors"
	"sync"
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
	items   []In
	out     []Out
	next    int // the first item not yet put in a batch
	pending int // items put in a batch whose results have not come back
	err     error
	done    chan struct{}
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
// cancelled ctx returns at once; items already in a batch still run.
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

// runBatch takes up to maxBatch items from the front of the queue, runs
// them, routes the results, and returns what is left of the queue.
func (b *Batcher[In, Out]) runBatch(queue []*batchRequest[In, Out]) []*batchRequest[In, Out] {
	var items []In
	var parts []part[In, Out]
	for _, r := range queue {
		room := b.maxBatch - len(items)
		if room == 0 {
			break
		}
		end := min(len(r.items), r.next+room)
		parts = append(parts, part[In, Out]{r, r.next, end})
		items = append(items, r.items[r.next:end]...)
		r.pending += end - r.next
		r.next = end
	}
	outs, err := b.run(items)
	if err == nil && len(outs) != len(items) {
		err = errors.New("model returned a result count unlike its input count")
	}
	off := 0
	for _, p := range parts {
		n := p.end - p.start
		if err != nil {
			p.req.err = err
		} else {
			copy(p.req.out[p.start:p.end], outs[off:off+n])
		}
		off += n
		p.req.pending -= n
	}
	b.statsMu.Lock()
	b.stats.Batches++
	b.stats.Items += len(items)
	b.statsMu.Unlock()
	// Finish the requests that have all their results, or an error.
	rest := queue[:0]
	for _, r := range queue {
		finished := r.pending == 0 && (r.next == len(r.items) || r.err != nil)
		if finished {
			close(r.done)
			continue
		}
		rest = append(rest, r)
	}
	return rest
}
