package index

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// QdrantConfig says how to reach a Qdrant cluster. Zero fields take the
// defaults given.
type QdrantConfig struct {
	// Addr is host:port of Qdrant's gRPC endpoint; default localhost:6334.
	Addr string
	// APIKey is sent as "api-key" metadata on every call. Without TLS it
	// crosses the network in clear text.
	APIKey string
	// TLS turns on transport security; TLSConfig, if set, configures it
	// (default: the system roots, TLS 1.3 at least).
	TLS       bool
	TLSConfig *tls.Config
	// BatchSize is how many points go in one upsert request: default 128,
	// clamped to 64..256. Smaller batches waste round trips; larger ones
	// make one slow request hold up a worker and grow Qdrant's WAL entries.
	BatchSize int
	// MaxRecvMsgSize is the largest response accepted, in bytes; default
	// 64 MiB. gRPC's own default of 4 MiB is exceeded by a Get of a few
	// thousand 512-d points or a Query returning long texts.
	MaxRecvMsgSize int
	// Retries is how many times a call answered Unavailable or
	// DeadlineExceeded is retried, after 100 ms, 200 ms, 400 ms, …; default
	// 5, negative for none. Every call this backend makes is idempotent.
	Retries int
	// SkipCompatibilityCheck opens a server whose version is not within
	// one minor version of the client's (v1.17).
	SkipCompatibilityCheck bool
	// PoolSize is the number of gRPC connections calls are spread over;
	// default 3.
	PoolSize int
}

const (
	defaultQdrantAddr = "localhost:6334"
	defaultBatchSize  = 128
	minBatchSize      = 64
	maxBatchSize      = 256
	defaultMaxRecv    = 64 << 20
	defaultRetries    = 5
	retryBase         = 100 * time.Millisecond
	retryMax          = 5 * time.Second
	// qdrantClientVersion is the version of github.com/qdrant/go-client
	// in go.mod, whose protocol this backend speaks.
	qdrantClientVersion = "1.17.1"
)

func (c QdrantConfig) withDefaults() QdrantConfig {
	if c.Addr == "" {
		c.Addr = defaultQdrantAddr
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	c.BatchSize = min(max(c.BatchSize, minBatchSize), maxBatchSize)
	if c.MaxRecvMsgSize <= 0 {
		c.MaxRecvMsgSize = defaultMaxRecv
	}
	switch {
	case c.Retries == 0:
		c.Retries = defaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	return c
}

// Qdrant is the Index over a Qdrant cluster, through its gRPC API. It is
// safe for concurrent use.
//
// Points carry their payload as Qdrant payload (video_id, space, modality,
// labels keyword-indexed, t_start float-indexed), named dense vectors with
// cosine distance and sparse vectors with Qdrant's IDF modifier, so the
// two backends score alike. Two things differ from Embedded because
// Qdrant does them differently: ReplaceVideo is not atomic (see there),
// and a UUID id comes back from queries in Qdrant's canonical lower-case
// form whatever form it was written in (Get answers with the ids as asked).
type Qdrant struct {
	addr    string
	client  *qdrant.Client
	batch   int
	retries int

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// Concurrent ReplaceVideo calls are merged: whoever holds flushMu
	// next sends every queued video's points together, in shared upsert
	// requests, so the jobs of a busy worker share round trips.
	queueMu sync.Mutex
	queue   []*qWrite
	flushMu sync.Mutex
}

// qWrite is one ReplaceVideo waiting to be sent.
type qWrite struct {
	collection, videoID string
	points              []Point
	finished            bool
	err                 error
}

var _ Index = (*Qdrant)(nil)

// OpenQdrant connects to Qdrant and checks that it answers, that the API
// key is accepted, and (unless told not to) that its version suits the
// client.
func OpenQdrant(ctx context.Context, cfg QdrantConfig) (*Qdrant, error) {
	cfg = cfg.withDefaults()
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("open qdrant %q: address must be host:port: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("open qdrant %q: bad port %q", cfg.Addr, portText)
	}
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxRecvMsgSize))}
	if cfg.APIKey != "" {
		// Our own interceptor rather than the client's APIKey, which logs
		// a warning on every connection made without TLS.
		key := cfg.APIKey
		opts = append(opts, grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "api-key", key), method, req, reply, cc, callOpts...)
		}))
	}
	if strings.Contains(host, ":") {
		// The client joins host and port with a bare colon.
		host = "[" + host + "]"
	}
	client, err := qdrant.NewClient(&qdrant.Config{
		Host:        host,
		Port:        port,
		UseTLS:      cfg.TLS,
		TLSConfig:   cfg.TLSConfig,
		GrpcOptions: opts,
		// The client's own check only logs; OpenQdrant checks below and
		// fails instead.
		SkipCompatibilityCheck: true,
		PoolSize:               uint(max(cfg.PoolSize, 0)),
	})
	if err != nil {
		return nil, fmt.Errorf("open qdrant at %s: %w", cfg.Addr, err)
	}
	q := &Qdrant{addr: cfg.Addr, client: client, batch: cfg.BatchSize, retries: cfg.Retries}
	if err := q.check(ctx, cfg.SkipCompatibilityCheck); err != nil {
		client.Close()
		return nil, err
	}
	return q, nil
}

func (q *Qdrant) check(ctx context.Context, skipVersion bool) error {
	var health *qdrant.HealthCheckReply
	err := q.do(ctx, func(ctx context.Context) (err error) {
		health, err = q.client.GetQdrantClient().HealthCheck(ctx, &qdrant.HealthCheckRequest{})
		return err
	})
	if err != nil {
		return fmt.Errorf("open qdrant at %s: health check: %w", q.addr, err)
	}
	if !skipVersion && !versionsCompatible(qdrantClientVersion, health.GetVersion()) {
		return fmt.Errorf("open qdrant at %s: server version %q is not within one minor version of client %s; upgrade one of them or set SkipCompatibilityCheck", q.addr, health.GetVersion(), qdrantClientVersion)
	}
	// Qdrant answers health checks without a key, so try a call that
	// needs one.
	if _, err := q.Collections(ctx); err != nil {
		return fmt.Errorf("open qdrant at %s: %w", q.addr, err)
	}
	return nil
}

// versionsCompatible is the client library's rule (same major, minor
// within one), without its logging.
func versionsCompatible(client, server string) bool {
	c, err1 := qdrant.ParseVersion(client)
	s, err2 := qdrant.ParseVersion(server)
	if err1 != nil || err2 != nil {
		return false
	}
	return c.Major == s.Major && c.Minor-s.Minor <= 1 && s.Minor-c.Minor <= 1
}

// Close closes the connections. It is safe to call more than once; calls
// after it return ErrClosed.
func (q *Qdrant) Close() error {
	q.closeOnce.Do(func() {
		q.closed.Store(true)
		q.closeErr = q.client.Close()
	})
	return q.closeErr
}

// do runs one idempotent call, retrying it with exponential backoff while
// Qdrant is unavailable (a restarting node, a full queue behind a load
// balancer) or times out, and the caller's context is not done.
func (q *Qdrant) do(ctx context.Context, call func(context.Context) error) error {
	delay := retryBase
	for attempt := 0; ; attempt++ {
		if q.closed.Load() {
			return ErrClosed
		}
		err := call(ctx)
		if err == nil || attempt >= q.retries || ctx.Err() != nil {
			return err
		}
		if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, retryMax)
	}
}

// qerr wraps an error of a call for callers: a missing collection is
// ErrNoCollection, an invalid argument about a vector ErrBadVector and any
// other invalid argument ErrBadPoint (writes) or ErrBadQuery (reads).
// Qdrant's message stays in the text; a done context stays visible to
// errors.Is.
func qerr(ctx context.Context, op string, err error, write bool) error {
	if ctx.Err() != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("qdrant %s: %w (%v)", op, ctx.Err(), err)
	}
	var kind error
	switch st, _ := status.FromError(err); st.Code() {
	case codes.NotFound:
		kind = ErrNoCollection
	case codes.InvalidArgument:
		msg := strings.ToLower(st.Message())
		switch {
		case strings.Contains(msg, "vector") || strings.Contains(msg, "dimension"):
			kind = ErrBadVector
		case write:
			kind = ErrBadPoint
		default:
			kind = ErrBadQuery
		}
	}
	if kind == nil {
		return fmt.Errorf("qdrant %s: %w", op, err)
	}
	return fmt.Errorf("qdrant %s: %w: %w", op, kind, err)
}

// Collection and alias names: the same rule as Embedded, so a name works
// on both backends.
var qdrantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// payloadIndexes are the payload fields queries filter and group on.
var payloadIndexes = []struct {
	field string
	typ   qdrant.FieldType
}{
	{"video_id", qdrant.FieldType_FieldTypeKeyword},
	{"space", qdrant.FieldType_FieldTypeKeyword},
	{"modality", qdrant.FieldType_FieldTypeKeyword},
	{"labels", qdrant.FieldType_FieldTypeKeyword},
	{"t_start", qdrant.FieldType_FieldTypeFloat},
}

// Ensure creates the collection with the schema, or checks an existing
// one has it; either way it creates the payload indexes it lacks.
func (q *Qdrant) Ensure(ctx context.Context, name string, schema Schema) error {
	if err := validSchema(schema); err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if !qdrantName.MatchString(name) {
		return fmt.Errorf("ensure collection %q: a name is letters, digits, '_', '-' and '.'", name)
	}
	aliases, err := q.Aliases(ctx)
	if err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if _, ok := aliases[name]; ok {
		// Qdrant would answer with the aliased collection's info.
		return fmt.Errorf("ensure collection %s: an alias has that name", name)
	}
	info, err := q.info(ctx, name)
	if errors.Is(err, ErrNoCollection) {
		err = q.do(ctx, func(ctx context.Context) error {
			_, err := q.client.GetCollectionsClient().Create(ctx, createRequest(name, schema))
			return err
		})
		if alreadyExists(err, name) {
			// Created meanwhile, by another worker or by a retried call
			// whose first answer was lost: check it like any other.
			info, err = q.info(ctx, name)
		} else if err != nil {
			return qerr(ctx, "create collection "+name, err, true)
		}
	}
	if err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if info != nil {
		have, problems := schemaOf(info.GetConfig().GetParams())
		if len(problems) > 0 || !equalSchemas(have, schema) {
			return fmt.Errorf("ensure collection %s: %w: it has %s%s, asked for %s", name, ErrSchema, have, strings.Join(problems, ""), schema)
		}
	}
	for _, ix := range payloadIndexes {
		if _, ok := info.GetPayloadSchema()[ix.field]; ok {
			continue
		}
		var res *qdrant.PointsOperationResponse
		err := q.do(ctx, func(ctx context.Context) (err error) {
			res, err = q.client.GetPointsClient().CreateFieldIndex(ctx, fieldIndexRequest(name, ix.field, ix.typ))
			return err
		})
		if err == nil {
			err = completed(res.GetResult())
		}
		if err != nil {
			return qerr(ctx, fmt.Sprintf("create payload index %s on %s", ix.field, name), err, true)
		}
	}
	return nil
}

// alreadyExists reports whether a create failed because the collection
// exists: Qdrant answers InvalidArgument "Collection `NAME` already
// exists!" (not for an alias of that name, which is another message).
func alreadyExists(err error, name string) bool {
	st, _ := status.FromError(err)
	return st.Code() == codes.AlreadyExists ||
		st.Code() == codes.InvalidArgument && strings.Contains(st.Message(), "Collection `"+name+"` already exists")
}

func createRequest(name string, schema Schema) *qdrant.CreateCollection {
	req := &qdrant.CreateCollection{CollectionName: name}
	if len(schema.Dense) > 0 {
		params := make(map[string]*qdrant.VectorParams, len(schema.Dense))
		for n, dim := range schema.Dense {
			params[n] = &qdrant.VectorParams{Size: uint64(dim), Distance: qdrant.Distance_Cosine}
		}
		req.VectorsConfig = qdrant.NewVectorsConfigMap(params)
	}
	if len(schema.Sparse) > 0 {
		params := make(map[string]*qdrant.SparseVectorParams, len(schema.Sparse))
		for _, n := range schema.Sparse {
			params[n] = &qdrant.SparseVectorParams{Modifier: qdrant.Modifier_Idf.Enum()}
		}
		req.SparseVectorsConfig = qdrant.NewSparseVectorsConfig(params)
	}
	return req
}

func fieldIndexRequest(collection, field string, typ qdrant.FieldType) *qdrant.CreateFieldIndexCollection {
	return &qdrant.CreateFieldIndexCollection{
		CollectionName: collection,
		Wait:           ptrTo(true),
		FieldName:      field,
		FieldType:      typ.Enum(),
	}
}

// schemaOf reads a collection's configuration as a Schema, with what a
// Schema cannot say (another distance, no IDF, an unnamed vector) as
// problems.
func schemaOf(params *qdrant.CollectionParams) (Schema, []string) {
	var s Schema
	var problems []string
	switch vc := params.GetVectorsConfig().GetConfig().(type) {
	case *qdrant.VectorsConfig_Params:
		problems = append(problems, fmt.Sprintf(" (a single unnamed %d-d vector)", vc.Params.GetSize()))
	case *qdrant.VectorsConfig_ParamsMap:
		for n, p := range vc.ParamsMap.GetMap() {
			if s.Dense == nil {
				s.Dense = map[string]int{}
			}
			s.Dense[n] = int(p.GetSize())
			if p.GetDistance() != qdrant.Distance_Cosine {
				problems = append(problems, fmt.Sprintf(" (vector %q uses %s distance)", n, p.GetDistance()))
			}
			if p.MultivectorConfig != nil {
				problems = append(problems, fmt.Sprintf(" (vector %q is a multivector)", n))
			}
		}
	}
	for n, p := range params.GetSparseVectorsConfig().GetMap() {
		s.Sparse = append(s.Sparse, n)
		if p.GetModifier() != qdrant.Modifier_Idf {
			problems = append(problems, fmt.Sprintf(" (sparse vector %q has no IDF modifier)", n))
		}
	}
	sort.Strings(s.Sparse)
	sort.Strings(problems)
	return s, problems
}

func validSchema(s Schema) error {
	if len(s.Dense) == 0 && len(s.Sparse) == 0 {
		return errors.New("a schema needs at least one vector")
	}
	for name, dim := range s.Dense {
		if dim < 1 {
			return fmt.Errorf("dense vector %q: dimension %d", name, dim)
		}
		if slices.Contains(s.Sparse, name) {
			return fmt.Errorf("vector %q is both dense and sparse", name)
		}
	}
	return nil
}

func equalSchemas(a, b Schema) bool {
	if len(a.Dense) != len(b.Dense) || len(a.Sparse) != len(b.Sparse) {
		return false
	}
	for k, v := range a.Dense {
		if d, ok := b.Dense[k]; !ok || d != v {
			return false
		}
	}
	for _, s := range a.Sparse {
		if !slices.Contains(b.Sparse, s) {
			return false
		}
	}
	return true
}

// info returns a collection's info; Qdrant resolves an alias.
// Schema returns a collection's schema, read from its configuration.
func (q *Qdrant) Schema(ctx context.Context, collection string) (Schema, error) {
	info, err := q.info(ctx, collection)
	if err != nil {
		return Schema{}, err
	}
	s, problems := schemaOf(info.GetConfig().GetParams())
	if len(problems) > 0 {
		return s, fmt.Errorf("collection %s is not a mediavec collection:%s", collection, strings.Join(problems, ","))
	}
	return s, nil
}

func (q *Qdrant) info(ctx context.Context, name string) (*qdrant.CollectionInfo, error) {
	var res *qdrant.GetCollectionInfoResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().Get(ctx, &qdrant.GetCollectionInfoRequest{CollectionName: name})
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "collection info of "+name, err, false)
	}
	return res.GetResult(), nil
}

// SetAlias points alias at collection in one UpdateAliases call (delete,
// then create), which Qdrant applies under one lock: no reader sees the
// alias missing. Both names are checked first, because Qdrant keeps the
// delete when the create fails.
func (q *Qdrant) SetAlias(ctx context.Context, alias, collection string) error {
	cols, err := q.Collections(ctx)
	if err != nil {
		return fmt.Errorf("set alias %s → %s: %w", alias, collection, err)
	}
	if !slices.Contains(cols, collection) {
		return fmt.Errorf("set alias %s → %s: %w", alias, collection, ErrNoCollection)
	}
	if slices.Contains(cols, alias) {
		return fmt.Errorf("set alias %s: a collection has that name", alias)
	}
	if !qdrantName.MatchString(alias) {
		return fmt.Errorf("set alias %q: a name is letters, digits, '_', '-' and '.'", alias)
	}
	err = q.do(ctx, func(ctx context.Context) error {
		_, err := q.client.GetCollectionsClient().UpdateAliases(ctx, aliasRequest(alias, collection))
		return err
	})
	if err != nil {
		return qerr(ctx, fmt.Sprintf("set alias %s → %s", alias, collection), err, true)
	}
	return nil
}

func aliasRequest(alias, collection string) *qdrant.ChangeAliases {
	return &qdrant.ChangeAliases{Actions: []*qdrant.AliasOperations{
		qdrant.NewAliasDelete(alias),
		qdrant.NewAliasCreate(alias, collection),
	}}
}

// Aliases returns every alias and its collection.
func (q *Qdrant) Aliases(ctx context.Context) (map[string]string, error) {
	var res *qdrant.ListAliasesResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().ListAliases(ctx, &qdrant.ListAliasesRequest{})
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "list aliases", err, false)
	}
	out := make(map[string]string, len(res.GetAliases()))
	for _, a := range res.GetAliases() {
		out[a.GetAliasName()] = a.GetCollectionName()
	}
	return out, nil
}

// Collections lists the collections, sorted.
func (q *Qdrant) Collections(ctx context.Context) ([]string, error) {
	var res *qdrant.ListCollectionsResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().List(ctx, &qdrant.ListCollectionsRequest{})
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "list collections", err, false)
	}
	out := make([]string, 0, len(res.GetCollections()))
	for _, c := range res.GetCollections() {
		out = append(out, c.GetName())
	}
	sort.Strings(out)
	return out, nil
}

// DropCollection deletes a collection no alias points at. Qdrant itself
// would drop the aliases along with it, so the check is made here first.
func (q *Qdrant) DropCollection(ctx context.Context, name string) error {
	cols, err := q.Collections(ctx)
	if err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	if !slices.Contains(cols, name) {
		return fmt.Errorf("drop %s: %w", name, ErrNoCollection)
	}
	var aliases *qdrant.ListAliasesResponse
	err = q.do(ctx, func(ctx context.Context) (err error) {
		aliases, err = q.client.GetCollectionsClient().ListCollectionAliases(ctx, &qdrant.ListCollectionAliasesRequest{CollectionName: name})
		return err
	})
	if err != nil {
		return qerr(ctx, "list aliases of "+name, err, false)
	}
	if a := aliases.GetAliases(); len(a) > 0 {
		return fmt.Errorf("drop %s: alias %s points at it; move the alias first", name, a[0].GetAliasName())
	}
	var res *qdrant.CollectionOperationResponse
	err = q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().Delete(ctx, &qdrant.DeleteCollection{CollectionName: name})
		return err
	})
	if err != nil {
		return qerr(ctx, "drop "+name, err, true)
	}
	if !res.GetResult() {
		// Qdrant answers false, not NotFound, for a collection that is
		// not there (deleted since the list above).
		return fmt.Errorf("drop %s: %w", name, ErrNoCollection)
	}
	return nil
}

// Upsert writes points in batches, each acknowledged only once applied
// (wait=true). The points are checked against the collection's schema
// first, so a bad point fails the call before any batch is written.
func (q *Qdrant) Upsert(ctx context.Context, collection string, points []Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := q.upsert(ctx, collection, points); err != nil {
		return fmt.Errorf("upsert %d points into %s: %w", len(points), collection, err)
	}
	return nil
}

func (q *Qdrant) upsert(ctx context.Context, collection string, points []Point) error {
	info, err := q.info(ctx, collection)
	if err != nil {
		return err
	}
	schema, _ := schemaOf(info.GetConfig().GetParams())
	structs, err := checkedStructs(schema, collection, points)
	if err != nil {
		return err
	}
	return q.send(ctx, collection, structs)
}

// checkedStructs converts points, checked against the collection's schema.
func checkedStructs(schema Schema, collection string, points []Point) ([]*qdrant.PointStruct, error) {
	structs := make([]*qdrant.PointStruct, len(points))
	for i, p := range points {
		ps, err := pointStruct(p)
		if err != nil {
			return nil, err
		}
		if err := fitsSchema(schema, collection, p); err != nil {
			return nil, err
		}
		structs[i] = ps
	}
	return structs, nil
}

// send upserts points in batches, each acknowledged once applied.
func (q *Qdrant) send(ctx context.Context, collection string, structs []*qdrant.PointStruct) error {
	for _, req := range upsertRequests(collection, structs, q.batch) {
		var res *qdrant.PointsOperationResponse
		err := q.do(ctx, func(ctx context.Context) (err error) {
			res, err = q.client.GetPointsClient().Upsert(ctx, req)
			return err
		})
		if err == nil {
			err = completed(res.GetResult())
		}
		if err != nil {
			return qerr(ctx, "upsert into "+collection, err, true)
		}
	}
	return nil
}

// upsertRequests splits points into requests of at most batch points.
func upsertRequests(collection string, points []*qdrant.PointStruct, batch int) []*qdrant.UpsertPoints {
	var out []*qdrant.UpsertPoints
	for start := 0; start < len(points); start += batch {
		out = append(out, &qdrant.UpsertPoints{
			CollectionName: collection,
			Wait:           ptrTo(true),
			Points:         points[start:min(start+batch, len(points))],
		})
	}
	return out
}

// completed checks an update's result: with wait=true Qdrant answers
// Completed once the write is applied; anything else (Acknowledged,
// ClockRejected, WaitTimeout) is not the durable write callers wait for.
func completed(r *qdrant.UpdateResult) error {
	if s := r.GetStatus(); s != qdrant.UpdateStatus_Completed {
		return fmt.Errorf("update %d not completed: status %s", r.GetOperationId(), s)
	}
	return nil
}

func fitsSchema(s Schema, collection string, p Point) error {
	for name, v := range p.Vectors {
		dim, ok := s.Dense[name]
		if !ok {
			return fmt.Errorf("point %s: %w: collection %s has no dense vector %q", p.ID, ErrBadVector, collection, name)
		}
		if len(v) != dim {
			return fmt.Errorf("point %s: %w: vector %q has %d dimensions, collection %s has %d", p.ID, ErrBadVector, name, len(v), collection, dim)
		}
	}
	for name := range p.Sparse {
		if !slices.Contains(s.Sparse, name) {
			return fmt.Errorf("point %s: %w: collection %s has no sparse vector %q", p.ID, ErrBadVector, collection, name)
		}
	}
	return nil
}

// ReplaceVideo upserts the video's points, then deletes its points that
// are not among them. It is not atomic on Qdrant, which has no
// multi-operation transactions: a reader may briefly see old and new
// points together, and a failure between the two steps leaves stale
// points behind. It converges, though: every step is idempotent, so the
// retry a failed job gets completes the replacement.
//
// Calls made at the same time share upsert requests (see flush).
func (q *Qdrant) ReplaceVideo(ctx context.Context, collection, videoID string, points []Point) error {
	for _, p := range points {
		if p.Payload.VideoID != videoID {
			return fmt.Errorf("replace video %s in %s: %w: point %s belongs to video %q", videoID, collection, ErrBadPoint, p.ID, p.Payload.VideoID)
		}
	}
	if q.closed.Load() {
		return ErrClosed
	}
	w := &qWrite{collection: collection, videoID: videoID, points: points}
	q.queueMu.Lock()
	q.queue = append(q.queue, w)
	q.queueMu.Unlock()
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	for !w.finished {
		q.flush(ctx)
	}
	if w.err != nil {
		return fmt.Errorf("replace video %s in %s: %w", videoID, collection, w.err)
	}
	return nil
}

// flush sends queued replacements: per collection, every video's points
// in shared batched upserts, then each video's stale points deleted. A
// video queued twice waits for the next flush, so its two replacements
// never interleave. Callers hold flushMu. It runs on the caller's context
// cut loose from its cancellation (with a deadline), since it carries
// other callers' writes too.
func (q *Qdrant) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	q.queueMu.Lock()
	var batch, later []*qWrite
	taken := map[[2]string]bool{}
	for _, w := range q.queue {
		k := [2]string{w.collection, w.videoID}
		if taken[k] {
			later = append(later, w)
			continue
		}
		taken[k] = true
		batch = append(batch, w)
	}
	q.queue = later
	q.queueMu.Unlock()

	byColl := map[string][]*qWrite{}
	var order []string
	for _, w := range batch {
		if byColl[w.collection] == nil {
			order = append(order, w.collection)
		}
		byColl[w.collection] = append(byColl[w.collection], w)
	}
	for _, coll := range order {
		ws := byColl[coll]
		var structs []*qdrant.PointStruct
		var ok []*qWrite
		info, err := q.info(ctx, coll)
		if err != nil {
			finish(ws, err)
			continue
		}
		schema, _ := schemaOf(info.GetConfig().GetParams())
		for _, w := range ws {
			// A bad point fails its own video only.
			ps, err := checkedStructs(schema, coll, w.points)
			if err != nil {
				finish([]*qWrite{w}, err)
				continue
			}
			structs = append(structs, ps...)
			ok = append(ok, w)
		}
		if err := q.send(ctx, coll, structs); err != nil {
			finish(ok, err)
			continue
		}
		for _, w := range ok {
			keep := make([]*qdrant.PointId, len(w.points))
			for i, p := range w.points {
				keep[i] = pointID(p.ID) // valid: checked above
			}
			finish([]*qWrite{w}, q.deleteWhere(ctx, coll, staleFilter(w.videoID, keep)))
		}
	}
}

func finish(ws []*qWrite, err error) {
	for _, w := range ws {
		w.finished, w.err = true, err
	}
}

// staleFilter selects a video's points other than keep.
func staleFilter(videoID string, keep []*qdrant.PointId) *qdrant.Filter {
	f := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("video_id", videoID)}}
	if len(keep) > 0 {
		f.MustNot = []*qdrant.Condition{qdrant.NewHasID(keep...)}
	}
	return f
}

// DeleteVideo removes every point of a video.
func (q *Qdrant) DeleteVideo(ctx context.Context, collection, videoID string) error {
	if err := q.deleteWhere(ctx, collection, staleFilter(videoID, nil)); err != nil {
		return fmt.Errorf("delete video %s from %s: %w", videoID, collection, err)
	}
	return nil
}

func (q *Qdrant) deleteWhere(ctx context.Context, collection string, f *qdrant.Filter) error {
	req := &qdrant.DeletePoints{CollectionName: collection, Wait: ptrTo(true), Points: qdrant.NewPointsSelectorFilter(f)}
	var res *qdrant.PointsOperationResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Delete(ctx, req)
		return err
	})
	if err == nil {
		err = completed(res.GetResult())
	}
	if err != nil {
		return qerr(ctx, "delete from "+collection, err, true)
	}
	return nil
}

// Get returns the points with these ids in the order asked, with the ids
// as asked; ids that are not there, or could not be point ids, are left
// out.
func (q *Qdrant) Get(ctx context.Context, collection string, ids ...string) ([]Point, error) {
	var want []*qdrant.PointId
	seen := map[string]bool{}
	for _, id := range ids {
		if ValidateID(id) != nil {
			continue
		}
		pid := pointID(id)
		if k := idString(pid); !seen[k] {
			seen[k] = true
			want = append(want, pid)
		}
	}
	if len(want) == 0 {
		// Nothing to fetch, but a missing collection is still an error.
		_, err := q.info(ctx, collection)
		if err != nil {
			return nil, fmt.Errorf("get from %s: %w", collection, err)
		}
		return nil, nil
	}
	req := &qdrant.GetPoints{
		CollectionName: collection,
		Ids:            want,
		WithPayload:    qdrant.NewWithPayload(true),
		WithVectors:    qdrant.NewWithVectors(true),
	}
	var res *qdrant.GetResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Get(ctx, req)
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "get from "+collection, err, false)
	}
	found := make(map[string]*qdrant.RetrievedPoint, len(res.GetResult()))
	for _, rp := range res.GetResult() {
		found[idString(rp.GetId())] = rp
	}
	var out []Point
	for _, id := range ids {
		if ValidateID(id) != nil {
			continue
		}
		rp, ok := found[idString(pointID(id))]
		if !ok {
			continue
		}
		p, err := pointFrom(rp.GetId(), rp.GetPayload(), rp.GetVectors())
		if err != nil {
			return nil, fmt.Errorf("get from %s: %w", collection, err)
		}
		p.ID = id
		out = append(out, p)
	}
	return out, nil
}

// Count returns how many points pass the filter, counted exactly.
func (q *Qdrant) Count(ctx context.Context, collection string, f Filter) (int, error) {
	req := &qdrant.CountPoints{CollectionName: collection, Filter: qdrantFilter(f), Exact: ptrTo(true)}
	var res *qdrant.CountResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Count(ctx, req)
		return err
	})
	if err != nil {
		return 0, qerr(ctx, "count in "+collection, err, false)
	}
	return int(res.GetResult().GetCount()), nil
}

// Query returns the best points for qu.
func (q *Qdrant) Query(ctx context.Context, qu Query) ([]Hit, error) {
	if err := qu.Validate(); err != nil {
		return nil, err
	}
	req := queryRequest(qu)
	var res *qdrant.QueryResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().Query(ctx, req)
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "query "+qu.Collection, err, false)
	}
	hits, err := hitsFrom(res.GetResult())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", qu.Collection, err)
	}
	return hits, nil
}

// QueryGroups runs qu grouped by video_id: at most qu.Limit videos, each
// with its best groupSize hits.
func (q *Qdrant) QueryGroups(ctx context.Context, qu Query, groupSize int) ([]Group, error) {
	if err := qu.Validate(); err != nil {
		return nil, err
	}
	if groupSize < 1 {
		return nil, fmt.Errorf("%w: group size %d", ErrBadQuery, groupSize)
	}
	req := groupsRequest(qu, groupSize)
	var res *qdrant.QueryGroupsResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetPointsClient().QueryGroups(ctx, req)
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "query groups "+qu.Collection, err, false)
	}
	groups := res.GetResult().GetGroups()
	out := make([]Group, len(groups))
	for i, g := range groups {
		hits, err := hitsFrom(g.GetHits())
		if err != nil {
			return nil, fmt.Errorf("query groups %s: %w", qu.Collection, err)
		}
		out[i] = Group{VideoID: groupID(g.GetId()), Hits: hits}
	}
	return out, nil
}

func groupID(id *qdrant.GroupId) string {
	switch k := id.GetKind().(type) {
	case *qdrant.GroupId_StringValue:
		return k.StringValue
	case *qdrant.GroupId_UnsignedValue:
		return strconv.FormatUint(k.UnsignedValue, 10)
	case *qdrant.GroupId_IntegerValue:
		return strconv.FormatInt(k.IntegerValue, 10)
	}
	return ""
}

func hitsFrom(points []*qdrant.ScoredPoint) ([]Hit, error) {
	out := make([]Hit, len(points))
	for i, sp := range points {
		payload, err := payloadFrom(sp.GetPayload())
		if err != nil {
			return nil, fmt.Errorf("point %s: %w", idString(sp.GetId()), err)
		}
		out[i] = Hit{ID: idString(sp.GetId()), Score: sp.GetScore(), Payload: payload}
	}
	return out, nil
}

// queryRequest is the QueryPoints for a checked query. Prefetches become
// Qdrant prefetches fused by RRF; the query's filter is set on every
// prefetch without one of its own (and not on the fusion, whose
// candidates have all passed it), as Embedded applies it.
func queryRequest(qu Query) *qdrant.QueryPoints {
	req := &qdrant.QueryPoints{
		CollectionName: qu.Collection,
		Limit:          ptrTo(uint64(qu.Limit)),
		WithPayload:    qdrant.NewWithPayload(true),
	}
	if len(qu.Prefetch) == 0 {
		req.Query = nearest(qu)
		req.Using = ptrTo(qu.Using)
		req.Filter = qdrantFilter(qu.Filter)
		req.ScoreThreshold = qu.ScoreThreshold
		return req
	}
	for _, sub := range qu.Prefetch {
		f := sub.Filter
		if f.IsZero() {
			f = qu.Filter
		}
		req.Prefetch = append(req.Prefetch, &qdrant.PrefetchQuery{
			Query:          nearest(sub),
			Using:          ptrTo(sub.Using),
			Filter:         qdrantFilter(f),
			ScoreThreshold: sub.ScoreThreshold,
			Limit:          ptrTo(uint64(sub.Limit)),
		})
	}
	req.Query = qdrant.NewQueryRRF(&qdrant.Rrf{K: ptrTo(qdrantRRFK(qu.RRFK))})
	return req
}

// qdrantRRFK is the k to send Qdrant for Query.RRFK. Query defines a
// point's score as Σ 1/(RRFK + rank), rank counted from 1; Qdrant computes
// Σ 1/(k + position) with position counted from 0
// (lib/segment/src/common/reciprocal_rank_fusion.rs), so k = RRFK + 1
// gives the same scores.
func qdrantRRFK(rrfk int) uint32 {
	if rrfk <= 0 {
		rrfk = DefaultRRFK
	}
	return uint32(rrfk + 1)
}

func groupsRequest(qu Query, groupSize int) *qdrant.QueryPointGroups {
	r := queryRequest(qu)
	return &qdrant.QueryPointGroups{
		CollectionName: r.CollectionName,
		Prefetch:       r.Prefetch,
		Query:          r.Query,
		Using:          r.Using,
		Filter:         r.Filter,
		ScoreThreshold: r.ScoreThreshold,
		WithPayload:    r.WithPayload,
		Limit:          r.Limit,
		GroupSize:      ptrTo(uint64(groupSize)),
		GroupBy:        "video_id",
	}
}

func nearest(qu Query) *qdrant.Query {
	if qu.Sparse != nil {
		return qdrant.NewQuerySparse(qu.Sparse.Indices, qu.Sparse.Values)
	}
	return qdrant.NewQueryDense(qu.Dense)
}

// qdrantFilter maps a Filter onto payload conditions; nil lets every
// point through.
func qdrantFilter(f Filter) *qdrant.Filter {
	if f.IsZero() {
		return nil
	}
	out := &qdrant.Filter{}
	if len(f.VideoIDs) > 0 {
		out.Must = append(out.Must, qdrant.NewMatchKeywords("video_id", f.VideoIDs...))
	}
	if len(f.ExcludeVideoIDs) > 0 {
		out.MustNot = append(out.MustNot, qdrant.NewMatchKeywords("video_id", f.ExcludeVideoIDs...))
	}
	if f.Space != "" {
		out.Must = append(out.Must, qdrant.NewMatchKeyword("space", f.Space))
	}
	if f.Modality != "" {
		out.Must = append(out.Must, qdrant.NewMatchKeyword("modality", f.Modality))
	}
	for _, l := range f.Labels {
		out.Must = append(out.Must, qdrant.NewMatchKeyword("labels", l))
	}
	if f.TStartFrom != nil || f.TStartTo != nil {
		out.Must = append(out.Must, qdrant.NewRange("t_start", &qdrant.Range{Gte: f.TStartFrom, Lt: f.TStartTo}))
	}
	return out
}

// pointID is the Qdrant id of a valid id (see ValidateID): an unsigned
// integer, else a UUID in canonical form.
func pointID(id string) *qdrant.PointId {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil {
		return qdrant.NewIDNum(n)
	}
	u, _ := uuid.Parse(id)
	return qdrant.NewIDUUID(u.String())
}

// idString is the id string of a Qdrant id, as pointID would make it.
func idString(id *qdrant.PointId) string {
	switch o := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return strconv.FormatUint(o.Num, 10)
	case *qdrant.PointId_Uuid:
		return o.Uuid
	}
	return ""
}

// pointStruct converts a point for an upsert, checking what can be checked
// without the collection's schema.
func pointStruct(p Point) (*qdrant.PointStruct, error) {
	if err := ValidateID(p.ID); err != nil {
		return nil, err
	}
	if len(p.Vectors) == 0 && len(p.Sparse) == 0 {
		return nil, fmt.Errorf("%w: point %s has no vector", ErrBadPoint, p.ID)
	}
	vecs := make(map[string]*qdrant.Vector, len(p.Vectors)+len(p.Sparse))
	for name, v := range p.Vectors {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("point %s: %w: vector %q is not finite", p.ID, ErrBadVector, name)
			}
		}
		vecs[name] = qdrant.NewVectorDense(v)
	}
	for name, sv := range p.Sparse {
		if _, dup := p.Vectors[name]; dup {
			return nil, fmt.Errorf("point %s: %w: %q is both a dense and a sparse vector", p.ID, ErrBadVector, name)
		}
		if err := sparseOK(sv); err != nil {
			return nil, fmt.Errorf("point %s: %w: sparse %q: %v", p.ID, ErrBadVector, name, err)
		}
		vecs[name] = qdrant.NewVectorSparse(sv.Indices, sv.Values)
	}
	payload, err := qdrantPayload(p.Payload)
	if err != nil {
		return nil, fmt.Errorf("point %s: %w: %v", p.ID, ErrBadPoint, err)
	}
	return &qdrant.PointStruct{Id: pointID(p.ID), Vectors: qdrant.NewVectorsMap(vecs), Payload: payload}, nil
}

func sparseOK(sv SparseVector) error {
	if len(sv.Indices) != len(sv.Values) {
		return fmt.Errorf("%d indices and %d values", len(sv.Indices), len(sv.Values))
	}
	seen := make(map[uint32]bool, len(sv.Indices))
	for _, i := range sv.Indices {
		if seen[i] {
			return fmt.Errorf("index %d twice", i)
		}
		seen[i] = true
	}
	return nil
}

// Payload keys in Qdrant.
const (
	keyVideoID   = "video_id"
	keySpace     = "space"
	keyModality  = "modality"
	keyTStart    = "t_start"
	keyTEnd      = "t_end"
	keyText      = "text"
	keyLabels    = "labels"
	keySource    = "source"
	keyIndexedAt = "indexed_at"
	keyFields    = "fields"
	keySpeech    = "speech"
)

// qdrantPayload maps a Payload onto Qdrant payload: video_id and the
// times always, the optional fields only when set, indexed_at as an
// RFC 3339 string (Qdrant's datetime format), fields as an object.
func qdrantPayload(p Payload) (map[string]*qdrant.Value, error) {
	if math.IsNaN(p.TStart) || math.IsInf(p.TStart, 0) || math.IsNaN(p.TEnd) || math.IsInf(p.TEnd, 0) {
		return nil, fmt.Errorf("times %v–%v are not finite", p.TStart, p.TEnd)
	}
	// Protobuf strings must be UTF-8; say so here rather than fail the
	// whole request in marshalling.
	bad := ""
	check := func(what, s string) {
		if bad == "" && !utf8.ValidString(s) {
			bad = what
		}
	}
	m := map[string]*qdrant.Value{
		keyVideoID: qdrant.NewValueString(p.VideoID),
		keyTStart:  qdrant.NewValueDouble(p.TStart),
		keyTEnd:    qdrant.NewValueDouble(p.TEnd),
	}
	check(keyVideoID, p.VideoID)
	for _, kv := range []struct{ key, val string }{
		{keySpace, p.Space}, {keyModality, p.Modality}, {keyText, p.Text}, {keySource, p.Source},
	} {
		if kv.val != "" {
			check(kv.key, kv.val)
			m[kv.key] = qdrant.NewValueString(kv.val)
		}
	}
	if len(p.Labels) > 0 {
		labels := make([]*qdrant.Value, len(p.Labels))
		for i, l := range p.Labels {
			check(keyLabels, l)
			labels[i] = qdrant.NewValueString(l)
		}
		m[keyLabels] = qdrant.NewValueFromList(labels...)
	}
	if p.Speech != 0 {
		if math.IsNaN(p.Speech) || math.IsInf(p.Speech, 0) {
			return nil, fmt.Errorf("speech probability %v is not finite", p.Speech)
		}
		m[keySpeech] = qdrant.NewValueDouble(p.Speech)
	}
	if !p.IndexedAt.IsZero() {
		m[keyIndexedAt] = qdrant.NewValueString(p.IndexedAt.Format(time.RFC3339Nano))
	}
	if len(p.Fields) > 0 {
		fields := make(map[string]*qdrant.Value, len(p.Fields))
		for k, v := range p.Fields {
			check(keyFields, k)
			check(keyFields, v)
			fields[k] = qdrant.NewValueString(v)
		}
		m[keyFields] = qdrant.NewValueFromFields(fields)
	}
	if bad != "" {
		return nil, fmt.Errorf("payload %s is not valid UTF-8", bad)
	}
	return m, nil
}

// payloadFrom reads a Payload back; keys it does not know are ignored.
func payloadFrom(m map[string]*qdrant.Value) (Payload, error) {
	var p Payload
	for k, v := range m {
		switch k {
		case keyVideoID:
			p.VideoID = v.GetStringValue()
		case keySpace:
			p.Space = v.GetStringValue()
		case keyModality:
			p.Modality = v.GetStringValue()
		case keyText:
			p.Text = v.GetStringValue()
		case keySource:
			p.Source = v.GetStringValue()
		case keyTStart:
			p.TStart = numberValue(v)
		case keyTEnd:
			p.TEnd = numberValue(v)
		case keySpeech:
			p.Speech = numberValue(v)
		case keyLabels:
			for _, l := range v.GetListValue().GetValues() {
				p.Labels = append(p.Labels, l.GetStringValue())
			}
		case keyIndexedAt:
			s := v.GetStringValue()
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return Payload{}, fmt.Errorf("payload indexed_at %q: %w", s, err)
			}
			p.IndexedAt = t
		case keyFields:
			fields := v.GetStructValue().GetFields()
			if len(fields) > 0 {
				p.Fields = make(map[string]string, len(fields))
				for fk, fv := range fields {
					p.Fields[fk] = fv.GetStringValue()
				}
			}
		}
	}
	return p, nil
}

// numberValue reads a number Qdrant may hand back as a double or, for a
// whole number, an integer.
func numberValue(v *qdrant.Value) float64 {
	if i, ok := v.GetKind().(*qdrant.Value_IntegerValue); ok {
		return float64(i.IntegerValue)
	}
	return v.GetDoubleValue()
}

// pointFrom rebuilds a Point from what Get returns. Vectors may come in
// the current oneof form or the deprecated data/indices fields.
func pointFrom(id *qdrant.PointId, payload map[string]*qdrant.Value, vectors *qdrant.VectorsOutput) (Point, error) {
	p := Point{ID: idString(id)}
	var err error
	if p.Payload, err = payloadFrom(payload); err != nil {
		return Point{}, fmt.Errorf("point %s: %w", p.ID, err)
	}
	put := func(name string, vo *qdrant.VectorOutput) error {
		var dense []float32
		var sparse *SparseVector
		switch x := vo.GetVector().(type) {
		case *qdrant.VectorOutput_Dense:
			dense = slices.Clone(x.Dense.GetData())
		case *qdrant.VectorOutput_Sparse:
			sparse = &SparseVector{Indices: slices.Clone(x.Sparse.GetIndices()), Values: slices.Clone(x.Sparse.GetValues())}
		case nil:
			switch {
			case vo.Indices != nil:
				sparse = &SparseVector{Indices: slices.Clone(vo.Indices.GetData()), Values: slices.Clone(vo.GetData())}
			case vo.VectorsCount != nil:
				return fmt.Errorf("point %s: vector %q is a multivector", p.ID, name)
			default:
				dense = slices.Clone(vo.GetData())
			}
		default:
			return fmt.Errorf("point %s: vector %q is a multivector", p.ID, name)
		}
		if sparse != nil {
			if p.Sparse == nil {
				p.Sparse = map[string]SparseVector{}
			}
			p.Sparse[name] = *sparse
			return nil
		}
		if p.Vectors == nil {
			p.Vectors = map[string][]float32{}
		}
		p.Vectors[name] = dense
		return nil
	}
	switch o := vectors.GetVectorsOptions().(type) {
	case *qdrant.VectorsOutput_Vectors:
		for name, vo := range o.Vectors.GetVectors() {
			if err := put(name, vo); err != nil {
				return Point{}, err
			}
		}
	case *qdrant.VectorsOutput_Vector:
		if err := put("", o.Vector); err != nil {
			return Point{}, err
		}
	}
	return p, nil
}

func ptrTo[T any](v T) *T { return &v }
