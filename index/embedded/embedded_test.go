package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediavec/mediavec/index"
)

var testSchema = index.Schema{Dense: map[string]int{"s": 2, "t": 3}}

func seg(video, space string, ord int, vec ...float32) index.Point {
	return index.Point{
		ID:      index.SegmentID(video, space, ord),
		Vectors: map[string][]float32{space: vec},
		Payload: index.Payload{VideoID: video, Space: space, TStart: float64(ord), TEnd: float64(ord + 1)},
	}
}

// open opens the index in dir with a "segments" collection of testSchema.
func open(t *testing.T, dir string) *Index {
	t.Helper()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Ensure(t.Context(), index.Segments, testSchema); err != nil {
		t.Fatal(err)
	}
	return e
}

func ids(hits []index.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = fmt.Sprintf("%s/%g", h.Payload.VideoID, h.Payload.TStart)
	}
	return out
}

func search(t *testing.T, e *Index, vec []float32, limit int) []index.Hit {
	t.Helper()
	space := "s"
	if len(vec) == 3 {
		space = "t"
	}
	hits, err := e.Query(t.Context(), index.Query{Collection: index.Segments, Using: space, Dense: vec, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return hits
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
	must(e.ReplaceVideo(ctx, index.Segments, "a", []index.Point{seg("a", "s", 0, 1, 0), seg("a", "s", 1, 0, 1), seg("a", "s", 2, 1, 1)}))
	must(e.ReplaceVideo(ctx, index.Segments, "b", []index.Point{seg("b", "s", 0, 1, 0)}))
	// Re-processing a with fewer segments leaves none of the old ones.
	must(e.ReplaceVideo(ctx, index.Segments, "a", []index.Point{seg("a", "s", 0, 0, 1)}))
	if n, _ := e.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{"a"}}); n != 1 {
		t.Fatalf("a has %d points after replace, want 1", n)
	}
	if err := e.ReplaceVideo(ctx, index.Segments, "a", []index.Point{seg("b", "s", 5, 1, 0)}); err == nil {
		t.Error("replace with another video's point must fail")
	}
	must(e.Upsert(ctx, index.Segments, []index.Point{seg("c", "s", 0, 1, 1)}))
	must(e.DeleteVideo(ctx, index.Segments, "c"))
	before := search(t, e, []float32{1, 0.2}, 10)
	must(e.Close())
	if _, err := e.Query(ctx, index.Query{Collection: index.Segments, Using: "s", Dense: []float32{1, 0}, Limit: 1}); err != index.ErrClosed {
		t.Errorf("search after close: %v", err)
	}

	e2 := open(t, dir)
	after := search(t, e2, []float32{1, 0.2}, 10)
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
	if err := e.Upsert(ctx, index.Segments, []index.Point{seg("a", "s", 0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Upsert(ctx, index.Segments, []index.Point{seg("b", "s", 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	path := filepath.Join(dir, "collections", index.Segments+".log")
	st, _ := os.Stat(path)
	if err := os.Truncate(path, st.Size()-7); err != nil {
		t.Fatal(err)
	}
	torn, _ := os.ReadFile(path)

	// Read-only, the torn record is skipped and the files stay as they are.
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := ro.Count(ctx, index.Segments, index.Filter{}); n != 1 {
		t.Errorf("read-only: %d points, want 1", n)
	}
	if err := ro.Upsert(ctx, index.Segments, []index.Point{seg("c", "s", 0, 1, 1)}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only upsert: %v, want ErrReadOnly", err)
	}
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(after, torn) {
		t.Errorf("opening read-only changed the log (%d bytes, was %d)", len(after), len(torn))
	}

	e2 := open(t, dir)
	if n, _ := e2.Count(ctx, index.Segments, index.Filter{}); n != 1 {
		t.Fatalf("%d points after a torn write, want the 1 before it", n)
	}
	if d := e2.Dropped(); len(d) != 1 || d[0].Collection != index.Segments || len(d[0].VideoIDs) != 1 || d[0].VideoIDs[0] != "b" {
		t.Errorf("dropped %+v, want the torn write of video b in %s", d, index.Segments)
	}
	// What was cut stays on record until the caller settles it.
	e2.Close()
	e2 = open(t, dir)
	if d := e2.Dropped(); len(d) != 1 || d[0].VideoIDs[0] != "b" {
		t.Errorf("after a reopen, dropped %+v, want the torn write still on record", d)
	}
	if err := e2.ClearDropped(); err != nil {
		t.Fatal(err)
	}
	e2.Close()
	e2 = open(t, dir)
	if d := e2.Dropped(); len(d) != 0 {
		t.Errorf("after ClearDropped and a reopen, dropped %+v", d)
	}
	// The log is writable again after the cut.
	if err := e2.Upsert(ctx, index.Segments, []index.Point{seg("c", "s", 0, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	e2.Close()
	e3 := open(t, dir)
	if n, _ := e3.Count(ctx, index.Segments, index.Filter{}); n != 2 {
		t.Fatalf("%d points, want 2", n)
	}
}

// Queries run while a writer replaces videos; every query sees whole
// videos and valid scores.
func TestConcurrentReadersAndWriter(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	e := open(t, t.TempDir())
	const dim = 3
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
				hits, err := e.Query(ctx, index.Query{Collection: index.Segments, Using: "t", Dense: queries[(r+i)%len(queries)], Limit: 5})
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
		var pts []index.Point
		for o := range 4 {
			pts = append(pts, seg(video, "t", o, vec()...))
		}
		if err := e.ReplaceVideo(ctx, index.Segments, video, pts); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if n, _ := e.Count(t.Context(), index.Segments, index.Filter{}); n != 40 {
		t.Errorf("%d points, want 10 videos × 4", n)
	}
}

func TestPointIDsAreStableUUIDs(t *testing.T) {
	t.Parallel()
	a, b := index.SegmentID("v-1", "frame_dct_v1", 3), index.SegmentID("v-1", "frame_dct_v1", 3)
	if a != b || len(a) != 36 || a[14] != '5' {
		t.Errorf("segment id %q / %q is not a stable UUIDv5", a, b)
	}
	if index.SegmentID("v-1", "frame_dct_v1", 4) == a || index.VideoID("v-1") == a || index.VideoID("v-1") != index.VideoID("v-1") {
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
			pts := []index.Point{seg(video, "t", 0, 1, float32(round), float32(v)), seg(video, "t", 1, float32(v), 1, 0)}
			if err := e.ReplaceVideo(ctx, index.Segments, video, pts); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := search(t, e, []float32{1, 2, 3}, 10)
	e.Close()
	path := filepath.Join(dir, "collections", index.Segments+".log")
	grown, _ := os.Stat(path)

	e2 := open(t, dir)
	compacted, _ := os.Stat(path)
	if compacted.Size()*5 > grown.Size() {
		t.Errorf("log %d bytes after compaction, %d before: want far smaller", compacted.Size(), grown.Size())
	}
	after := search(t, e2, []float32{1, 2, 3}, 10)
	if fmt.Sprint(ids(after)) != fmt.Sprint(ids(before)) || len(after) != 6 {
		t.Fatalf("after compaction %v, before %v", ids(after), ids(before))
	}
	// The compacted log takes writes and survives another reopen.
	if err := e2.Upsert(ctx, index.Segments, []index.Point{seg("w", "t", 0, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	e2.Close()
	if n, _ := open(t, dir).Count(ctx, index.Segments, index.Filter{}); n != 7 {
		t.Errorf("%d points after reopening the compacted log, want 7", n)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "collections", "*.compact-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// Collections, schemas and aliases live in the manifest and survive a
// reopen; a folder from the old single-log format is refused with advice.
func TestManifestSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	g1 := index.Generation(index.Videos, 1)
	if err := index.EnsureGeneration(ctx, e, 1, testSchema, index.Schema{Dense: map[string]int{"s": 2}, Sparse: []string{"text"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Upsert(ctx, index.Videos, []index.Point{{ID: index.VideoID("a"), Vectors: map[string][]float32{"s": {1, 0}}, Sparse: map[string]index.SparseVector{"text": {Indices: []uint32{3}, Values: []float32{1}}}, Payload: index.Payload{VideoID: "a"}}}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if err := e2.Ensure(ctx, index.Generation(index.Segments, 1), testSchema); err != nil {
		t.Errorf("same schema after reopen: %v", err)
	}
	aliases, _ := e2.Aliases(ctx)
	if aliases[index.Videos] != g1 {
		t.Errorf("aliases after reopen: %v", aliases)
	}
	hits, err := e2.Query(ctx, index.Query{Collection: index.Videos, Using: "text", Sparse: &index.SparseVector{Indices: []uint32{3}, Values: []float32{1}}, Limit: 1})
	if err != nil || len(hits) != 1 || hits[0].Payload.VideoID != "a" {
		t.Errorf("sparse query after reopen: %v %v", hits, err)
	}
	if err := e2.Ensure(ctx, index.Generation(index.Segments, 1), index.Schema{Dense: map[string]int{"s": 3}}); err == nil {
		t.Error("a changed schema must be refused after reopen")
	}

	old := t.TempDir()
	os.WriteFile(filepath.Join(old, "segments.log"), []byte("x"), 0o644)
	if _, err := Open(old); err == nil {
		t.Error("an index in the old format must be refused")
	}
}

// The int8 bound-and-rescore scan, the parallel float32 scan and the
// serial one return exactly the same points, for plain and grouped queries,
// with and without filters and score thresholds.
func TestScansAgree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := open(t, t.TempDir())
	const dim = 40 // pads to 64: exercises the zero tail of the codes
	if err := e.Ensure(ctx, "big", index.Schema{Dense: map[string]int{"v": dim}}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	var pts []index.Point
	for i := range quantRows + 5000 {
		p := index.Point{ID: fmt.Sprint(i + 1), Vectors: map[string][]float32{"v": vec()}, Payload: index.Payload{VideoID: fmt.Sprintf("v%d", i%300), TStart: float64(i % 97)}}
		if i%3 == 0 {
			p.Payload.Labels = []string{"person"}
		}
		pts = append(pts, p)
	}
	if err := e.Upsert(ctx, "big", pts); err != nil {
		t.Fatal(err)
	}
	// Delete a video so slab rows were swapped around.
	if err := e.DeleteVideo(ctx, "big", "v7"); err != nil {
		t.Fatal(err)
	}
	th := float32(0.3)
	from := 10.0
	cases := []struct {
		name  string
		f     index.Filter
		limit int
		group int
		th    *float32
	}{
		{"top 10", index.Filter{}, 10, 0, nil},
		{"top 100, labels", index.Filter{Labels: []string{"person"}}, 100, 0, nil},
		{"top 25, excluded videos, time", index.Filter{ExcludeVideoIDs: []string{"v1", "v2"}, TStartFrom: &from}, 25, 0, nil},
		{"threshold", index.Filter{}, 500, 0, &th},
		{"groups of 3", index.Filter{}, 20, 3, nil},
		{"groups of 1, labels", index.Filter{Labels: []string{"person"}}, 50, 1, nil},
		{"more groups than videos", index.Filter{}, 400, 2, nil},
		{"filter passes almost nothing", index.Filter{Labels: []string{"dog"}}, 10, 0, nil},
	}
	type mode struct {
		name    string
		workers int
		noQuant bool
	}
	modes := []mode{{"serial float32", 1, true}, {"parallel float32", 4, true}, {"int8 bound + rescore", 2, false}}
	for _, c := range cases {
		for qi := range 3 {
			q := index.Query{Collection: "big", Using: "v", Dense: vec(), Limit: c.limit, Filter: c.f, ScoreThreshold: c.th}
			var results []string
			for _, m := range modes {
				e.scanWorkers, e.noQuant = m.workers, m.noQuant
				var got any
				var err error
				if c.group > 0 {
					got, err = e.QueryGroups(ctx, q, c.group)
				} else {
					got, err = e.Query(ctx, q)
				}
				if err != nil {
					t.Fatal(err)
				}
				results = append(results, fmt.Sprint(got))
			}
			for i := 1; i < len(results); i++ {
				if results[i] != results[0] {
					t.Errorf("%s, query %d: %s differs from %s", c.name, qi, modes[i].name, modes[0].name)
				}
			}
		}
	}
}

func TestInt8Kernel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, pdim := range []int{32, 64, 512, 1024} {
		n := 37
		q := make([]int8, pdim)
		codes := make([]int8, n*pdim)
		for i := range q {
			q[i] = int8(rng.IntN(255) - 127)
		}
		for i := range codes {
			codes[i] = int8(rng.IntN(255) - 127)
		}
		q[0], codes[0] = -127, -127 // extremes
		got, want := make([]int32, n), make([]int32, n)
		dotsInt8(q, codes, pdim, got)
		dotsInt8Go(q, codes, pdim, want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pdim %d (AVX2 %v): kernel %v, want %v", pdim, haveAVX2, got[:4], want[:4])
		}
	}
	v := []float32{0.5, -0.25, 0.1, 0}
	codes, scale, eps := quantize(v, 32)
	if codes[0] != 127 || codes[1] != -64 || codes[4] != 0 || scale != 0.5/127 {
		t.Errorf("quantize: %v %v", codes[:5], scale)
	}
	var e2 float64
	for i, x := range v {
		d := float64(x) - float64(codes[i])*float64(scale)
		e2 += d * d
	}
	if d := float64(eps) - math.Sqrt(e2); d > 1e-7 || d < -1e-7 {
		t.Errorf("eps %v, want %v", eps, math.Sqrt(e2))
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	rec := record{Op: opReplace, VideoID: "v", Points: []index.Point{
		{ID: "1", Vectors: map[string][]float32{"b": {1, 2}, "a": {3}}, Payload: index.Payload{VideoID: "v", Labels: []string{"x"}}},
		{ID: "2", Sparse: map[string]index.SparseVector{"t": {Indices: []uint32{1}, Values: []float32{0.5}}}, Payload: index.Payload{VideoID: "v"}},
	}}
	body, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(body)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(rec) {
		t.Errorf("round trip:\n%v\n%v", got, rec)
	}
	if _, err := decodeRecord(body[:len(body)-2]); err == nil {
		t.Error("a short record must fail to decode")
	}
}

// A drop that crashed before removing its log must not bring the old
// points back when a collection of that name is made again.
func TestDroppedCollectionStaysDropped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	e := open(t, dir)
	if err := e.Ensure(ctx, "x", index.Schema{Dense: map[string]int{"v": 3}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Upsert(ctx, "x", []index.Point{{ID: "1", Vectors: map[string][]float32{"v": {1, 0, 0}}, Payload: index.Payload{VideoID: "a"}}}); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "collections", "x.log")
	saved, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DropCollection(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	e.Close()
	os.WriteFile(logPath, saved, 0o644) // as if the crash came before the remove

	e2 := open(t, dir)
	if _, err := os.Stat(logPath); err == nil {
		t.Error("the log of a dropped collection survived a reopen")
	}
	os.WriteFile(logPath, saved, 0o644) // and even if it is there when made again
	if err := e2.Ensure(ctx, "x", index.Schema{Dense: map[string]int{"v": 4}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e2.Count(ctx, "x", index.Filter{}); n != 0 {
		t.Fatalf("the new collection has %d old points", n)
	}
	if err := e2.Upsert(ctx, "x", []index.Point{{ID: "2", Vectors: map[string][]float32{"v": {1, 0, 0, 0}}, Payload: index.Payload{VideoID: "b"}}}); err != nil {
		t.Fatal(err)
	}
	if hits, err := e2.Query(ctx, index.Query{Collection: "x", Using: "v", Dense: []float32{1, 0, 0, 0}, Limit: 5}); err != nil || len(hits) != 1 {
		t.Errorf("query: %v %v", hits, err)
	}
}

// A bad record with later records behind it is corruption, not a torn
// write: opening refuses rather than cut every later write.
func TestCorruptRecordMidLogRefusesToOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	e := open(t, dir)
	for i := range 3 {
		if err := e.Upsert(ctx, index.Segments, []index.Point{seg(fmt.Sprint("v", i), "s", 0, 1, float32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	path := filepath.Join(dir, "collections", index.Segments+".log")
	b, _ := os.ReadFile(path)
	b[headerSize+5] ^= 0xff // inside the first record's body
	os.WriteFile(path, b, 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("open with a corrupt first record: %v", err)
	}
}

// Writes that arrive while another is being logged share its successor's
// single append and fsync (group commit), and each still gets its own
// result.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := open(t, t.TempDir())
	e.writeMu.Lock() // a commit in progress
	before := e.syncs
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			p := seg(fmt.Sprint("g", i), "s", 0, 1, float32(i))
			if i == 5 {
				p = seg("bad", "s", 0, 1, 2, 3) // wrong dimension
			}
			errs[i] = e.ReplaceVideo(ctx, index.Segments, p.Payload.VideoID, []index.Point{p})
		})
	}
	for {
		e.queueMu.Lock()
		n := len(e.queue)
		e.queueMu.Unlock()
		if n == len(errs) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	e.writeMu.Unlock()
	wg.Wait()
	for i, err := range errs[:5] {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if errs[5] == nil {
		t.Error("the bad write in the group succeeded")
	}
	if got := e.syncs - before; got != 1 {
		t.Errorf("%d appends for 5 queued writes, want 1", got)
	}
	if n, _ := e.Count(ctx, index.Segments, index.Filter{}); n != 5 {
		t.Errorf("%d points, want 5", n)
	}
}
