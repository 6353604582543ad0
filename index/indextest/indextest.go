// Package indextest is the conformance suite every index.Index backend
// passes: the embedded backend and the Qdrant backend (against
// index/qdranttest always, and a real Qdrant when QDRANT_ADDR is set). A
// behaviour the search service relies on belongs here, not in one backend's
// tests, so the two cannot drift apart.
package indextest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediavec/mediavec/index"
)

// Opener returns a ready index for one test; the test closes it.
type Opener func(t *testing.T) index.Index

// Run runs the whole suite. Collection names carry a random suffix, so the
// suite can share a real Qdrant with other runs.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"EnsureAndSchema", testEnsure},
		{"DenseCosineRanking", testDense},
		{"Validation", testValidation},
		{"Filters", testFilters},
		{"SparseIDF", testSparse},
		{"PrefetchRRF", testFusion},
		{"Groups", testGroups},
		{"ReplaceAndDeleteVideo", testReplace},
		{"GetRoundTrip", testGet},
		{"AliasesAndGenerations", testAliases},
		{"ConcurrentWritersAndReaders", testConcurrent},
		{"ManyPoints", testMany},
		{"CopyDescriptors", testCopyDescriptors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := open(t)
			t.Cleanup(func() { ix.Close() })
			s := &suite{ix: ix, ctx: t.Context(), prefix: fmt.Sprintf("it%08x", rand.Uint32())}
			tc.fn(t, s)
		})
	}
}

type suite struct {
	ix     index.Index
	ctx    context.Context
	prefix string
}

func (s *suite) name(base string) string { return s.prefix + "_" + base }

var schema = index.Schema{Dense: map[string]int{"a": 3, "b": 2}, Sparse: []string{"text"}}

// collection makes a fresh collection with the standard schema.
func (s *suite) collection(t *testing.T, base string) string {
	t.Helper()
	name := s.name(base)
	if err := s.ix.Ensure(s.ctx, name, schema); err != nil {
		t.Fatalf("ensure %s: %v", name, err)
	}
	t.Cleanup(func() { _ = s.ix.DropCollection(context.WithoutCancel(s.ctx), name) })
	return name
}

func (s *suite) upsert(t *testing.T, coll string, pts ...index.Point) {
	t.Helper()
	if err := s.ix.Upsert(s.ctx, coll, pts); err != nil {
		t.Fatalf("upsert: %v", err)
	}
}

// pt makes a segment point of video v, ordinal ord, with dense vector "a".
func pt(v string, ord int, a ...float32) index.Point {
	return index.Point{
		ID:      index.SegmentID(v, "a", ord),
		Vectors: map[string][]float32{"a": a},
		Payload: index.Payload{VideoID: v, Space: "a", Modality: "frame", TStart: float64(ord), TEnd: float64(ord + 1)},
	}
}

func key(p index.Payload) string { return fmt.Sprintf("%s/%g", p.VideoID, p.TStart) }

func keys(hits []index.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = key(h.Payload)
	}
	return out
}

func (s *suite) query(t *testing.T, q index.Query) []index.Hit {
	t.Helper()
	hits, err := s.ix.Query(s.ctx, q)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return hits
}

func want(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func testEnsure(t *testing.T, s *suite) {
	c := s.collection(t, "ens")
	if err := s.ix.Ensure(s.ctx, c, schema); err != nil {
		t.Errorf("ensuring an existing collection with its schema: %v", err)
	}
	other := index.Schema{Dense: map[string]int{"a": 4}}
	if err := s.ix.Ensure(s.ctx, c, other); !errors.Is(err, index.ErrSchema) {
		t.Errorf("ensuring with another schema: %v, want ErrSchema", err)
	}
	got, err := s.ix.Schema(s.ctx, c)
	if err != nil || fmt.Sprint(got.Dense) != fmt.Sprint(schema.Dense) || !slices.Equal(got.Sparse, schema.Sparse) {
		t.Errorf("schema of %s: %+v (%v), want %+v", c, got, err, schema)
	}
	if _, err := s.ix.Schema(s.ctx, s.name("missing")); !errors.Is(err, index.ErrNoCollection) {
		t.Errorf("schema of a missing collection: %v, want ErrNoCollection", err)
	}
	cols, err := s.ix.Collections(s.ctx)
	if err != nil || !slices.Contains(cols, c) {
		t.Errorf("collections %v (%v) lack %s", cols, err, c)
	}
	err = s.ix.Upsert(s.ctx, s.name("missing"), []index.Point{pt("v", 0, 1, 0, 0)})
	if !errors.Is(err, index.ErrNoCollection) {
		t.Errorf("upsert into a missing collection: %v, want ErrNoCollection", err)
	}
	_, err = s.ix.Query(s.ctx, index.Query{Collection: s.name("missing"), Using: "a", Dense: []float32{1, 0, 0}, Limit: 1})
	if !errors.Is(err, index.ErrNoCollection) {
		t.Errorf("query of a missing collection: %v, want ErrNoCollection", err)
	}
}

func testDense(t *testing.T, s *suite) {
	c := s.collection(t, "dense")
	s.upsert(t, c,
		pt("a", 0, 1, 0, 0),
		pt("a", 1, 1, 1, 0), // 45° from the query
		pt("b", 0, 0, 0, 5), // orthogonal
		pt("c", 0, 3, 0.1, 0),
		index.Point{ID: index.SegmentID("c", "b", 0), Vectors: map[string][]float32{"b": {1, 0}}, Payload: index.Payload{VideoID: "c", TStart: 9}},
	)
	hits := s.query(t, index.Query{Collection: c, Using: "a", Dense: []float32{2, 0, 0}, Limit: 3})
	want(t, "top 3", keys(hits), "a/0", "c/0", "a/1")
	if len(hits) == 3 {
		if math.Abs(float64(hits[0].Score)-1) > 1e-4 || math.Abs(float64(hits[2].Score)-math.Sqrt2/2) > 1e-4 {
			t.Errorf("scores %v, %v: want cosine 1 and 0.7071", hits[0].Score, hits[2].Score)
		}
		if hits[0].ID != index.SegmentID("a", "a", 0) {
			t.Errorf("hit id %s", hits[0].ID)
		}
	}
	hits = s.query(t, index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}, Limit: 10})
	want(t, "all with vector a", keys(hits), "a/0", "c/0", "a/1", "b/0")
	th := float32(0.5)
	hits = s.query(t, index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}, Limit: 10, ScoreThreshold: &th})
	want(t, "above 0.5", keys(hits), "a/0", "c/0", "a/1")
	hits = s.query(t, index.Query{Collection: c, Using: "b", Dense: []float32{0.5, 0}, Limit: 10})
	want(t, "vector b", keys(hits), "c/9")
	if n, err := s.ix.Count(s.ctx, c, index.Filter{}); err != nil || n != 5 {
		t.Errorf("count %d (%v), want 5", n, err)
	}
}

func testValidation(t *testing.T, s *suite) {
	c := s.collection(t, "valid")
	s.upsert(t, c, pt("a", 0, 1, 0, 0))
	bad := []struct {
		name string
		p    index.Point
		want error
	}{
		{"wrong dimension", pt("a", 1, 1, 0), index.ErrBadVector},
		{"unknown vector", index.Point{ID: index.SegmentID("a", "z", 0), Vectors: map[string][]float32{"z": {1}}, Payload: index.Payload{VideoID: "a"}}, index.ErrBadVector},
		{"id not a UUID", index.Point{ID: "seg-1", Vectors: map[string][]float32{"a": {1, 0, 0}}, Payload: index.Payload{VideoID: "a"}}, index.ErrBadPoint},
		{"upper-case UUID", index.Point{ID: strings.ToUpper(index.SegmentID("a", "a", 7)), Vectors: map[string][]float32{"a": {1, 0, 0}}, Payload: index.Payload{VideoID: "a"}}, index.ErrBadPoint},
		{"leading zeros", index.Point{ID: "007", Vectors: map[string][]float32{"a": {1, 0, 0}}, Payload: index.Payload{VideoID: "a"}}, index.ErrBadPoint},
		{"empty id", index.Point{Vectors: map[string][]float32{"a": {1, 0, 0}}, Payload: index.Payload{VideoID: "a"}}, index.ErrBadPoint},
	}
	for _, b := range bad {
		if err := s.ix.Upsert(s.ctx, c, []index.Point{b.p}); !errors.Is(err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
	}
	if n, _ := s.ix.Count(s.ctx, c, index.Filter{}); n != 1 {
		t.Errorf("rejected points were written: count %d", n)
	}
	badQ := []struct {
		name string
		q    index.Query
		want error
	}{
		{"query wrong dimension", index.Query{Collection: c, Using: "a", Dense: []float32{1, 0}, Limit: 1}, index.ErrBadVector},
		{"query unknown vector", index.Query{Collection: c, Using: "z", Dense: []float32{1}, Limit: 1}, index.ErrBadVector},
		{"no limit", index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}}, index.ErrBadQuery},
		{"nothing to query with", index.Query{Collection: c, Using: "a", Limit: 1}, index.ErrBadQuery},
	}
	for _, b := range badQ {
		if _, err := s.ix.Query(s.ctx, b.q); !errors.Is(err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
	}
	// Numeric ids are valid point ids too.
	num := index.Point{ID: "42", Vectors: map[string][]float32{"a": {0, 1, 0}}, Payload: index.Payload{VideoID: "n"}}
	s.upsert(t, c, num)
	got, err := s.ix.Get(s.ctx, c, "42")
	if err != nil || len(got) != 1 || got[0].ID != "42" {
		t.Errorf("numeric id: %v %v", got, err)
	}
}

func f64(x float64) *float64 { return &x }

func testFilters(t *testing.T, s *suite) {
	c := s.collection(t, "filter")
	var pts []index.Point
	for _, v := range []string{"v1", "v2", "v3"} {
		for ord := range 4 {
			p := pt(v, ord, 1, float32(ord)/10, 0)
			if ord%2 == 0 {
				p.Payload.Labels = []string{"person"}
			}
			if ord == 2 {
				p.Payload.Labels = append(p.Payload.Labels, "dog")
				p.Payload.Modality = "shot"
			}
			p.Payload.Unsafe = v == "v2"
			pts = append(pts, p)
		}
	}
	s.upsert(t, c, pts...)
	q := func(f index.Filter) []string {
		t.Helper()
		hits := s.query(t, index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}, Limit: 100, Filter: f})
		out := keys(hits)
		sort.Strings(out)
		return out
	}
	cases := []struct {
		name string
		f    index.Filter
		want []string
	}{
		{"one video", index.Filter{VideoIDs: []string{"v2"}}, []string{"v2/0", "v2/1", "v2/2", "v2/3"}},
		{"one video named twice", index.Filter{VideoIDs: []string{"v2", "v2"}}, []string{"v2/0", "v2/1", "v2/2", "v2/3"}},
		{"two videos, labels", index.Filter{VideoIDs: []string{"v1", "v3"}, Labels: []string{"dog"}}, []string{"v1/2", "v3/2"}},
		{"exclude", index.Filter{ExcludeVideoIDs: []string{"v1", "v2"}, Labels: []string{"person"}}, []string{"v3/0", "v3/2"}},
		{"every label", index.Filter{Labels: []string{"person", "dog"}, VideoIDs: []string{"v1"}}, []string{"v1/2"}},
		{"time range", index.Filter{VideoIDs: []string{"v1"}, TStartFrom: f64(1), TStartTo: f64(3)}, []string{"v1/1", "v1/2"}},
		{"modality", index.Filter{Modality: "shot", ExcludeVideoIDs: []string{"v3"}}, []string{"v1/2", "v2/2"}},
		{"space", index.Filter{Space: "nope"}, []string{}},
		{"safe", index.Filter{ExcludeUnsafe: true, Labels: []string{"dog"}}, []string{"v1/2", "v3/2"}},
	}
	for _, tc := range cases {
		got := q(tc.f)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		n, err := s.ix.Count(s.ctx, c, tc.f)
		if err != nil || n != len(tc.want) {
			t.Errorf("%s: count %d (%v), want %d", tc.name, n, err, len(tc.want))
		}
	}
}

func sparse(terms ...any) *index.SparseVector {
	sv := &index.SparseVector{}
	for i := 0; i < len(terms); i += 2 {
		sv.Indices = append(sv.Indices, uint32(terms[i].(int)))
		sv.Values = append(sv.Values, float32(terms[i+1].(float64)))
	}
	return sv
}

func testSparse(t *testing.T, s *suite) {
	c := s.collection(t, "sparse")
	// Term 1 is in every document, term 2 in one: a query for both ranks
	// the document with the rare term first even though its weight on the
	// common term is lower.
	docs := []struct {
		v  string
		sv *index.SparseVector
	}{
		{"d1", sparse(1, 2.0)},
		{"d2", sparse(1, 1.0, 2, 1.0)},
		{"d3", sparse(1, 3.0)},
		{"d4", sparse(1, 1.0, 3, 1.0)},
	}
	for i, d := range docs {
		s.upsert(t, c, index.Point{
			ID:      index.SegmentID(d.v, "text", 0),
			Sparse:  map[string]index.SparseVector{"text": *d.sv},
			Payload: index.Payload{VideoID: d.v, Space: "text", Modality: "text", Text: fmt.Sprint("doc ", i)},
		})
	}
	hits := s.query(t, index.Query{Collection: c, Using: "text", Sparse: sparse(1, 1.0, 2, 1.0), Limit: 10})
	want(t, "rare term first", keys(hits), "d2/0", "d3/0", "d1/0", "d4/0")
	if len(hits) == 4 {
		idf1, idf2 := index.IDF(4, 4), index.IDF(4, 1)
		if w := idf1 + idf2; math.Abs(float64(hits[0].Score)-w) > 1e-3 {
			t.Errorf("d2 scores %v, want idf1+idf2 = %v", hits[0].Score, w)
		}
		if w := 3 * idf1; math.Abs(float64(hits[1].Score)-w) > 1e-3 {
			t.Errorf("d3 scores %v, want 3·idf1 = %v", hits[1].Score, w)
		}
	}
	hits = s.query(t, index.Query{Collection: c, Using: "text", Sparse: sparse(9, 1.0), Limit: 10})
	want(t, "unknown term", keys(hits))
	if _, err := s.ix.Query(s.ctx, index.Query{Collection: c, Using: "nope", Sparse: sparse(1, 1.0), Limit: 1}); !errors.Is(err, index.ErrBadVector) {
		t.Errorf("unknown sparse vector: %v, want ErrBadVector", err)
	}
}

func testFusion(t *testing.T, s *suite) {
	c := s.collection(t, "fuse")
	// Dense ranks y > x > z; sparse ranks z > y. Fused with k = 60:
	// y = 1/61 + 1/62, z = 1/63 + 1/61, x = 1/62.
	mk := func(v string, a []float32, sv *index.SparseVector) index.Point {
		p := index.Point{ID: index.SegmentID(v, "m", 0), Vectors: map[string][]float32{"a": a}, Payload: index.Payload{VideoID: v}}
		if sv != nil {
			p.Sparse = map[string]index.SparseVector{"text": *sv}
		}
		return p
	}
	s.upsert(t, c,
		mk("x", []float32{1, 0.3, 0}, nil),
		mk("y", []float32{1, 0, 0}, sparse(7, 1.0)),
		mk("z", []float32{1, 1, 0}, sparse(7, 2.0)),
	)
	hits := s.query(t, index.Query{Collection: c, Limit: 3, RRFK: 60, Prefetch: []index.Query{
		{Using: "a", Dense: []float32{1, 0, 0}, Limit: 3},
		{Using: "text", Sparse: sparse(7, 1.0), Limit: 3},
	}})
	want(t, "fused", keys(hits), "y/0", "z/0", "x/0")
	if len(hits) == 3 {
		if w := 1.0/61 + 1.0/62; math.Abs(float64(hits[0].Score)-w) > 1e-6 {
			t.Errorf("fused score of y %v, want %v", hits[0].Score, w)
		}
	}
	// The query's filter applies to every prefetch: without y, dense ranks
	// x > z and sparse has z alone.
	hits = s.query(t, index.Query{Collection: c, Limit: 3, Filter: index.Filter{ExcludeVideoIDs: []string{"y"}}, Prefetch: []index.Query{
		{Using: "a", Dense: []float32{1, 0, 0}, Limit: 3},
		{Using: "text", Sparse: sparse(7, 1.0), Limit: 3},
	}})
	want(t, "fused without y", keys(hits), "z/0", "x/0")
}

func testGroups(t *testing.T, s *suite) {
	c := s.collection(t, "groups")
	s.upsert(t, c,
		pt("v1", 0, 1, 0.1, 0), pt("v1", 1, 1, 0.2, 0), pt("v1", 2, 1, 0.9, 0),
		pt("v2", 0, 1, 0, 0), pt("v2", 1, 0, 1, 0),
		pt("v3", 0, 1, 0.5, 0),
		pt("v4", 0, 0, 0, 1),
	)
	gs, err := s.ix.QueryGroups(s.ctx, index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}, Limit: 3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range gs {
		got = append(got, g.VideoID+":"+fmt.Sprint(keys(g.Hits)))
	}
	want(t, "groups", got, "v2:[v2/0 v2/1]", "v1:[v1/0 v1/1]", "v3:[v3/0]")
	gs, err = s.ix.QueryGroups(s.ctx, index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}, Limit: 10, Filter: index.Filter{ExcludeVideoIDs: []string{"v2"}}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, g := range gs {
		got = append(got, g.VideoID)
	}
	want(t, "filtered groups", got, "v1", "v3", "v4")
}

func testReplace(t *testing.T, s *suite) {
	c := s.collection(t, "replace")
	s.upsert(t, c, pt("v", 0, 1, 0, 0), pt("v", 1, 1, 0, 0), pt("v", 2, 1, 0, 0), pt("w", 0, 1, 0, 0))
	if err := s.ix.ReplaceVideo(s.ctx, c, "v", []index.Point{pt("v", 0, 0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ix.Count(s.ctx, c, index.Filter{VideoIDs: []string{"v"}}); n != 1 {
		t.Errorf("after replace: %d points of v, want 1", n)
	}
	got, _ := s.ix.Get(s.ctx, c, index.SegmentID("v", "a", 0))
	if len(got) != 1 || got[0].Vectors["a"][1] < 0.99 {
		t.Errorf("replaced point: %+v", got)
	}
	// Replacing again with the same points changes nothing: redelivery is
	// harmless.
	if err := s.ix.ReplaceVideo(s.ctx, c, "v", []index.Point{pt("v", 0, 0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ix.Count(s.ctx, c, index.Filter{}); n != 2 {
		t.Errorf("after a second replace: %d points, want 2", n)
	}
	if err := s.ix.ReplaceVideo(s.ctx, c, "v", []index.Point{pt("w", 5, 1, 0, 0)}); !errors.Is(err, index.ErrBadPoint) {
		t.Errorf("replacing v with a point of w: %v, want ErrBadPoint", err)
	}
	if err := s.ix.DeleteVideo(s.ctx, c, "v"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ix.Count(s.ctx, c, index.Filter{}); n != 1 {
		t.Errorf("after delete: %d points, want 1", n)
	}
	if err := s.ix.DeleteVideo(s.ctx, c, "never-there"); err != nil {
		t.Errorf("deleting an unknown video: %v", err)
	}
}

func testGet(t *testing.T, s *suite) {
	c := s.collection(t, "get")
	at := time.Date(2026, 11, 26, 10, 30, 0, 123000000, time.UTC)
	p := index.Point{
		ID:      index.VideoID("vid"),
		Vectors: map[string][]float32{"a": {3, 0, 4}, "b": {0, 2}},
		Sparse:  map[string]index.SparseVector{"text": {Indices: []uint32{9, 5}, Values: []float32{0.5, 1}}},
		Payload: index.Payload{
			VideoID: "vid", Space: "a", Modality: "video", TStart: 1.5, TEnd: 30.25,
			Text: "a dog on a skateboard", Labels: []string{"dog", "skateboard"}, Source: "file:///x.mp4", Speech: 0.75,
			Words: []index.TimedWord{{Text: "a", TStart: 1.5, TEnd: 30.25}, {Text: "dog", TStart: 2, TEnd: 30.25}}, Confidence: 0.875,
			IndexedAt: at, Fields: map[string]string{"title": "Skater dog"},
			Safety: map[string]float64{"porn_max": 0.25, "neutral_share": 1}, Unsafe: true,
		},
	}
	s.upsert(t, c, p)
	got, err := s.ix.Get(s.ctx, c, p.ID, index.SegmentID("nope", "a", 0))
	if err != nil || len(got) != 1 {
		t.Fatalf("get: %v %v", got, err)
	}
	g := got[0]
	if g.ID != p.ID {
		t.Errorf("id %s, want %s", g.ID, p.ID)
	}
	if !g.Payload.IndexedAt.Equal(at) {
		t.Errorf("indexed_at %v, want %v", g.Payload.IndexedAt, at)
	}
	g.Payload.IndexedAt, p.Payload.IndexedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g.Payload, p.Payload) {
		t.Errorf("payload %+v, want %+v", g.Payload, p.Payload)
	}
	// Dense vectors come back normalised (cosine distance).
	if a := g.Vectors["a"]; len(a) != 3 || math.Abs(float64(a[0])-0.6) > 1e-5 || math.Abs(float64(a[2])-0.8) > 1e-5 {
		t.Errorf("vector a %v, want [0.6 0 0.8]", a)
	}
	// Sparse vectors come back with their indices in ascending order.
	sv, wantSV := g.Sparse["text"], index.SparseVector{Indices: []uint32{5, 9}, Values: []float32{1, 0.5}}
	if !reflect.DeepEqual(sv, wantSV) {
		t.Errorf("sparse %+v, want %+v", sv, wantSV)
	}
}

func testAliases(t *testing.T, s *suite) {
	segs := index.Schema{Dense: map[string]int{"a": 3}}
	vids := index.Schema{Dense: map[string]int{"a": 3}}
	// The suite's own alias names, so it can share a real Qdrant.
	base1, base2 := s.name("segments"), s.name("videos")
	g1, g2 := index.Generation(base1, 1), index.Generation(base1, 2)
	cleanup := func() {
		ctx := context.WithoutCancel(s.ctx)
		for _, n := range []string{g1, g2, index.Generation(base2, 1)} {
			_ = s.ix.DropCollection(ctx, n)
		}
	}
	t.Cleanup(cleanup)
	for _, g := range []string{g1, g2} {
		if err := s.ix.Ensure(s.ctx, g, segs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ix.Ensure(s.ctx, index.Generation(base2, 1), vids); err != nil {
		t.Fatal(err)
	}
	if err := s.ix.SetAlias(s.ctx, base1, g1); err != nil {
		t.Fatal(err)
	}
	s.upsert(t, base1, pt("old", 0, 1, 0, 0)) // through the alias, into g1
	s.upsert(t, g2, pt("new", 0, 1, 0, 0))
	hits := s.query(t, index.Query{Collection: base1, Using: "a", Dense: []float32{1, 0, 0}, Limit: 5})
	want(t, "alias on g1", keys(hits), "old/0")
	if err := s.ix.SetAlias(s.ctx, base1, g2); err != nil {
		t.Fatal(err)
	}
	hits = s.query(t, index.Query{Collection: base1, Using: "a", Dense: []float32{1, 0, 0}, Limit: 5})
	want(t, "alias moved to g2", keys(hits), "new/0")
	aliases, err := s.ix.Aliases(s.ctx)
	if err != nil || aliases[base1] != g2 {
		t.Errorf("aliases %v (%v): want %s → %s", aliases, err, base1, g2)
	}
	if err := s.ix.DropCollection(s.ctx, g2); err == nil {
		t.Error("dropping the collection an alias points at must fail")
	}
	if err := s.ix.DropCollection(s.ctx, g1); err != nil {
		t.Errorf("dropping the old generation: %v", err)
	}
	if err := s.ix.SetAlias(s.ctx, base1, s.name("nope")); err == nil {
		t.Error("an alias to a missing collection must fail")
	}
}

func testConcurrent(t *testing.T, s *suite) {
	c := s.collection(t, "conc")
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				v := fmt.Sprintf("w%d", w)
				if err := s.ix.ReplaceVideo(s.ctx, c, v, []index.Point{pt(v, i, 1, float32(i), 0)}); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter {
				if _, err := s.ix.Query(s.ctx, index.Query{Collection: c, Using: "a", Dense: []float32{1, 0, 0}, Limit: 3}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := s.ix.Count(s.ctx, c, index.Filter{}); n != writers {
		t.Errorf("%d points, want %d (one per video after its replaces)", n, writers)
	}
}

func testMany(t *testing.T, s *suite) {
	name := s.name("many")
	const dim, n = 512, 2500
	if err := s.ix.Ensure(s.ctx, name, index.Schema{Dense: map[string]int{"v": dim}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.ix.DropCollection(context.WithoutCancel(s.ctx), name) })
	rng := rand.New(rand.NewPCG(1, 2))
	pts := make([]index.Point, n)
	for i := range pts {
		v := make([]float32, dim)
		for j := range v {
			v[j] = rng.Float32()*2 - 1
		}
		pts[i] = index.Point{ID: fmt.Sprint(i + 1), Vectors: map[string][]float32{"v": v}, Payload: index.Payload{VideoID: fmt.Sprintf("v%d", i%50), TStart: float64(i)}}
	}
	// One call with more points than any batch: the backend splits it.
	if err := s.ix.Upsert(s.ctx, name, pts); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ix.Count(s.ctx, name, index.Filter{}); got != n {
		t.Fatalf("count %d, want %d", got, n)
	}
	// Every point is its own nearest neighbour.
	for _, i := range []int{0, 1234, n - 1} {
		hits := s.query(t, index.Query{Collection: name, Using: "v", Dense: pts[i].Vectors["v"], Limit: 1})
		if len(hits) != 1 || hits[0].ID != pts[i].ID {
			t.Errorf("query with point %s: %v", pts[i].ID, hits)
		}
	}
	// A response above gRPC's default 4 MiB (2500 × 512 floats ≈ 5 MiB)
	// must come back whole.
	ids := make([]string, n)
	for i := range ids {
		ids[i] = pts[i].ID
	}
	got, err := s.ix.Get(s.ctx, name, append(ids, ids...)...)
	if err != nil {
		t.Fatalf("get all: %v", err)
	}
	if len(got) < n {
		t.Errorf("get all: %d points, want at least %d", len(got), n)
	}
}

// testCopyDescriptors is what near-duplicate search asks of a backend
// with the copy descriptors' real shapes: frame_dct_v1 (255 DCT
// coefficients) and audio_print_v1 (512 bits as ±1/√512). A video's
// segments of one space are counted and read back by their point ids,
// in order, with their vectors (verification aligns them); a fingerprint
// window finds its own video first at cosine 1, and one with 8 bits
// flipped scores 1 − 2·8/512.
func testCopyDescriptors(t *testing.T, s *suite) {
	const frameSpace, printSpace, frameDim, printDim = "frame_dct_v1", "audio_print_v1", 255, 512
	c := s.name("copies")
	if err := s.ix.Ensure(s.ctx, c, index.Schema{Dense: map[string]int{frameSpace: frameDim, printSpace: printDim}}); err != nil {
		t.Fatalf("ensure: %v", err)
	}
	t.Cleanup(func() { _ = s.ix.DropCollection(context.WithoutCancel(s.ctx), c) })
	rng := rand.New(rand.NewPCG(7, 11))
	frame := func() []float32 {
		v := make([]float32, frameDim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	bits := func() []float32 {
		v := make([]float32, printDim)
		for i := range v {
			v[i] = float32(1 / math.Sqrt(printDim))
			if rng.IntN(2) == 0 {
				v[i] = -v[i]
			}
		}
		return v
	}
	var pts []index.Point
	want := map[string][][]float32{}
	for _, video := range []string{"src", "other"} {
		for i := range 12 {
			v := frame()
			want[video+"/f"] = append(want[video+"/f"], v)
			pts = append(pts, index.Point{ID: index.SegmentID(video, frameSpace, i), Vectors: map[string][]float32{frameSpace: v},
				Payload: index.Payload{VideoID: video, Space: frameSpace, Modality: "frame", TStart: float64(i), TEnd: float64(i + 1)}})
		}
		for i := range 5 {
			v := bits()
			want[video+"/a"] = append(want[video+"/a"], v)
			pts = append(pts, index.Point{ID: index.SegmentID(video, printSpace, i), Vectors: map[string][]float32{printSpace: v},
				Payload: index.Payload{VideoID: video, Space: printSpace, Modality: "audio", TStart: float64(i), TEnd: float64(i + 2)}})
		}
	}
	s.upsert(t, c, pts...)
	n, err := s.ix.Count(s.ctx, c, index.Filter{VideoIDs: []string{"src"}, Space: frameSpace})
	if err != nil || n != 12 {
		t.Fatalf("count of src's frames: %d, %v; want 12", n, err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = index.SegmentID("src", frameSpace, i)
	}
	got, err := s.ix.Get(s.ctx, c, ids...)
	if err != nil || len(got) != 12 {
		t.Fatalf("get src's frames: %d, %v", len(got), err)
	}
	for i, p := range got {
		if p.Payload.TStart != float64(i) {
			t.Fatalf("frame %d came back at %g: not in the order asked", i, p.Payload.TStart)
		}
		if cos := cosine(p.Vectors[frameSpace], want["src/f"][i]); cos < 1-1e-5 {
			t.Errorf("frame %d came back with cosine %.6f to what was written", i, cos)
		}
	}
	q := append([]float32(nil), want["src/a"][3]...)
	for i := range 8 {
		q[i*37] = -q[i*37]
	}
	groups, err := s.ix.QueryGroups(s.ctx, index.Query{Collection: c, Using: printSpace, Dense: q, Limit: 2}, 1)
	if err != nil || len(groups) == 0 {
		t.Fatalf("query a fingerprint: %v %v", groups, err)
	}
	if g := groups[0]; g.VideoID != "src" || g.Hits[0].Payload.TStart != 3 || math.Abs(float64(g.Hits[0].Score)-(1-2*8.0/512)) > 1e-3 {
		t.Errorf("fingerprint with 8 bits flipped: %s at %g scored %.4f, want src at 3 scoring %.4f", g.VideoID, g.Hits[0].Payload.TStart, g.Hits[0].Score, 1-2*8.0/512)
	}
	if len(groups) > 1 && groups[1].Hits[0].Score > 0.3 {
		t.Errorf("an unrelated fingerprint scored %.3f", groups[1].Hits[0].Score)
	}
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}
