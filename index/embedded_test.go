package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func seg(video, space string, ord int, vec ...float32) Point {
	return Point{
		ID:      SegmentID(video, space, ord),
		Vectors: map[string][]float32{space: vec},
		Payload: Payload{VideoID: video, Space: space, TStart: float64(ord), TEnd: float64(ord + 1)},
	}
}

func open(t *testing.T, dir string) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = fmt.Sprintf("%s/%g", h.Payload.VideoID, h.Payload.TStart)
	}
	return out
}

func TestSearchRanksByCosine(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := open(t, t.TempDir())
	err := e.Upsert(ctx, Segments, []Point{
		seg("a", "s", 0, 1, 0, 0),
		seg("a", "s", 1, 1, 1, 0), // 45° from the query
		seg("b", "s", 0, 0, 0, 5), // orthogonal
		seg("c", "s", 0, 3, 0.1, 0),
		seg("c", "other", 0, 1, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := e.Search(ctx, Segments, "s", []float32{2, 0, 0}, 3, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(ids(hits)), "[a/0 c/0 a/1]"; got != want {
		t.Fatalf("hits %s, want %s", got, want)
	}
	if hits[0].Score < 0.9999 || hits[2].Score > 0.71 || hits[2].Score < 0.70 {
		t.Errorf("scores %v", hits)
	}
	hits, _ = e.Search(ctx, Segments, "s", []float32{1, 0, 0}, 10, Filter{ExcludeVideoID: "a"})
	if got, want := fmt.Sprint(ids(hits)), "[c/0 b/0]"; got != want {
		t.Errorf("excluding a: %s, want %s", got, want)
	}
	hits, _ = e.Search(ctx, Segments, "s", []float32{1, 0, 0}, 10, Filter{VideoID: "b"})
	if got, want := fmt.Sprint(ids(hits)), "[b/0]"; got != want {
		t.Errorf("only b: %s, want %s", got, want)
	}
	if _, err := e.Search(ctx, Segments, "s", []float32{1, 0}, 1, Filter{}); err == nil {
		t.Error("a query of the wrong dimension must fail")
	}
	if err := e.Upsert(ctx, Segments, []Point{seg("d", "s", 0, 1, 2)}); err == nil {
		t.Error("a point of the wrong dimension must fail")
	}
	if n, _ := e.Count(ctx, Segments, Filter{}); n != 5 {
		t.Errorf("count %d, want 5", n)
	}
}

func TestReplaceDeleteAndReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	e := open(t, dir)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.ReplaceVideo(ctx, Segments, "a", []Point{seg("a", "s", 0, 1, 0), seg("a", "s", 1, 0, 1), seg("a", "s", 2, 1, 1)}))
	must(e.ReplaceVideo(ctx, Segments, "b", []Point{seg("b", "s", 0, 1, 0)}))
	// Re-processing a with fewer segments leaves none of the old ones.
	must(e.ReplaceVideo(ctx, Segments, "a", []Point{seg("a", "s", 0, 0, 1)}))
	if n, _ := e.Count(ctx, Segments, Filter{VideoID: "a"}); n != 1 {
		t.Fatalf("a has %d points after replace, want 1", n)
	}
	if err := e.ReplaceVideo(ctx, Segments, "a", []Point{seg("b", "s", 5, 1, 0)}); err == nil {
		t.Error("replace with another video's point must fail")
	}
	must(e.Upsert(ctx, Segments, []Point{seg("c", "s", 0, 1, 1)}))
	if n, err := e.DeleteVideo(ctx, Segments, "c"); err != nil || n != 1 {
		t.Fatalf("delete c: %d, %v", n, err)
	}
	before, _ := e.Search(ctx, Segments, "s", []float32{1, 0.2}, 10, Filter{})
	must(e.Close())
	if _, err := e.Search(ctx, Segments, "s", []float32{1, 0}, 1, Filter{}); err != ErrClosed {
		t.Errorf("search after close: %v", err)
	}

	e2 := open(t, dir)
	after, err := e2.Search(ctx, Segments, "s", []float32{1, 0.2}, 10, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(before)) != fmt.Sprint(ids(after)) || len(after) != 2 {
		t.Fatalf("after reopen %v, before %v", ids(after), ids(before))
	}
	for i := range after {
		if after[i].Score != before[i].Score || after[i].Payload.TEnd != before[i].Payload.TEnd {
			t.Errorf("hit %d changed across reopen: %+v vs %+v", i, after[i], before[i])
		}
	}
}

// A crash in the middle of a write leaves a torn record at the end of the
// log; opening cuts it and keeps everything before it.
func TestTornTailIsCut(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	e := open(t, dir)
	if err := e.Upsert(ctx, Segments, []Point{seg("a", "s", 0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Upsert(ctx, Segments, []Point{seg("b", "s", 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	path := filepath.Join(dir, Segments+".log")
	st, _ := os.Stat(path)
	if err := os.Truncate(path, st.Size()-7); err != nil {
		t.Fatal(err)
	}

	e2 := open(t, dir)
	if n, _ := e2.Count(ctx, Segments, Filter{}); n != 1 {
		t.Fatalf("%d points after a torn write, want the 1 before it", n)
	}
	// The log is writable again after the cut.
	if err := e2.Upsert(ctx, Segments, []Point{seg("c", "s", 0, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	e2.Close()
	e3 := open(t, dir)
	if n, _ := e3.Count(ctx, Segments, Filter{}); n != 2 {
		t.Fatalf("%d points, want 2", n)
	}
}

// Queries run while a writer replaces videos; every query sees whole
// videos and valid scores.
func TestConcurrentReadersAndWriter(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	e := open(t, t.TempDir())
	const dim = 32
	rng := rand.New(rand.NewPCG(5, 6))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	var queries [][]float32
	for range 8 {
		queries = append(queries, vec())
	}
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				hits, err := e.Search(ctx, Segments, "s", queries[(r+i)%len(queries)], 5, Filter{})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
				for _, h := range hits {
					if h.Score > 1.0001 || h.Score < -1.0001 {
						t.Errorf("score %f out of range", h.Score)
					}
				}
			}
		})
	}
	for v := range 50 {
		video := fmt.Sprintf("v%d", v%10)
		var pts []Point
		for o := range 4 {
			pts = append(pts, seg(video, "s", o, vec()...))
		}
		if err := e.ReplaceVideo(ctx, Segments, video, pts); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if n, _ := e.Count(t.Context(), Segments, Filter{}); n != 40 {
		t.Errorf("%d points, want 10 videos × 4", n)
	}
}

func TestPointIDsAreStableUUIDs(t *testing.T) {
	t.Parallel()
	a, b := SegmentID("v-1", "frame_dct_v1", 3), SegmentID("v-1", "frame_dct_v1", 3)
	if a != b || len(a) != 36 || a[14] != '5' {
		t.Errorf("segment id %q / %q is not a stable UUIDv5", a, b)
	}
	if SegmentID("v-1", "frame_dct_v1", 4) == a || VideoID("v-1") == a || VideoID("v-1") != VideoID("v-1") {
		t.Error("ids must differ by ordinal and kind")
	}
}

// Re-indexing the same videos over and over leaves dead points in the log;
// opening compacts it without changing what a query sees.
func TestCompactionOnOpen(t *testing.T) {
	old := compactMinDead
	compactMinDead = 10
	t.Cleanup(func() { compactMinDead = old })
	ctx := t.Context()
	dir := t.TempDir()
	e := open(t, dir)
	for round := range 20 {
		for v := range 3 {
			video := fmt.Sprintf("v%d", v)
			pts := []Point{seg(video, "s", 0, 1, float32(round), float32(v)), seg(video, "s", 1, float32(v), 1, 0)}
			if err := e.ReplaceVideo(ctx, Segments, video, pts); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, _ := e.Search(ctx, Segments, "s", []float32{1, 2, 3}, 10, Filter{})
	e.Close()
	path := filepath.Join(dir, Segments+".log")
	grown, _ := os.Stat(path)

	e2 := open(t, dir)
	compacted, _ := os.Stat(path)
	if compacted.Size()*5 > grown.Size() {
		t.Errorf("log %d bytes after compaction, %d before: want far smaller", compacted.Size(), grown.Size())
	}
	after, _ := e2.Search(ctx, Segments, "s", []float32{1, 2, 3}, 10, Filter{})
	if fmt.Sprint(ids(after)) != fmt.Sprint(ids(before)) || len(after) != 6 {
		t.Fatalf("after compaction %v, before %v", ids(after), ids(before))
	}
	// The compacted log takes writes and survives another reopen.
	if err := e2.Upsert(ctx, Segments, []Point{seg("w", "s", 0, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	e2.Close()
	if n, _ := open(t, dir).Count(ctx, Segments, Filter{}); n != 7 {
		t.Errorf("%d points after reopening the compacted log, want 7", n)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.compact-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}
