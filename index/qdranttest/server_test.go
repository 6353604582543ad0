package qdranttest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mediavec/mediavec/index/qdranttest"
)

// client is a raw Qdrant client for addr, closed when the test ends.
func client(t *testing.T, addr string, apiKey string, opts ...grpc.DialOption) *qdrant.Client {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if apiKey != "" {
		// As metadata directly: the client's APIKey option logs a warning
		// about plaintext on every connection.
		opts = append(opts, grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "api-key", apiKey), method, req, reply, cc, o...)
		}))
	}
	c, err := qdrant.NewClient(&qdrant.Config{
		Host: host, Port: p, SkipCompatibilityCheck: true, PoolSize: 1,
		GrpcOptions: opts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// grpcStatus returns the status inside an error, which the high-level
// client wraps (status.FromError would keep the wrapper's text).
func grpcStatus(t *testing.T, err error) *status.Status {
	t.Helper()
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		t.Fatalf("not a gRPC status: %v", err)
	}
	return se.GRPCStatus()
}

func wantStatus(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v %q", what, code, msg)
		return
	}
	st := grpcStatus(t, err)
	if st.Code() != code || st.Message() != msg {
		t.Errorf("%s: %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
}

// setup makes collection "c": dense "a" (3-d, Cosine), sparse "s" (IDF).
func setup(t *testing.T, c *qdrant.Client, name string) {
	t.Helper()
	err := c.CreateCollection(t.Context(), &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"a": {Size: 3, Distance: qdrant.Distance_Cosine},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			"s": {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func dense(id uint64, v ...float32) *qdrant.PointStruct {
	return &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"a": qdrant.NewVectorDense(v)})}
}

func upsert(t *testing.T, c *qdrant.Client, coll string, pts ...*qdrant.PointStruct) {
	t.Helper()
	res, err := c.Upsert(t.Context(), &qdrant.UpsertPoints{CollectionName: coll, Wait: ptr(true), Points: pts})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetStatus() != qdrant.UpdateStatus_Completed {
		t.Fatalf("upsert status %v", res.GetStatus())
	}
}

func count(t *testing.T, c *qdrant.Client, coll string, f *qdrant.Filter) uint64 {
	t.Helper()
	n, err := c.Count(t.Context(), &qdrant.CountPoints{CollectionName: coll, Filter: f, Exact: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// code is the gRPC code of a wrapped error; OK for nil.
func code(err error) codes.Code {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	return status.Code(err)
}

func TestValidationAsQdrant(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	ctx := t.Context()
	setup(t, c, "c")
	bad := []struct {
		name string
		coll string
		pt   *qdrant.PointStruct
		code codes.Code
		msg  string
	}{
		{"id not a UUID", "c", &qdrant.PointStruct{Id: qdrant.NewID("seg-1"), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"a": qdrant.NewVectorDense([]float32{1, 0, 0})})},
			codes.InvalidArgument, "Unable to parse UUID: seg-1"},
		{"unknown vector", "c", &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"z": qdrant.NewVectorDense([]float32{1})})},
			codes.InvalidArgument, "Wrong input: Not existing vector name error: z"},
		{"wrong dimension", "c", dense(1, 1, 0),
			codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 3, got 2"},
		{"dense into sparse", "c", &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"s": qdrant.NewVectorDense([]float32{1})})},
			codes.InvalidArgument, "Wrong input: Conversion between sparse and regular vectors failed"},
		{"missing collection", "nope", dense(1, 1, 0, 0),
			codes.NotFound, "Not found: Collection `nope` doesn't exist!"},
	}
	for _, b := range bad {
		// A valid point first: a request that fails writes nothing.
		_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: b.coll, Wait: ptr(true), Points: []*qdrant.PointStruct{dense(7, 1, 1, 1), b.pt}})
		wantStatus(t, b.name, err, b.code, b.msg)
	}
	if n := count(t, c, "c", nil); n != 0 {
		t.Errorf("failed upserts wrote %d points", n)
	}
	err := c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "c"})
	wantStatus(t, "create existing", err, codes.InvalidArgument, "Wrong input: Collection `c` already exists!")
	_, err = c.GetCollectionInfo(ctx, "nope")
	wantStatus(t, "info of missing", err, codes.NotFound, "Not found: Collection `nope` doesn't exist!")
	_, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQueryDense([]float32{1, 0}), Using: ptr("a")})
	wantStatus(t, "query wrong dimension", err, codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 3, got 2")
	_, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQueryDense([]float32{1}), Using: ptr("q")})
	wantStatus(t, "query unknown vector", err, codes.InvalidArgument, "Wrong input: Not existing vector name error: q")
	_, err = c.Get(ctx, &qdrant.GetPoints{CollectionName: "c", Ids: []*qdrant.PointId{qdrant.NewID("x")}})
	wantStatus(t, "get bad id", err, codes.InvalidArgument, "Unable to parse UUID: x")
	// Deleting a missing collection is no error in Qdrant: result false.
	res, err := c.GetCollectionsClient().Delete(ctx, &qdrant.DeleteCollection{CollectionName: "nope"})
	if err != nil || res.GetResult() {
		t.Errorf("delete missing: %v, %v; want result false", res.GetResult(), err)
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	s := qdranttest.New()
	s.APIKey = "s3cret"
	addr := s.Start(t)
	ctx := t.Context()
	for _, tc := range []struct {
		key  string
		code codes.Code
	}{{"", codes.Unauthenticated}, {"wrong", codes.Unauthenticated}, {"s3cret", codes.OK}} {
		c := client(t, addr, tc.key)
		_, err := c.ListCollections(ctx)
		if got := code(err); got != tc.code {
			t.Errorf("key %q: %v, want %v", tc.key, err, tc.code)
		}
		// As in Qdrant, health checks need no key.
		if _, err := c.HealthCheck(ctx); err != nil {
			t.Errorf("key %q: health check: %v", tc.key, err)
		}
	}
}

func TestHealthCheckVersion(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	h, err := c.HealthCheck(t.Context())
	if err != nil || h.GetVersion() != "1.17.1" {
		t.Fatalf("health %v, %v", h, err)
	}
}

// A response above gRPC's default 4 MiB receive limit reaches a client
// that raised its limit and fails, ResourceExhausted, for one that did
// not; a request above 4 MiB is accepted (Qdrant sets no limit).
func TestMessageSizes(t *testing.T) {
	t.Parallel()
	addr := qdranttest.Start(t)
	big := client(t, addr, "", grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	ctx := t.Context()
	const dim, n = 8192, 160 // 160 × 32 KiB = 5 MiB each way
	err := big.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "big",
		VectorsConfig:  qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{"v": {Size: dim, Distance: qdrant.Distance_Dot}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	pts := make([]*qdrant.PointStruct, n)
	ids := make([]*qdrant.PointId, n)
	for i := range pts {
		v := make([]float32, dim)
		v[i] = 1
		ids[i] = qdrant.NewIDNum(uint64(i + 1))
		pts[i] = &qdrant.PointStruct{Id: ids[i], Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"v": qdrant.NewVectorDense(v)})}
	}
	upsert(t, big, "big", pts...) // one request of 5 MiB
	get := &qdrant.GetPoints{CollectionName: "big", Ids: ids, WithVectors: qdrant.NewWithVectors(true)}
	got, err := big.Get(ctx, get)
	if err != nil || len(got) != n {
		t.Fatalf("get with a 64 MiB limit: %d points, %v", len(got), err)
	}
	if v := got[9].GetVectors().GetVectors().GetVectors()["v"].GetDense().GetData(); len(v) != dim || v[9] != 1 {
		t.Errorf("vector of point 10 came back wrong")
	}
	_, err = client(t, addr, "").Get(ctx, get)
	if c := grpcStatus(t, err).Code(); c != codes.ResourceExhausted {
		t.Errorf("get with gRPC's default limit: %v, want ResourceExhausted", err)
	}
}

func TestAliasesResolve(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	ctx := t.Context()
	setup(t, c, "g1")
	setup(t, c, "g2")
	if err := c.CreateAlias(ctx, "segs", "g1"); err != nil {
		t.Fatal(err)
	}
	upsert(t, c, "segs", dense(1, 1, 0, 0)) // lands in g1
	if count(t, c, "g1", nil) != 1 || count(t, c, "g2", nil) != 0 {
		t.Fatal("upsert through the alias did not land in g1")
	}
	// Switch in one call: delete, then create.
	err := c.UpdateAliases(ctx, []*qdrant.AliasOperations{qdrant.NewAliasDelete("segs"), qdrant.NewAliasCreate("segs", "g2")})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "segs", nil); n != 0 {
		t.Errorf("alias still on g1: %d points", n)
	}
	info, err := c.GetCollectionInfo(ctx, "segs")
	if err != nil || info.GetPointsCount() != 0 {
		t.Errorf("info through the alias: %v %v", info, err)
	}
	err = c.CreateAlias(ctx, "g1", "g2")
	wantStatus(t, "alias named like a collection", err, codes.InvalidArgument, "Wrong input: Collection `g1` already exists!")
	err = c.CreateAlias(ctx, "x", "nope")
	wantStatus(t, "alias to a missing collection", err, codes.NotFound, "Not found: Collection `nope` doesn't exist!")
	err = c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "segs"})
	wantStatus(t, "collection named like an alias", err, codes.InvalidArgument, "Wrong input: Can't create collection with name segs. Alias with the same name already exists")
	aliases, err := c.ListCollectionAliases(ctx, "g2")
	if err != nil || !slices.Equal(aliases, []string{"segs"}) {
		t.Errorf("aliases of g2: %v %v", aliases, err)
	}
	// Qdrant drops a collection's aliases with it.
	if err := c.DeleteCollection(ctx, "g2"); err != nil {
		t.Fatal(err)
	}
	all, err := c.ListAliases(ctx)
	if err != nil || len(all) != 0 {
		t.Errorf("aliases after dropping their collection: %v %v", all, err)
	}
}

func TestIDsAndVectorsAsStored(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	ctx := t.Context()
	setup(t, c, "c")
	upsert(t, c, "c", &qdrant.PointStruct{
		Id: qdrant.NewID("urn:uuid:F9168C5E-CEB2-4FAA-B6BF-329BF39FA1E4"),
		Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
			"a": qdrant.NewVectorDense([]float32{3, 0, 4}),
			"s": qdrant.NewVectorSparse([]uint32{9, 5}, []float32{1, 2}),
		}),
	})
	got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: "c", Ids: []*qdrant.PointId{qdrant.NewID("f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4")}, WithVectors: qdrant.NewWithVectors(true)})
	if err != nil || len(got) != 1 {
		t.Fatalf("get: %v %v", got, err)
	}
	if id := got[0].GetId().GetUuid(); id != "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4" {
		t.Errorf("id %q, want the canonical form", id)
	}
	vs := got[0].GetVectors().GetVectors().GetVectors()
	if a := vs["a"].GetDense().GetData(); len(a) != 3 || math.Abs(float64(a[0])-0.6) > 1e-6 || math.Abs(float64(a[2])-0.8) > 1e-6 {
		t.Errorf("cosine vector stored as %v, want normalised [0.6 0 0.8]", a)
	}
	s := vs["s"].GetSparse()
	if !slices.Equal(s.GetIndices(), []uint32{5, 9}) || !slices.Equal(s.GetValues(), []float32{2, 1}) {
		t.Errorf("sparse stored as %v %v, want sorted by index", s.GetIndices(), s.GetValues())
	}
}

func TestScoring(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	ctx := t.Context()
	setup(t, c, "c")
	sp := func(id uint64, a []float32, idx []uint32, val []float32) *qdrant.PointStruct {
		v := map[string]*qdrant.Vector{"a": qdrant.NewVectorDense(a)}
		if idx != nil {
			v["s"] = qdrant.NewVectorSparse(idx, val)
		}
		return &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectorsMap(v)}
	}
	upsert(t, c, "c",
		sp(1, []float32{1, 0, 0}, []uint32{1}, []float32{2}),
		sp(2, []float32{1, 1, 0}, []uint32{1, 2}, []float32{1, 1}),
		sp(3, []float32{0, 1, 0}, []uint32{1}, []float32{3}),
		sp(4, []float32{1, 1, 0}, nil, nil), // ties with 2 on "a"
	)
	ids := func(pts []*qdrant.ScoredPoint) []uint64 {
		var out []uint64
		for _, p := range pts {
			out = append(out, p.GetId().GetNum())
		}
		return out
	}
	res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Using: ptr("a"), Query: qdrant.NewQueryDense([]float32{2, 0, 0})})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res); !slices.Equal(got, []uint64{1, 2, 4, 3}) {
		t.Errorf("cosine ranking %v, want [1 2 4 3] (equal scores by id)", got)
	} else if math.Abs(float64(res[1].GetScore())-math.Sqrt2/2) > 1e-6 {
		t.Errorf("cosine score %v, want 0.7071", res[1].GetScore())
	}
	th := float32(0.8)
	res, _ = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Using: ptr("a"), Query: qdrant.NewQueryDense([]float32{1, 0, 0}), ScoreThreshold: &th})
	if got := ids(res); !slices.Equal(got, []uint64{1}) {
		t.Errorf("above threshold %v, want [1]", got)
	}

	// IDF over the 3 points with "s": term 1 in all 3, term 2 in one.
	idf := func(n, df float64) float64 { return math.Log(1 + (n-df+0.5)/(df+0.5)) }
	res, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Using: ptr("s"), Query: qdrant.NewQuerySparse([]uint32{1, 2}, []float32{1, 1})})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]float64{1: 2 * idf(3, 3), 2: idf(3, 3) + idf(3, 1), 3: 3 * idf(3, 3)}
	if got := ids(res); !slices.Equal(got, []uint64{2, 3, 1}) {
		t.Errorf("sparse ranking %v, want [2 3 1] (point 4 has no sparse vector)", got)
	}
	for _, p := range res {
		if w := want[p.GetId().GetNum()]; math.Abs(float64(p.GetScore())-w) > 1e-5 {
			t.Errorf("sparse score of %d: %v, want %v", p.GetId().GetNum(), p.GetScore(), w)
		}
	}

	// RRF: dense on "a" ranks 2 (or 4), ...; take two short lists.
	fuse := func(rrf *qdrant.Query) []*qdrant.ScoredPoint {
		t.Helper()
		res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: rrf, Prefetch: []*qdrant.PrefetchQuery{
			{Using: ptr("a"), Query: qdrant.NewQueryDense([]float32{1, 0, 0}), Limit: ptr(uint64(2))},         // 1, 2
			{Using: ptr("s"), Query: qdrant.NewQuerySparse([]uint32{1}, []float32{1}), Limit: ptr(uint64(2))}, // 3, 1
		}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tc := range []struct {
		name  string
		query *qdrant.Query
		k     float64
	}{
		{"default k", qdrant.NewQueryFusion(qdrant.Fusion_RRF), 2},
		{"rrf without k", qdrant.NewQueryRRF(&qdrant.Rrf{}), 2},
		{"k 60", qdrant.NewQueryRRF(&qdrant.Rrf{K: ptr(uint32(60))}), 60},
		{"weights 1", qdrant.NewQueryRRF(&qdrant.Rrf{K: ptr(uint32(10)), Weights: []float32{1, 1}}), 10},
	} {
		res := fuse(tc.query)
		// 1: ranks 1 and 2; 2: rank 2; 3: rank 1. Qdrant scores a rank r
		// 1/(k + r − 1): its first place is worth 1/k.
		if got := ids(res); !slices.Equal(got, []uint64{1, 3, 2}) {
			t.Errorf("%s: fused %v, want [1 3 2]", tc.name, got)
			continue
		}
		for i, w := range []float64{1/tc.k + 1/(tc.k+1), 1 / tc.k, 1 / (tc.k + 1)} {
			if math.Abs(float64(res[i].GetScore())-w) > 1e-6 {
				t.Errorf("%s: score %d %v, want %v", tc.name, i, res[i].GetScore(), w)
			}
		}
	}
	// Weighted: a list of weight w scores rank r as 1/(r/w + k − 1).
	res = fuse(qdrant.NewQueryRRF(&qdrant.Rrf{Weights: []float32{3, 1}}))
	want = map[uint64]float64{1: 1/(1.0/3+1) + 1/(2.0+1), 2: 1 / (2.0/3 + 1), 3: 1 / (1.0 + 1)}
	if got := ids(res); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("weighted fusion %v, want [1 2 3]", got)
	}
	for _, p := range res {
		if w := want[p.GetId().GetNum()]; math.Abs(float64(p.GetScore())-w) > 1e-6 {
			t.Errorf("weighted score of %d: %v, want %v", p.GetId().GetNum(), p.GetScore(), w)
		}
	}
	_, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQueryRRF(&qdrant.Rrf{Weights: []float32{1}}), Prefetch: []*qdrant.PrefetchQuery{
		{Using: ptr("a"), Query: qdrant.NewQueryDense([]float32{1, 0, 0})}, {Using: ptr("a"), Query: qdrant.NewQueryDense([]float32{0, 1, 0})},
	}})
	if code(err) != codes.InvalidArgument {
		t.Errorf("weights not matching the prefetches: %v", err)
	}
	// A filter on the query reaches its prefetches.
	res, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF),
		Filter: &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(1))}},
		Prefetch: []*qdrant.PrefetchQuery{
			{Using: ptr("a"), Query: qdrant.NewQueryDense([]float32{1, 0, 0}), Limit: ptr(uint64(1))},
		}})
	if err != nil || !slices.Equal(ids(res), []uint64{2}) {
		t.Errorf("filtered fusion %v (%v), want [2]", ids(res), err)
	}
}

func TestQueryGroups(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	ctx := t.Context()
	setup(t, c, "c")
	pt := func(id uint64, video string, labels []any, v ...float32) *qdrant.PointStruct {
		p := dense(id, v...)
		p.Payload = qdrant.NewValueMap(map[string]any{"video_id": video, "labels": labels})
		return p
	}
	upsert(t, c, "c",
		pt(1, "v1", []any{"dog"}, 1, 0.1, 0),
		pt(2, "v1", []any{"dog", "cat"}, 1, 0.2, 0),
		pt(3, "v1", []any{}, 1, 0.3, 0),
		pt(4, "v2", []any{"cat"}, 1, 0, 0),
		pt(5, "v3", []any{}, 0, 1, 0),
	)
	groups := func(by string, limit, size uint64) string {
		t.Helper()
		res, err := c.QueryGroups(ctx, &qdrant.QueryPointGroups{CollectionName: "c", Using: ptr("a"),
			Query: qdrant.NewQueryDense([]float32{1, 0, 0}), GroupBy: by, Limit: &limit, GroupSize: &size})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range res {
			var hits []string
			for _, h := range g.GetHits() {
				hits = append(hits, fmt.Sprint(h.GetId().GetNum()))
			}
			out = append(out, g.GetId().GetStringValue()+":"+strings.Join(hits, ","))
		}
		return strings.Join(out, " ")
	}
	if got, want := groups("video_id", 2, 2), "v2:4 v1:1,2"; got != want {
		t.Errorf("by video: %q, want %q", got, want)
	}
	// A point with several values joins several groups.
	if got, want := groups("labels", 10, 5), "cat:4,2 dog:1,2"; got != want {
		t.Errorf("by label: %q, want %q", got, want)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	c := client(t, qdranttest.Start(t), "")
	ctx := t.Context()
	setup(t, c, "c")
	const u3 = "6a2f41a3-c54c-fce8-32d2-0324e1c32e22"
	withPayload := func(id *qdrant.PointId, payload map[string]any) *qdrant.PointStruct {
		p := dense(0, 1, 0, 0)
		p.Id = id
		p.Payload = qdrant.NewValueMap(payload)
		return p
	}
	upsert(t, c, "c",
		withPayload(qdrant.NewIDNum(1), map[string]any{
			"video_id": "v1", "labels": []any{"dog", "cat"}, "n": 3, "ok": true, "t": 1.5,
			"at": "2026-01-02T03:04:05Z", "text": "a brown dog", "meta": map[string]any{"a": "b"}, "nul": nil,
			"objs": []any{map[string]any{"k": "x", "n": 1}, map[string]any{"k": "y", "n": 2}},
		}),
		withPayload(qdrant.NewIDNum(2), map[string]any{
			"video_id": "v2", "labels": []any{}, "n": 4, "ok": false, "t": 2.5,
			"at": "2027-01-01T00:00:00Z", "text": "grey cat",
			"objs": []any{map[string]any{"k": "x", "n": 2}},
		}),
		withPayload(qdrant.NewID(u3), map[string]any{"video_id": "v3", "n": -1}),
	)
	kw := qdrant.NewMatchKeyword
	ts := func(s string) *timestamppb.Timestamp {
		tm, _ := time.Parse(time.RFC3339, s)
		return timestamppb.New(tm)
	}
	cases := []struct {
		name string
		f    *qdrant.Filter
		want []string
	}{
		{"none", nil, []string{"1", "2", u3}},
		{"keyword", &qdrant.Filter{Must: []*qdrant.Condition{kw("video_id", "v1")}}, []string{"1"}},
		{"keyword in an array", &qdrant.Filter{Must: []*qdrant.Condition{kw("labels", "cat")}}, []string{"1"}},
		{"any of keywords", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeywords("video_id", "v1", "v3")}}, []string{"1", u3}},
		{"except keywords", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchExcept("video_id", "v1")}}, []string{"2", u3}},
		{"except with no value", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchExcept("labels", "dog")}}, []string{"1"}},
		{"integer", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("n", 3)}}, []string{"1"}},
		{"any of integers", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInts("n", 3, 4)}}, []string{"1", "2"}},
		{"except integers", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchExceptInts("n", 3)}}, []string{"2", u3}},
		{"bool", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool("ok", true)}}, []string{"1"}},
		{"range", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("n", &qdrant.Range{Gte: ptr(0.0), Lt: ptr(4.0)})}}, []string{"1"}},
		{"range on doubles", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("t", &qdrant.Range{Gt: ptr(2.0)})}}, []string{"2"}},
		{"datetime range", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewDatetimeRange("at", &qdrant.DatetimeRange{Gte: ts("2026-06-01T00:00:00Z")})}}, []string{"2"}},
		{"has id", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(1), qdrant.NewID(strings.ToUpper(u3)))}}, []string{"1", u3}},
		{"must not", &qdrant.Filter{MustNot: []*qdrant.Condition{kw("video_id", "v1")}}, []string{"2", u3}},
		{"should", &qdrant.Filter{Should: []*qdrant.Condition{kw("video_id", "v1"), kw("video_id", "v2")}}, []string{"1", "2"}},
		{"min should", &qdrant.Filter{MinShould: &qdrant.MinShould{MinCount: 2, Conditions: []*qdrant.Condition{
			kw("video_id", "v1"), qdrant.NewMatchBool("ok", true), qdrant.NewMatchInt("n", 4)}}}, []string{"1"}},
		{"filter as condition", &qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewFilterAsCondition(&qdrant.Filter{Should: []*qdrant.Condition{kw("video_id", "v2"), kw("video_id", "v3")}}),
			qdrant.NewFilterAsCondition(&qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchInt("n", -1)}}),
		}}, []string{"2"}},
		// Flattened, the two conditions may match different elements...
		{"array of objects", &qdrant.Filter{Must: []*qdrant.Condition{kw("objs[].k", "x"), qdrant.NewMatchInt("objs[].n", 2)}}, []string{"1", "2"}},
		// ... nested, one element must match both.
		{"nested", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewNestedFilter("objs", &qdrant.Filter{Must: []*qdrant.Condition{kw("k", "x"), qdrant.NewMatchInt("n", 2)}})}}, []string{"2"}},
		{"object path", &qdrant.Filter{Must: []*qdrant.Condition{kw("meta.a", "b")}}, []string{"1"}},
		{"is empty", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsEmpty("labels")}}, []string{"2", u3}},
		{"is null", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsNull("nul")}}, []string{"1"}},
		{"values count", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewValuesCount("labels", &qdrant.ValuesCount{Gte: ptr(uint64(2))})}}, []string{"1"}},
		{"text", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchText("text", "dog")}}, []string{"1"}},
		{"has vector", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasVector("s")}}, nil},
	}
	for _, tc := range cases {
		res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Filter: tc.f, Limit: ptr(uint64(10))})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, p := range res {
			if n, ok := p.GetId().GetPointIdOptions().(*qdrant.PointId_Num); ok {
				got = append(got, strconv.FormatUint(n.Num, 10))
			} else {
				got = append(got, p.GetId().GetUuid())
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if n := count(t, c, "c", tc.f); n != uint64(len(tc.want)) {
			t.Errorf("%s: count %d, want %d", tc.name, n, len(tc.want))
		}
	}
	// Deleting by filter removes just those points.
	res, err := c.Delete(ctx, &qdrant.DeletePoints{CollectionName: "c", Wait: ptr(true),
		Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{kw("labels", "dog")}})})
	if err != nil || res.GetStatus() != qdrant.UpdateStatus_Completed {
		t.Fatalf("delete: %v %v", res, err)
	}
	if n := count(t, c, "c", nil); n != 2 {
		t.Errorf("after deleting by filter: %d points, want 2", n)
	}
}

func TestFailNextAndCalls(t *testing.T) {
	t.Parallel()
	s := qdranttest.New()
	c := client(t, s.Start(t), "")
	s.FailNext(2, codes.Unavailable)
	for i := range 2 {
		if _, err := c.ListCollections(t.Context()); code(err) != codes.Unavailable {
			t.Errorf("call %d: %v, want Unavailable", i, err)
		}
	}
	if _, err := c.ListCollections(t.Context()); err != nil {
		t.Errorf("third call: %v", err)
	}
	if n := s.Calls("Collections/List"); n != 3 {
		t.Errorf("Calls = %d, want 3", n)
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- qdranttest.ListenAndServe(ctx, addr) }()
	c := client(t, addr, "", grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	defer hcancel()
	if _, err := c.HealthCheck(hctx); err != nil {
		t.Fatalf("health check: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe after cancel: %v", err)
	}
}
