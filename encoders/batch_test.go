package encoders

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Items from concurrent callers share batches no larger than the maximum,
// and every caller gets its own results, in order.
func TestBatcherRoutesResults(t *testing.T) {
	t.Parallel()
	var sizes []int
	b := NewBatcher(7, 5*time.Millisecond, func(items []int) ([]int, error) {
		sizes = append(sizes, len(items)) // only the batcher's goroutine runs this
		out := make([]int, len(items))
		for i, x := range items {
			out[i] = x * x
		}
		return out, nil
	})
	var wg sync.WaitGroup
	for c := range 10 {
		wg.Go(func() {
			items := make([]int, 3+c) // some callers need more than one batch
			for i := range items {
				items[i] = c*100 + i
			}
			got, err := b.Do(t.Context(), items)
			if err != nil {
				t.Error(err)
				return
			}
			for i, x := range items {
				if got[i] != x*x {
					t.Errorf("caller %d item %d: %d, want %d", c, i, got[i], x*x)
				}
			}
		})
	}
	wg.Wait()
	b.Close()
	total := 0
	for _, s := range sizes {
		if s > 7 {
			t.Errorf("a batch of %d, over the maximum of 7", s)
		}
		total += s
	}
	if want := 10*3 + 45; total != want || b.Stats().Items != want {
		t.Errorf("%d items batched (stats %+v), want %d", total, b.Stats(), want)
	}
	// Alone, the callers would need 15 batches (ceil((3+c)/7) each); 75
	// items need at least 11.
	if len(sizes) >= 15 {
		t.Errorf("%d batches for 10 concurrent callers: nothing was shared", len(sizes))
	}
	if _, err := b.Do(t.Context(), []int{1}); !errors.Is(err, ErrBatcherClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestBatcherErrorsAndCancellation(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := NewBatcher(4, time.Millisecond, func(items []string) ([]string, error) {
		if slices.Contains(items, "bad") {
			return nil, boom
		}
		return items, nil
	})
	defer b.Close()
	if _, err := b.Do(t.Context(), []string{"a", "bad"}); !errors.Is(err, boom) {
		t.Errorf("a failing batch: %v", err)
	}
	if got, err := b.Do(t.Context(), []string{"a", "b"}); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("the batcher goes on after an error: %v %v", got, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Do(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled call: %v", err)
	}
}

// Eight jobs embedding audio at once share the speech model's batches and
// get exactly what each gets alone.
func TestSpeechConcurrentCallersShareBatches(t *testing.T) {
	s := newSpeech(t)
	var inputs [][]float32
	for c := range 8 {
		inputs = append(inputs, tone(300+97*float64(c), 1.5+0.25*float64(c), 0.3))
	}
	alone := make([][]SpeechEmbedding, len(inputs))
	for i, in := range inputs {
		var err error
		if alone[i], err = s.Embed(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	before := s.BatchStats()
	together := make([][]SpeechEmbedding, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Go(func() {
			var err error
			if together[i], err = s.Embed(t.Context(), in); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	after := s.BatchStats()
	for i := range inputs {
		if len(together[i]) != len(alone[i]) {
			t.Fatalf("caller %d: %d embeddings together, %d alone", i, len(together[i]), len(alone[i]))
		}
		for j := range alone[i] {
			a, b := alone[i][j], together[i][j]
			if a.Start != b.Start {
				t.Fatalf("caller %d window %d starts at %s, alone at %s", i, j, b.Start, a.Start)
			}
			for k := range a.Vector {
				if d := math.Abs(float64(a.Vector[k] - b.Vector[k])); d != 0 {
					t.Fatalf("caller %d window %d value %d: %v together, %v alone", i, j, k, b.Vector[k], a.Vector[k])
				}
			}
		}
	}
	batches, items := after.Batches-before.Batches, after.Items-before.Items
	t.Logf("8 concurrent callers: %d windows in %d session calls", items, batches)
	if batches >= len(inputs) {
		t.Errorf("%d session calls for 8 concurrent callers: their windows were not batched together", batches)
	}
}

func newSpeech(t *testing.T) *Speech {
	t.Helper()
	initORT(t)
	s, err := LoadSpeech(DefaultModelsDir(), SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A caller that gives up stops its items that have not run yet, and a long
// request does not hold a short one up behind it.
func TestBatcherCancellationAndFairness(t *testing.T) {
	t.Parallel()
	var ran atomic.Int64
	b := NewBatcher(4, 0, func(items []int) ([]int, error) {
		time.Sleep(2 * time.Millisecond)
		ran.Add(int64(len(items)))
		return items, nil
	})
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	long := make(chan error, 1)
	go func() {
		_, err := b.Do(ctx, make([]int, 400))
		long <- err
	}()
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	if got, err := b.Do(t.Context(), []int{7}); err != nil || got[0] != 7 {
		t.Fatalf("short caller: %v %v", got, err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Errorf("a one-item caller waited %s behind a 400-item one", waited)
	}
	cancel()
	if err := <-long; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := ran.Load(); n >= 400 {
		t.Errorf("%d items ran: the cancelled caller's rest ran anyway", n)
	}
}

// One caller's bad item fails that caller, not the others in its batch.
func TestBatcherIsolatesFailures(t *testing.T) {
	t.Parallel()
	b := NewBatcher(8, 20*time.Millisecond, func(items []int) ([]int, error) {
		if slices.Contains(items, -1) {
			return nil, errors.New("bad item")
		}
		return items, nil
	})
	defer b.Close()
	var wg sync.WaitGroup
	var goodErr, badErr error
	wg.Go(func() { _, goodErr = b.Do(t.Context(), []int{1, 2, 3}) })
	wg.Go(func() { _, badErr = b.Do(t.Context(), []int{4, -1}) })
	wg.Wait()
	if goodErr != nil || badErr == nil {
		t.Errorf("good caller: %v; bad caller: %v", goodErr, badErr)
	}
}
