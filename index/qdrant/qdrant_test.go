package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/qdranttest"
)

// Request construction: what the backend sends, field by field.

func TestQdrantConfigDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in                      Config
		batch, retries, maxRecv int
		addr                    string
	}{
		{Config{}, 128, 5, 64 << 20, "localhost:6334"},
		{Config{BatchSize: 10, Retries: -1, Addr: "q:1"}, 64, 0, 64 << 20, "q:1"},
		{Config{BatchSize: 1000, Retries: 2, MaxRecvMsgSize: 8 << 20}, 256, 2, 8 << 20, "localhost:6334"},
		{Config{BatchSize: 200}, 200, 5, 64 << 20, "localhost:6334"},
	}
	for _, c := range cases {
		got := c.in.withDefaults()
		if got.BatchSize != c.batch || got.Retries != c.retries || got.MaxRecvMsgSize != c.maxRecv || got.Addr != c.addr {
			t.Errorf("%+v: got batch %d retries %d recv %d addr %s", c.in, got.BatchSize, got.Retries, got.MaxRecvMsgSize, got.Addr)
		}
	}
}

func f64p(x float64) *float64 { return &x }

func TestQdrantFilterMapping(t *testing.T) {
	t.Parallel()
	if qdrantFilter(index.Filter{}) != nil {
		t.Error("a zero filter must send no filter")
	}
	got := qdrantFilter(index.Filter{
		VideoIDs: []string{"a", "b"}, ExcludeVideoIDs: []string{"c"},
		Space: "frame_dct_v1", Modality: "frame", Labels: []string{"dog", "cat"},
		TStartFrom: f64p(1.5), TStartTo: f64p(9), ExcludeUnsafe: true,
	})
	want := &qc.Filter{
		Must: []*qc.Condition{
			qc.NewMatchKeywords("video_id", "a", "b"),
			qc.NewMatchKeyword("space", "frame_dct_v1"),
			qc.NewMatchKeyword("modality", "frame"),
			qc.NewMatchKeyword("labels", "dog"),
			qc.NewMatchKeyword("labels", "cat"),
			qc.NewRange("t_start", &qc.Range{Gte: f64p(1.5), Lt: f64p(9)}),
		},
		MustNot: []*qc.Condition{qc.NewMatchKeywords("video_id", "c"), qc.NewMatchBool("unsafe", true)},
	}
	if !proto.Equal(got, want) {
		t.Errorf("filter\n got %v\nwant %v", got, want)
	}
	// Only one bound: the other is left open.
	r := qdrantFilter(index.Filter{TStartTo: f64p(3)}).GetMust()[0].GetField().GetRange()
	if r.Gte != nil || r.GetLt() != 3 || r.Gt != nil || r.Lte != nil {
		t.Errorf("range %v, want lt 3 only", r)
	}
}

func TestQdrantQueryRequest(t *testing.T) {
	t.Parallel()
	th := float32(0.25)
	req := queryRequest(index.Query{Collection: "segments", Using: "a", Dense: []float32{1, 2}, Limit: 7, ScoreThreshold: &th, Filter: index.Filter{Space: "a"}})
	switch {
	case req.GetCollectionName() != "segments", req.GetUsing() != "a", req.GetLimit() != 7, req.GetScoreThreshold() != 0.25:
		t.Errorf("dense request %v", req)
	case !slices.Equal(req.GetQuery().GetNearest().GetDense().GetData(), []float32{1, 2}):
		t.Errorf("dense query %v", req.GetQuery())
	case !proto.Equal(req.GetFilter(), qdrantFilter(index.Filter{Space: "a"})):
		t.Errorf("filter %v", req.GetFilter())
	case !req.GetWithPayload().GetEnable() || req.WithVectors != nil || len(req.GetPrefetch()) != 0:
		t.Errorf("payload/vectors/prefetch %v", req)
	}
	req = queryRequest(index.Query{Collection: "segments", Using: "text", Sparse: &index.SparseVector{Indices: []uint32{3, 1}, Values: []float32{0.5, 2}}, Limit: 1})
	sv := req.GetQuery().GetNearest().GetSparse()
	if req.GetUsing() != "text" || !slices.Equal(sv.GetIndices(), []uint32{3, 1}) || !slices.Equal(sv.GetValues(), []float32{0.5, 2}) || req.Filter != nil {
		t.Errorf("sparse request %v", req)
	}
}

func TestQdrantFusionRequest(t *testing.T) {
	t.Parallel()
	top := index.Filter{ExcludeVideoIDs: []string{"x"}}
	own := index.Filter{Modality: "text"}
	cases := []struct {
		name    string
		q       index.Query
		k       uint32
		filters []*qc.Filter
	}{
		// Qdrant's k is one more than Query's: it counts positions from 0.
		{"default k, query filter to every prefetch", index.Query{Collection: "c", Limit: 5, Filter: top, Prefetch: []index.Query{
			{Using: "a", Dense: []float32{1}, Limit: 20},
			{Using: "text", Sparse: &index.SparseVector{Indices: []uint32{1}, Values: []float32{1}}, Limit: 30},
		}}, 61, []*qc.Filter{qdrantFilter(top), qdrantFilter(top)}},
		{"k 5, a prefetch's own filter", index.Query{Collection: "c", Limit: 5, RRFK: 5, Prefetch: []index.Query{
			{Using: "a", Dense: []float32{1}, Limit: 20, Filter: own},
			{Using: "b", Dense: []float32{1}, Limit: 30},
		}}, 6, []*qc.Filter{qdrantFilter(own), nil}},
	}
	for _, c := range cases {
		req := queryRequest(c.q)
		if req.GetQuery().GetRrf().GetK() != c.k || req.GetQuery().GetRrf().K == nil {
			t.Errorf("%s: fusion %v, want RRF k %d", c.name, req.GetQuery(), c.k)
		}
		if req.Filter != nil || req.ScoreThreshold != nil || req.Using != nil || req.GetLimit() != 5 {
			t.Errorf("%s: top level %v: want no filter, threshold or using; limit 5", c.name, req)
		}
		if len(req.GetPrefetch()) != len(c.q.Prefetch) {
			t.Fatalf("%s: %d prefetches", c.name, len(req.GetPrefetch()))
		}
		for i, pf := range req.GetPrefetch() {
			sub := c.q.Prefetch[i]
			if pf.GetUsing() != sub.Using || pf.GetLimit() != uint64(sub.Limit) || !proto.Equal(pf.GetFilter(), c.filters[i]) {
				t.Errorf("%s: prefetch %d = %v", c.name, i, pf)
			}
			if pf.GetQuery().GetNearest() == nil {
				t.Errorf("%s: prefetch %d is not a nearest query", c.name, i)
			}
		}
	}
}

func TestQdrantGroupsRequest(t *testing.T) {
	t.Parallel()
	req := groupsRequest(index.Query{Collection: "c", Using: "a", Dense: []float32{1}, Limit: 4, Filter: index.Filter{Space: "a"}}, 3)
	if req.GetGroupBy() != "video_id" || req.GetGroupSize() != 3 || req.GetLimit() != 4 || req.GetUsing() != "a" ||
		req.GetFilter() == nil || !req.GetWithPayload().GetEnable() || req.GetQuery().GetNearest() == nil {
		t.Errorf("groups request %v", req)
	}
}

func TestQdrantUpsertRequests(t *testing.T) {
	t.Parallel()
	pts := make([]*qc.PointStruct, 300)
	for i := range pts {
		pts[i] = &qc.PointStruct{Id: qc.NewIDNum(uint64(i))}
	}
	for _, c := range []struct {
		cfg   int
		sizes []int
	}{{0, []int{128, 128, 44}}, {10, []int{64, 64, 64, 64, 44}}, {1000, []int{256, 44}}} {
		batch := Config{BatchSize: c.cfg}.withDefaults().BatchSize
		var sizes []int
		next := 0
		for _, r := range upsertRequests("c", pts, batch) {
			sizes = append(sizes, len(r.GetPoints()))
			if r.GetCollectionName() != "c" || r.Wait == nil || !r.GetWait() {
				t.Errorf("request %v: want collection c, wait=true", r)
			}
			for _, p := range r.GetPoints() {
				if p.GetId().GetNum() != uint64(next) {
					t.Fatalf("point %d out of order", p.GetId().GetNum())
				}
				next++
			}
		}
		if !slices.Equal(sizes, c.sizes) {
			t.Errorf("BatchSize %d: batches %v, want %v", c.cfg, sizes, c.sizes)
		}
	}
}

func TestQdrantPointStruct(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 30, 0, 123456789, time.FixedZone("IST", 5*3600+1800))
	p := index.Point{
		ID:      "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4",
		Vectors: map[string][]float32{"a": {1, 2}},
		Sparse:  map[string]index.SparseVector{"t": {Indices: []uint32{4}, Values: []float32{0.5}}},
		Payload: index.Payload{VideoID: "v", Space: "a", TStart: 1, TEnd: 2.5, Labels: []string{"dog"}, IndexedAt: at, Fields: map[string]string{"k": "v"}},
	}
	ps, err := pointStruct(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := ps.GetId().GetUuid(); got != "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4" {
		t.Errorf("id %q, want the UUID as given", got)
	}
	vs := ps.GetVectors().GetVectors().GetVectors()
	if !slices.Equal(vs["a"].GetDense().GetData(), []float32{1, 2}) || !slices.Equal(vs["t"].GetSparse().GetIndices(), []uint32{4}) {
		t.Errorf("vectors %v", vs)
	}
	pl := ps.GetPayload()
	var keys []string
	for k := range pl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// modality, text and source are empty: left out.
	if want := []string{"fields", "indexed_at", "labels", "space", "t_end", "t_start", "video_id"}; !slices.Equal(keys, want) {
		t.Errorf("payload keys %v, want %v", keys, want)
	}
	if got := pl["indexed_at"].GetStringValue(); got != "2026-11-26T10:30:00.123456789+05:30" {
		t.Errorf("indexed_at %q", got)
	}
	if got := pl["t_end"].GetDoubleValue(); got != 2.5 {
		t.Errorf("t_end %v", got)
	}
	if ps, err := pointStruct(index.Point{ID: "42", Vectors: map[string][]float32{"a": {1}}}); err != nil || ps.GetId().GetNum() != 42 {
		t.Errorf("numeric id: %v %v", ps.GetId(), err)
	}
	bad := []struct {
		name string
		p    index.Point
		want error
	}{
		{"not an id", index.Point{ID: "seg-1", Vectors: map[string][]float32{"a": {1}}}, index.ErrBadPoint},
		{"negative number", index.Point{ID: "-4", Vectors: map[string][]float32{"a": {1}}}, index.ErrBadPoint},
		{"no vector", index.Point{ID: "1"}, index.ErrBadPoint},
		{"NaN", index.Point{ID: "1", Vectors: map[string][]float32{"a": {float32(math.NaN())}}}, index.ErrBadVector},
		{"sparse lengths", index.Point{ID: "1", Sparse: map[string]index.SparseVector{"t": {Indices: []uint32{1, 2}, Values: []float32{1}}}}, index.ErrBadVector},
		{"sparse repeats", index.Point{ID: "1", Sparse: map[string]index.SparseVector{"t": {Indices: []uint32{1, 1}, Values: []float32{1, 1}}}}, index.ErrBadVector},
		{"infinite time", index.Point{ID: "1", Vectors: map[string][]float32{"a": {1}}, Payload: index.Payload{TStart: math.Inf(1)}}, index.ErrBadPoint},
		{"bad UTF-8", index.Point{ID: "1", Vectors: map[string][]float32{"a": {1}}, Payload: index.Payload{Text: "\xff"}}, index.ErrBadPoint},
	}
	schema := index.Schema{Dense: map[string]int{"a": 1}, Sparse: []string{"t"}}
	for _, b := range bad {
		if _, err := checkedStructs(schema, "c", []index.Point{b.p}); !errors.Is(err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
	}
}

func TestQdrantPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range []index.Payload{
		{VideoID: "v"},
		{
			VideoID: "v-1029", Space: "frame_dct_v1", Modality: "frame", TStart: 12.25, TEnd: 13,
			Text: "a dog", Labels: []string{"dog", "skateboard"}, Source: "file:///x.mp4",
			Words: []index.TimedWord{{Text: "a", TStart: 12.25, TEnd: 13}, {Text: "dog", TStart: 12.5, TEnd: 13}}, Confidence: 0.875,
			IndexedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Fields: map[string]string{"title": "Skater", "lang": "en"},
		},
		{VideoID: "v", IndexedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", -7*3600))},
	} {
		m, err := qdrantPayload(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := payloadFrom(m)
		if err != nil {
			t.Fatal(err)
		}
		if !back.IndexedAt.Equal(p.IndexedAt) || back.IndexedAt.IsZero() != p.IndexedAt.IsZero() {
			t.Errorf("indexed_at %v, want %v", back.IndexedAt, p.IndexedAt)
		}
		_, off1 := back.IndexedAt.Zone()
		_, off2 := p.IndexedAt.Zone()
		if off1 != off2 {
			t.Errorf("indexed_at offset %d, want %d", off1, off2)
		}
		back.IndexedAt, p.IndexedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(back, p) {
			t.Errorf("round trip\n got %+v\nwant %+v", back, p)
		}
	}
	// Whole numbers may come back as integers.
	p, err := payloadFrom(map[string]*qc.Value{"t_start": qc.NewValueInt(3), "t_end": qc.NewValueDouble(4.5)})
	if err != nil || p.TStart != 3 || p.TEnd != 4.5 {
		t.Errorf("numbers: %+v %v", p, err)
	}
	if _, err := payloadFrom(map[string]*qc.Value{"indexed_at": qc.NewValueString("yesterday")}); err == nil {
		t.Error("a malformed indexed_at must be an error, not a zero time")
	}
}

func TestQdrantVectorsBack(t *testing.T) {
	t.Parallel()
	// Both the current oneof and the deprecated data/indices fields.
	out := &qc.VectorsOutput{VectorsOptions: &qc.VectorsOutput_Vectors{Vectors: &qc.NamedVectorsOutput{Vectors: map[string]*qc.VectorOutput{
		"new":        {Vector: &qc.VectorOutput_Dense{Dense: &qc.DenseVector{Data: []float32{1, 2}}}},
		"old":        {Data: []float32{3, 4}},
		"new_sparse": {Vector: &qc.VectorOutput_Sparse{Sparse: &qc.SparseVector{Indices: []uint32{7}, Values: []float32{0.5}}}},
		"old_sparse": {Data: []float32{0.25}, Indices: &qc.SparseIndices{Data: []uint32{9}}},
	}}}}
	p, err := pointFrom(qc.NewIDNum(5), map[string]*qc.Value{"video_id": qc.NewValueString("v")}, out)
	if err != nil {
		t.Fatal(err)
	}
	want := index.Point{
		ID:      "5",
		Vectors: map[string][]float32{"new": {1, 2}, "old": {3, 4}},
		Sparse:  map[string]index.SparseVector{"new_sparse": {Indices: []uint32{7}, Values: []float32{0.5}}, "old_sparse": {Indices: []uint32{9}, Values: []float32{0.25}}},
		Payload: index.Payload{VideoID: "v"},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("point\n got %+v\nwant %+v", p, want)
	}
}

func TestQdrantStaleFilter(t *testing.T) {
	t.Parallel()
	keep := []*qc.PointId{pointID(index.SegmentID("v", "s", 0)), pointID("7")}
	want := &qc.Filter{
		Must:    []*qc.Condition{qc.NewMatchKeyword("video_id", "v")},
		MustNot: []*qc.Condition{qc.NewHasID(keep...)},
	}
	if got := staleFilter("v", keep); !proto.Equal(got, want) {
		t.Errorf("stale filter %v", got)
	}
	if got := staleFilter("v", nil); len(got.GetMustNot()) != 0 || len(got.GetMust()) != 1 {
		t.Errorf("delete-video filter %v", got)
	}
}

func TestQdrantErrorMapping(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cases := []struct {
		err   error
		write bool
		want  error
	}{
		{status.Error(codes.NotFound, "Not found: Collection `x` doesn't exist!"), false, index.ErrNoCollection},
		{status.Error(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 3, got 2"), true, index.ErrBadVector},
		{status.Error(codes.InvalidArgument, "Wrong input: Not existing vector name error: z"), false, index.ErrBadVector},
		{status.Error(codes.InvalidArgument, "Unable to parse UUID: x"), true, index.ErrBadPoint},
		{status.Error(codes.InvalidArgument, "Validation error in body: [limit: bad]"), false, index.ErrBadQuery},
		{status.Error(codes.Internal, "boom"), false, nil},
	}
	for _, c := range cases {
		err := qerr(ctx, "op", c.err, c.write)
		for _, sentinel := range []error{index.ErrNoCollection, index.ErrBadVector, index.ErrBadPoint, index.ErrBadQuery} {
			if errors.Is(err, sentinel) != (sentinel == c.want) {
				t.Errorf("%v → %v: errors.Is(%v) wrong", c.err, err, sentinel)
			}
		}
		// Qdrant's message and code survive.
		if !strings.Contains(err.Error(), status.Convert(c.err).Message()) || grpcCode(err) != status.Code(c.err) {
			t.Errorf("%v → %q: lost Qdrant's message or code", c.err, err)
		}
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.InvalidArgument, "Wrong input: Collection `c` already exists!"), true},
		{status.Error(codes.AlreadyExists, "Wrong input: Collection `c` already exists!"), true},
		// An alias took the name: not the collection Ensure wants.
		{status.Error(codes.InvalidArgument, "Wrong input: Can't create collection with name c. Alias with the same name already exists"), false},
		{status.Error(codes.InvalidArgument, "Wrong input: Collection `cc` already exists!"), false},
	} {
		if got := alreadyExists(c.err, "c"); got != c.want {
			t.Errorf("alreadyExists(%v) = %v", c.err, got)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := qerr(done, "op", status.Error(codes.Canceled, "context canceled"), false); !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled context: %v", err)
	}
}

// Contract: the backend against the in-process server.

func openQdrant(t *testing.T, cfg Config) *Index {
	t.Helper()
	q, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// rawClient is a Qdrant client with gRPC's default options.
func rawClient(t *testing.T, addr string) *qc.Client {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c, err := qc.NewClient(&qc.Config{Host: host, Port: p, SkipCompatibilityCheck: true, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func grpcCode(err error) codes.Code {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	return status.Code(err)
}

// Responses above gRPC's 4 MiB default come back whole to the backend,
// while a client with default options fails on them: the receive limit is
// what makes the difference. The upserts on the way are requests above
// 4 MiB too, which Qdrant (and the server) accept.
func TestQdrantLargeMessages(t *testing.T) {
	t.Parallel()
	addr := qdranttest.Start(t)
	q := openQdrant(t, Config{Addr: addr})
	ctx := t.Context()
	const dim, n = 8192, 150 // 32 KiB a vector: 128 a batch is a 4 MiB request, 150 a 4.7 MiB response
	if err := q.Ensure(ctx, "big", index.Schema{Dense: map[string]int{"v": dim}}); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("long subtitle text ", 2200) // ≈ 40 KiB a point
	pts := make([]index.Point, n)
	ids := make([]string, n)
	for i := range pts {
		v := make([]float32, dim)
		v[i] = 1
		v[dim-1] = 1
		ids[i] = strconv.Itoa(i + 1)
		pts[i] = index.Point{ID: ids[i], Vectors: map[string][]float32{"v": v}, Payload: index.Payload{VideoID: "v", Text: text}}
	}
	if err := q.Upsert(ctx, "big", pts); err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx, "big", ids...)
	if err != nil || len(got) != n {
		t.Fatalf("backend get: %d points, %v", len(got), err)
	}
	if got[0].Payload.Text != text || len(got[0].Vectors["v"]) != dim {
		t.Error("backend get: point came back incomplete")
	}
	query := index.Query{Collection: "big", Using: "v", Dense: pts[0].Vectors["v"], Limit: n}
	hits, err := q.Query(ctx, query)
	if err != nil || len(hits) != n {
		t.Fatalf("backend query: %d hits, %v", len(hits), err)
	}

	raw := rawClient(t, addr)
	pids := make([]*qc.PointId, n)
	for i, id := range ids {
		pids[i] = pointID(id)
	}
	_, err = raw.Get(ctx, &qc.GetPoints{CollectionName: "big", Ids: pids, WithVectors: qc.NewWithVectors(true)})
	if grpcCode(err) != codes.ResourceExhausted {
		t.Errorf("raw get: %v, want ResourceExhausted", err)
	}
	_, err = raw.Query(ctx, queryRequest(query))
	if grpcCode(err) != codes.ResourceExhausted {
		t.Errorf("raw query: %v, want ResourceExhausted", err)
	}
	// And the option is what sets it.
	small := openQdrant(t, Config{Addr: addr, MaxRecvMsgSize: 4 << 20, Retries: -1})
	if _, err := small.Get(ctx, "big", ids...); grpcCode(err) != codes.ResourceExhausted {
		t.Errorf("backend with a 4 MiB limit: %v, want ResourceExhausted", err)
	}
}

func TestQdrantRetries(t *testing.T) {
	t.Parallel()
	s := qdranttest.New()
	addr := s.Start(t)
	q := openQdrant(t, Config{Addr: addr})
	ctx := t.Context()
	if err := q.Ensure(ctx, "c", index.Schema{Dense: map[string]int{"a": 2}}); err != nil {
		t.Fatal(err)
	}
	calls := func() int { return s.Calls("Points/Count") }

	before := calls()
	s.FailNext(3, codes.Unavailable)
	if _, err := q.Count(ctx, "c", index.Filter{}); err != nil {
		t.Fatalf("count after 3 unavailable answers: %v", err)
	}
	if n := calls() - before; n != 4 {
		t.Errorf("%d calls, want 4 (3 failed, 1 retried)", n)
	}

	before = calls()
	s.FailNext(1, codes.InvalidArgument)
	if _, err := q.Count(ctx, "c", index.Filter{}); !errors.Is(err, index.ErrBadQuery) {
		t.Errorf("invalid argument: %v, want index.ErrBadQuery", err)
	}
	if n := calls() - before; n != 1 {
		t.Errorf("invalid argument retried: %d calls", n)
	}

	none := openQdrant(t, Config{Addr: addr, Retries: -1})
	before = calls()
	s.FailNext(1, codes.Unavailable)
	if _, err := none.Count(ctx, "c", index.Filter{}); grpcCode(err) != codes.Unavailable {
		t.Errorf("without retries: %v, want Unavailable", err)
	}
	if n := calls() - before; n != 1 {
		t.Errorf("without retries: %d calls", n)
	}

	// The backoff gives up when the caller's context ends.
	s.FailNext(1000, codes.Unavailable)
	defer s.FailNext(0, codes.OK)
	short, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := q.Count(short, "c", index.Filter{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("count with a 250 ms deadline: %v after %v", err, time.Since(start))
	}
}

func TestQdrantOpenChecks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := qdranttest.New()
	s.APIKey = "s3cret"
	addr := s.Start(t)
	for _, key := range []string{"", "wrong"} {
		_, err := Open(ctx, Config{Addr: addr, APIKey: key})
		if err == nil || !strings.Contains(err.Error(), addr) || grpcCode(err) != codes.Unauthenticated {
			t.Errorf("key %q: %v, want Unauthenticated naming %s", key, err, addr)
		}
	}
	q := openQdrant(t, Config{Addr: addr, APIKey: "s3cret"})
	if err := q.Ensure(ctx, "c", index.Schema{Dense: map[string]int{"a": 2}}); err != nil {
		t.Errorf("with the key: %v", err)
	}

	old := qdranttest.New()
	old.Version = "1.14.2"
	oldAddr := old.Start(t)
	if _, err := Open(ctx, Config{Addr: oldAddr}); err == nil || !strings.Contains(err.Error(), "SkipCompatibilityCheck") {
		t.Errorf("Qdrant 1.14: %v, want a compatibility error", err)
	}
	openQdrant(t, Config{Addr: oldAddr, SkipCompatibilityCheck: true})

	// Nothing listening: a clear error naming the address.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	if _, err := Open(ctx, Config{Addr: dead, Retries: -1}); err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "health check") {
		t.Errorf("no server: %v", err)
	}
	if _, err := Open(ctx, Config{Addr: "no-port"}); err == nil {
		t.Error("an address without a port must fail")
	}
}

func TestQdrantEnsure(t *testing.T) {
	t.Parallel()
	addr := qdranttest.Start(t)
	q := openQdrant(t, Config{Addr: addr})
	raw := rawClient(t, addr)
	ctx := t.Context()
	schema := index.Schema{Dense: map[string]int{"a": 3}, Sparse: []string{"t"}}
	if err := q.Ensure(ctx, "c", schema); err != nil {
		t.Fatal(err)
	}
	info, err := raw.GetCollectionInfo(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	params := info.GetConfig().GetParams()
	if a := params.GetVectorsConfig().GetParamsMap().GetMap()["a"]; a.GetSize() != 3 || a.GetDistance() != qc.Distance_Cosine {
		t.Errorf("dense config %v", a)
	}
	if s := params.GetSparseVectorsConfig().GetMap()["t"]; s.GetModifier() != qc.Modifier_Idf {
		t.Errorf("sparse config %v", s)
	}
	wantIndexes := map[string]qc.PayloadSchemaType{
		"video_id": qc.PayloadSchemaType_Keyword, "space": qc.PayloadSchemaType_Keyword,
		"modality": qc.PayloadSchemaType_Keyword, "labels": qc.PayloadSchemaType_Keyword,
		"t_start": qc.PayloadSchemaType_Float, "unsafe": qc.PayloadSchemaType_Bool,
	}
	got := map[string]qc.PayloadSchemaType{}
	for k, v := range info.GetPayloadSchema() {
		got[k] = v.GetDataType()
	}
	if !reflect.DeepEqual(got, wantIndexes) {
		t.Errorf("payload indexes %v, want %v", got, wantIndexes)
	}

	// Collections made by hand: another distance, no IDF, an unnamed
	// vector, or lacking indexes.
	mk := func(name string, req *qc.CreateCollection) {
		t.Helper()
		req.CollectionName = name
		if err := raw.CreateCollection(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	mk("dot", &qc.CreateCollection{VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"a": {Size: 3, Distance: qc.Distance_Dot}})})
	mk("noidf", &qc.CreateCollection{SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"t": {}})})
	mk("unnamed", &qc.CreateCollection{VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 3, Distance: qc.Distance_Cosine})})
	mk("bare", &qc.CreateCollection{VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"a": {Size: 3, Distance: qc.Distance_Cosine}})})
	for _, c := range []struct {
		name   string
		schema index.Schema
	}{
		{"dot", index.Schema{Dense: map[string]int{"a": 3}}},
		{"noidf", index.Schema{Sparse: []string{"t"}}},
		{"unnamed", index.Schema{Dense: map[string]int{"a": 3}}},
		{"c", index.Schema{Dense: map[string]int{"a": 3}}},
	} {
		if err := q.Ensure(ctx, c.name, c.schema); !errors.Is(err, index.ErrSchema) {
			t.Errorf("ensure %s: %v, want index.ErrSchema", c.name, err)
		}
	}
	if err := q.Ensure(ctx, "bare", index.Schema{Dense: map[string]int{"a": 3}}); err != nil {
		t.Fatal(err)
	}
	if info, _ := raw.GetCollectionInfo(ctx, "bare"); len(info.GetPayloadSchema()) != len(wantIndexes) {
		t.Errorf("ensure on an existing collection left indexes missing: %v", info.GetPayloadSchema())
	}
	if err := q.SetAlias(ctx, "segments", "c"); err != nil {
		t.Fatal(err)
	}
	if err := q.Ensure(ctx, "segments", schema); err == nil {
		t.Error("ensure on an alias name must fail")
	}
}

func TestQdrantIDsAsAsked(t *testing.T) {
	t.Parallel()
	q := openQdrant(t, Config{Addr: qdranttest.Start(t)})
	ctx := t.Context()
	if err := q.Ensure(ctx, "c", index.Schema{Dense: map[string]int{"a": 2}}); err != nil {
		t.Fatal(err)
	}
	upper := "F9168C5E-CEB2-4FAA-B6BF-329BF39FA1E4"
	lower := strings.ToLower(upper)
	// Qdrant would store the upper-case spelling as the lower-case point
	// and answer with the other spelling: refused before it is sent.
	if err := q.Upsert(ctx, "c", []index.Point{{ID: upper, Vectors: map[string][]float32{"a": {1, 0}}, Payload: index.Payload{VideoID: "v"}}}); !errors.Is(err, index.ErrBadPoint) {
		t.Fatalf("upsert with an upper-case UUID: %v, want index.ErrBadPoint", err)
	}
	if err := q.Upsert(ctx, "c", []index.Point{{ID: lower, Vectors: map[string][]float32{"a": {1, 0}}, Payload: index.Payload{VideoID: "v"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx, "c", lower, "not-an-id", lower)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got {
		ids = append(ids, p.ID)
	}
	if want := []string{lower, lower}; !slices.Equal(ids, want) {
		t.Errorf("get ids %v, want %v", ids, want)
	}
	got[0].Vectors["a"][0] = 42
	if got[1].Vectors["a"][0] == 42 {
		t.Error("points returned twice share their vectors")
	}
	hits, err := q.Query(ctx, index.Query{Collection: "c", Using: "a", Dense: []float32{1, 0}, Limit: 1})
	if err != nil || len(hits) != 1 || hits[0].ID != strings.ToLower(upper) {
		t.Errorf("query hit %v %v, want the canonical id", hits, err)
	}
	if got, err := q.Get(ctx, "missing", "1"); !errors.Is(err, index.ErrNoCollection) {
		t.Errorf("get from a missing collection: %v %v", got, err)
	}
	if got, err := q.Get(ctx, "missing", "nope"); !errors.Is(err, index.ErrNoCollection) {
		t.Errorf("get of no valid id from a missing collection: %v %v", got, err)
	}
}

func TestQdrantBatchesOnTheWire(t *testing.T) {
	t.Parallel()
	s := qdranttest.New()
	q := openQdrant(t, Config{Addr: s.Start(t), BatchSize: 64})
	ctx := t.Context()
	if err := q.Ensure(ctx, "c", index.Schema{Dense: map[string]int{"a": 2}}); err != nil {
		t.Fatal(err)
	}
	pts := make([]index.Point, 130)
	for i := range pts {
		pts[i] = index.Point{ID: fmt.Sprint(i + 1), Vectors: map[string][]float32{"a": {1, float32(i)}}, Payload: index.Payload{VideoID: "v"}}
	}
	if err := q.Upsert(ctx, "c", pts); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls("Points/Upsert"); n != 3 {
		t.Errorf("%d upsert requests for 130 points in batches of 64, want 3", n)
	}
	// A bad point anywhere fails the call before any batch goes out.
	pts[129].Vectors["a"] = []float32{1, 2, 3}
	if err := q.Upsert(ctx, "c", pts); !errors.Is(err, index.ErrBadVector) {
		t.Errorf("bad last point: %v, want index.ErrBadVector", err)
	}
	if n := s.Calls("Points/Upsert"); n != 3 {
		t.Errorf("batches went out before the bad point was found: %d requests", n)
	}
}

func TestQdrantClosed(t *testing.T) {
	t.Parallel()
	q, err := Open(t.Context(), Config{Addr: qdranttest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := q.Collections(t.Context()); !errors.Is(err, index.ErrClosed) {
		t.Errorf("after close: %v, want index.ErrClosed", err)
	}
}

// Replacements queued while one is being sent share the next one's upsert
// requests; a bad point fails only its own video; two replacements of the
// same video never interleave.
func TestQdrantMergesConcurrentReplacements(t *testing.T) {
	t.Parallel()
	srv := qdranttest.New()
	q := openQdrant(t, Config{Addr: srv.Start(t), SkipCompatibilityCheck: true})
	ctx := t.Context()
	if err := q.Ensure(ctx, "c", index.Schema{Dense: map[string]int{"a": 2}}); err != nil {
		t.Fatal(err)
	}
	mk := func(v string, n int) []index.Point {
		var pts []index.Point
		for i := range n {
			pts = append(pts, index.Point{ID: index.SegmentID(v, "a", i), Vectors: map[string][]float32{"a": {1, float32(i)}}, Payload: index.Payload{VideoID: v}})
		}
		return pts
	}
	before := srv.Calls("Points/Upsert")
	q.flushMu.Lock() // a flush in progress: the next calls queue up
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	calls := map[string][]index.Point{"v1": mk("v1", 3), "v2": mk("v2", 4), "v3": mk("v3", 2), "bad": {{ID: index.SegmentID("bad", "a", 0), Vectors: map[string][]float32{"a": {1, 2, 3}}, Payload: index.Payload{VideoID: "bad"}}}}
	for v, pts := range calls {
		wg.Go(func() {
			err := q.ReplaceVideo(ctx, "c", v, pts)
			mu.Lock()
			errs[v] = err
			mu.Unlock()
		})
	}
	// The same video again, with fewer points: it must end with those.
	wg.Go(func() {
		for {
			q.queueMu.Lock()
			n := len(q.queue)
			q.queueMu.Unlock()
			if n == len(calls) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		err := q.ReplaceVideo(ctx, "c", "v1", mk("v1", 1))
		mu.Lock()
		errs["v1 again"] = err
		mu.Unlock()
	})
	for {
		q.queueMu.Lock()
		n := len(q.queue)
		q.queueMu.Unlock()
		if n == len(calls)+1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	q.flushMu.Unlock()
	wg.Wait()
	for v, err := range errs {
		if (v == "bad") != (err != nil) {
			t.Errorf("%s: %v", v, err)
		}
	}
	if !errors.Is(errs["bad"], index.ErrBadVector) {
		t.Errorf("bad point: %v, want index.ErrBadVector", errs["bad"])
	}
	// v2, v3 and the first v1 in one upsert; the second v1 in another.
	if got := srv.Calls("Points/Upsert") - before; got != 2 {
		t.Errorf("%d upsert requests for 4 queued replacements, want 2", got)
	}
	for v, want := range map[string]int{"v1": 1, "v2": 4, "v3": 2, "bad": 0} {
		if n, _ := q.Count(ctx, "c", index.Filter{VideoIDs: []string{v}}); n != want {
			t.Errorf("%s: %d points, want %d", v, n, want)
		}
	}
}
