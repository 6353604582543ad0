package bench

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/internal/vecmath"
)

// IndexConfig sets the embedded index benchmark.
type IndexConfig struct {
	Dim     int   // vector dimension; defaults to 512
	Sizes   []int // collection sizes measured, ascending; defaults to 100k and 1M
	Queries int   // top-k queries per size; defaults to 200
	TopK    int   // defaults to 10
	Batch   int   // points per upsert; defaults to 1000
	Dir     string
}

// DefaultIndex is the index benchmark's defaults: 512-d vectors, 100k and
// 1M points, 200 top-10 queries a size, upserts in batches of 1000.
var DefaultIndex = IndexConfig{Dim: 512, Sizes: []int{100_000, 1_000_000}, Queries: 200, TopK: 10, Batch: 1000}

func (c *IndexConfig) defaults() {
	c.Dim = cmp.Or(c.Dim, DefaultIndex.Dim)
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultIndex.Sizes
	}
	c.Queries = cmp.Or(c.Queries, DefaultIndex.Queries)
	c.TopK = cmp.Or(c.TopK, DefaultIndex.TopK)
	c.Batch = cmp.Or(c.Batch, DefaultIndex.Batch)
}

// IndexResult is what one size measured.
type IndexResult struct {
	Points            int
	UpsertPerSec      float64
	P50, P99          time.Duration // Embedded.Query, top-k
	LoopP50, LoopP99  time.Duration // plain Go loop, one core
	RecallVersusLoop  float64       // share of the loop's top-k the index returned
	GoroutinesPerScan int
}

// Index measures the embedded backend: upsert throughput (durable writes,
// fsync per batch) and top-k query latency at each size, beside a plain Go
// loop's exact scan over the same vectors, so the ratio shows what SIMD
// and the parallel scan gain. It prints a table and returns the rows.
func Index(ctx context.Context, cfg IndexConfig, w io.Writer) ([]IndexResult, error) {
	cfg.defaults()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mediavec-bench-index-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ix, err := embedded.Open(dir)
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	const coll, space = "bench", "v"
	if err := ix.Ensure(ctx, coll, index.Schema{Dense: map[string]int{space: cfg.Dim}}); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(42, 7))
	randVec := func() []float32 {
		v := make([]float32, cfg.Dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		vecmath.Normalize(v)
		return v
	}
	// The loop's copy of the data: one contiguous slab, as the index keeps.
	all := make([]float32, 0, cfg.Sizes[len(cfg.Sizes)-1]*cfg.Dim)
	fmt.Fprintf(w, "embedded index, %d-d float32 vectors, cosine, top-%d, %d queries per size, GOMAXPROCS=%d\n", cfg.Dim, cfg.TopK, cfg.Queries, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "%10s  %12s  %10s  %10s  %12s  %12s  %8s  %7s\n", "points", "upserts/s", "p50", "p99", "go-loop p50", "go-loop p99", "p50 gain", "recall")
	var out []IndexResult
	n := 0
	for _, size := range cfg.Sizes {
		var upsertTime time.Duration
		batch := make([]index.Point, 0, cfg.Batch)
		for n < size {
			batch = batch[:0]
			for len(batch) < cfg.Batch && n < size {
				v := randVec()
				all = append(all, v...)
				batch = append(batch, index.Point{
					ID:      strconv.Itoa(n + 1),
					Vectors: map[string][]float32{space: v},
					Payload: index.Payload{VideoID: "v" + strconv.Itoa(n/50), TStart: float64(n % 50)},
				})
				n++
			}
			t0 := time.Now()
			if err := ix.Upsert(ctx, coll, batch); err != nil {
				return out, err
			}
			upsertTime += time.Since(t0)
		}
		res := IndexResult{Points: size, UpsertPerSec: float64(size-prevSize(out)) / upsertTime.Seconds(), GoroutinesPerScan: runtime.GOMAXPROCS(0)}
		var lat, loopLat []time.Duration
		found, want := 0, 0
		for range cfg.Queries {
			q := randVec()
			t0 := time.Now()
			hits, err := ix.Query(ctx, index.Query{Collection: coll, Using: space, Dense: q, Limit: cfg.TopK})
			if err != nil {
				return out, err
			}
			lat = append(lat, time.Since(t0))
			t1 := time.Now()
			top := loopScan(all, cfg.Dim, q, cfg.TopK)
			loopLat = append(loopLat, time.Since(t1))
			got := map[string]bool{}
			for _, h := range hits {
				got[h.ID] = true
			}
			for _, r := range top {
				want++
				if got[strconv.Itoa(r+1)] {
					found++
				}
			}
		}
		res.P50, res.P99 = percentile(lat, 50), percentile(lat, 99)
		res.LoopP50, res.LoopP99 = percentile(loopLat, 50), percentile(loopLat, 99)
		res.RecallVersusLoop = float64(found) / float64(want)
		out = append(out, res)
		fmt.Fprintf(w, "%10d  %12.0f  %10s  %10s  %12s  %12s  %7.1f×  %7.3f\n", size, res.UpsertPerSec,
			ms(res.P50), ms(res.P99), ms(res.LoopP50), ms(res.LoopP99), float64(res.LoopP50)/float64(res.P50), res.RecallVersusLoop)
	}
	return out, nil
}

func prevSize(out []IndexResult) int {
	if len(out) == 0 {
		return 0
	}
	return out[len(out)-1].Points
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// loopScan is the baseline: the exact top-k by a plain Go loop of
// multiply-adds on one core, as one would write it without SIMD.
func loopScan(all []float32, dim int, q []float32, k int) []int {
	h := &minRows{}
	rows := len(all) / dim
	for r := range rows {
		v := all[r*dim : (r+1)*dim]
		var s float32
		for i, x := range q {
			s += x * v[i]
		}
		if h.Len() < k {
			heap.Push(h, row{r, s})
		} else if s > (*h)[0].s {
			(*h)[0] = row{r, s}
			heap.Fix(h, 0)
		}
	}
	out := make([]int, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(row).r
	}
	return out
}

type row struct {
	r int
	s float32
}

type minRows []row

func (h minRows) Len() int           { return len(h) }
func (h minRows) Less(i, j int) bool { return h[i].s < h[j].s }
func (h minRows) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minRows) Push(x any)        { *h = append(*h, x.(row)) }
func (h *minRows) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
