// Package qdranttest is an in-memory Qdrant that speaks Qdrant's gRPC API,
// for testing code that uses github.com/qdrant/go-client without a Qdrant
// server. It is its own implementation over the client's protobuf types
// (it shares nothing with the embedded index), and it mirrors the Qdrant
// behaviour a client can observe:
//
//   - point ids are unsigned integers or UUIDs (any form Qdrant parses,
//     returned in canonical lower-case hyphenated form); anything else is
//     InvalidArgument "Unable to parse UUID: …";
//   - Qdrant's messages and codes for an unknown vector name, a wrong
//     dimension, a missing collection, an existing collection;
//   - aliases resolve for every points call;
//   - dense vectors of a Cosine space are normalised on upsert, sparse
//     vectors are sorted by index, and the IDF modifier weighs query terms
//     by ln(1 + (N − n + 0.5)/(n + 0.5));
//   - reciprocal rank fusion as Qdrant computes it: Σ 1/(k + rank − 1),
//     rank counted from 1 (so 1/(k + position) with Qdrant's 0-based
//     position), k = 2 unless the request sets it, and Qdrant's weighted
//     form 1/(rank/w + k − 1);
//   - no message-size limit on requests (Qdrant's gRPC server sets none) and
//     none on responses, so a client's own receive limit is what decides;
//   - with APIKey set, every call but HealthCheck needs metadata "api-key"
//     (or "authorization: Bearer …"), else Unauthenticated.
//
// Scoring is a brute-force scan, so results are exact where Qdrant's HNSW
// is approximate; equal scores are ordered by point id (as a string). Writes
// are applied whole: a request that fails validation changes nothing.
package qdranttest

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Version is the Qdrant version the server reports in HealthCheck.
const Version = "1.17.1"

// maxMessage is the server's message-size limit both ways: far above any
// test's message, as Qdrant's external gRPC server has no decoding limit.
const maxMessage = 1 << 30

// Server is an in-memory Qdrant. The zero value is not usable; call New.
// It is safe for concurrent use.
type Server struct {
	// APIKey, when not empty, is required on every call but HealthCheck.
	// Set it before Serve.
	APIKey string
	// Version is what HealthCheck reports; empty means the package's
	// Version. Set it before Serve.
	Version string

	mu          sync.RWMutex
	collections map[string]*collection
	aliases     map[string]string
	operation   uint64

	statMu   sync.Mutex
	calls    map[string]int
	failN    int
	failCode codes.Code

	grpc *grpc.Server
}

// New returns a server with no collections; Serve starts it.
func New() *Server {
	s := &Server{
		collections: map[string]*collection{},
		aliases:     map[string]string{},
		calls:       map[string]int{},
	}
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxSendMsgSize(maxMessage),
		// The Go client pings every 10 s even without calls in flight;
		// grpc-go's default policy would answer that with GOAWAY, Qdrant's
		// server does not.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(s.intercept),
	)
	qdrant.RegisterQdrantServer(s.grpc, &healthService{s: s})
	qdrant.RegisterCollectionsServer(s.grpc, &collectionsService{s: s})
	qdrant.RegisterPointsServer(s.grpc, &pointsService{s: s})
	return s
}

// Serve answers gRPC calls on lis until Stop.
func (s *Server) Serve(lis net.Listener) error { return s.grpc.Serve(lis) }

// Stop closes the listeners and every connection at once.
func (s *Server) Stop() { s.grpc.Stop() }

// ListenAndServe serves on addr (host:port) until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, s.Stop)
	defer stop()
	err = s.Serve(lis)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ListenAndServe runs a new server on addr until ctx is done, for a
// process that wants a throwaway Qdrant:
//
//	go qdranttest.ListenAndServe(ctx, "127.0.0.1:6334")
func ListenAndServe(ctx context.Context, addr string) error {
	return New().ListenAndServe(ctx, addr)
}

// Start runs a new server on a free loopback port for the rest of the test
// and returns its address.
func Start(t testing.TB) string { return New().Start(t) }

// Start runs s on a free loopback port until the test ends and returns its
// address.
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("qdranttest: listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// FailNext makes the next n calls fail with code, before any other check,
// as a load balancer or a restarting node would answer.
func (s *Server) FailNext(n int, code codes.Code) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	s.failN, s.failCode = n, code
}

// Calls reports how many calls of a method reached the server, failed ones
// included; method is "Service/Method", for example "Points/Upsert".
func (s *Server) Calls(method string) int {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	return s.calls[method]
}

const healthMethod = "/qdrant.Qdrant/HealthCheck"

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.statMu.Lock()
	s.calls[strings.TrimPrefix(info.FullMethod, "/qdrant.")]++
	if s.failN > 0 {
		s.failN--
		code := s.failCode
		s.statMu.Unlock()
		return nil, status.Errorf(code, "qdranttest: injected failure")
	}
	s.statMu.Unlock()
	// Qdrant lets health checks through without a key.
	if s.APIKey != "" && info.FullMethod != healthMethod {
		md, _ := metadata.FromIncomingContext(ctx)
		key := ""
		if v := md.Get("api-key"); len(v) > 0 {
			key = v[0]
		} else if v := md.Get("authorization"); len(v) > 0 {
			key = strings.TrimPrefix(v[0], "Bearer ")
		}
		switch key {
		case "":
			return nil, status.Error(codes.Unauthenticated, "Must provide an API key or an Authorization bearer token")
		case s.APIKey:
		default:
			return nil, status.Error(codes.Unauthenticated, "Invalid API key or JWT")
		}
	}
	return handler(ctx, req)
}

// Errors as Qdrant's StorageError renders them.

func badInput(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, "Wrong input: "+fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) error {
	return status.Error(codes.NotFound, "Not found: "+fmt.Sprintf(format, args...))
}

func validation(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, "Validation error in body: ["+fmt.Sprintf(format, args...)+"]")
}

func unsupported(what string) error {
	return status.Errorf(codes.Unimplemented, "qdranttest does not implement %s", what)
}

func missingCollection(name string) error {
	return notFound("Collection `%s` doesn't exist!", name)
}

// resolve returns the collection a name or alias stands for. Callers hold mu.
func (s *Server) resolve(name string) (*collection, error) {
	if target, ok := s.aliases[name]; ok {
		name = target
	}
	c, ok := s.collections[name]
	if !ok {
		return nil, missingCollection(name)
	}
	return c, nil
}

func (s *Server) nextOperation() uint64 {
	s.operation++
	return s.operation
}

func since(start time.Time) float64 { return time.Since(start).Seconds() }

type healthService struct {
	qdrant.UnimplementedQdrantServer
	s *Server
}

func (h *healthService) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	v := h.s.Version
	if v == "" {
		v = Version
	}
	return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine", Version: v}, nil
}

type collectionsService struct {
	qdrant.UnimplementedCollectionsServer
	s *Server
}

// collection is one collection: its vector configuration and its points.
type collection struct {
	name string
	// unnamed is set when the collection was created with a single unnamed
	// vector (stored under the name ""), which changes the shape of the
	// vectors in responses.
	unnamed bool
	dense   map[string]*qdrant.VectorParams
	sparse  map[string]*qdrant.SparseVectorParams
	indexes map[string]qdrant.PayloadSchemaType
	points  map[string]*point // by idKey
}

// Qdrant's rules for a collection name: 1 to 255 characters, none of them
// one that a file name or URL path could not hold.
var badNameChars = regexp.MustCompile(`[<>:"/\\|?*\x00]`)

func checkCollectionName(name string) error {
	switch {
	case name == "" || len(name) > 255:
		return validation("collection_name: length must be between 1 and 255")
	case badNameChars.MatchString(name) || name == "." || name == "..":
		return validation("collection_name: collection name cannot contain \"/\", \"\\\", \"<\", \">\", \":\", \"\"\", \"|\", \"?\", \"*\" or the null character")
	}
	return nil
}

func (cs *collectionsService) Create(ctx context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	name := req.GetCollectionName()
	if err := checkCollectionName(name); err != nil {
		return nil, err
	}
	c := &collection{
		name:    name,
		dense:   map[string]*qdrant.VectorParams{},
		sparse:  map[string]*qdrant.SparseVectorParams{},
		indexes: map[string]qdrant.PayloadSchemaType{},
		points:  map[string]*point{},
	}
	switch vc := req.GetVectorsConfig().GetConfig().(type) {
	case *qdrant.VectorsConfig_Params:
		c.unnamed = true
		c.dense[""] = vc.Params
	case *qdrant.VectorsConfig_ParamsMap:
		for n, p := range vc.ParamsMap.GetMap() {
			c.dense[n] = p
		}
	}
	for n, p := range c.dense {
		if p.GetSize() < 1 || p.GetSize() > 65536 {
			return nil, validation("vectors_config.%s.size: value %d invalid, must be from 1 to 65536", n, p.GetSize())
		}
		if p.GetDistance() == qdrant.Distance_UnknownDistance {
			return nil, validation("vectors_config.%s.distance: unknown distance", n)
		}
		if p.MultivectorConfig != nil {
			return nil, unsupported("multivectors")
		}
	}
	for n, p := range req.GetSparseVectorsConfig().GetMap() {
		if _, ok := c.dense[n]; ok {
			return nil, badInput("Vector name %s is used for both dense and sparse vectors", n)
		}
		if p == nil {
			p = &qdrant.SparseVectorParams{}
		}
		c.sparse[n] = p
	}
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	if _, ok := cs.s.collections[name]; ok {
		return nil, badInput("Collection `%s` already exists!", name)
	}
	if _, ok := cs.s.aliases[name]; ok {
		return nil, badInput("Can't create collection with name %s. Alias with the same name already exists", name)
	}
	cs.s.collections[name] = c
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (cs *collectionsService) Get(ctx context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	c, err := cs.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	return &qdrant.GetCollectionInfoResponse{Result: c.info(), Time: since(start)}, nil
}

// info describes the collection as Qdrant's GetCollectionInfo does, in
// the parts a client reads: status, configuration, payload indexes, count.
func (c *collection) info() *qdrant.CollectionInfo {
	params := &qdrant.CollectionParams{
		ShardNumber:            1,
		ReplicationFactor:      ptr(uint32(1)),
		WriteConsistencyFactor: ptr(uint32(1)),
	}
	if c.unnamed {
		params.VectorsConfig = qdrant.NewVectorsConfig(c.dense[""])
	} else {
		params.VectorsConfig = qdrant.NewVectorsConfigMap(c.dense)
	}
	if len(c.sparse) > 0 {
		params.SparseVectorsConfig = qdrant.NewSparseVectorsConfig(c.sparse)
	}
	schema := map[string]*qdrant.PayloadSchemaInfo{}
	for field, t := range c.indexes {
		n := uint64(0)
		for _, p := range c.points {
			if len(values(p.payload, field)) > 0 {
				n++
			}
		}
		schema[field] = &qdrant.PayloadSchemaInfo{DataType: t, Points: ptr(n)}
	}
	n := uint64(len(c.points))
	return &qdrant.CollectionInfo{
		Status:          qdrant.CollectionStatus_Green,
		OptimizerStatus: &qdrant.OptimizerStatus{Ok: true},
		SegmentsCount:   1,
		Config: &qdrant.CollectionConfig{
			Params:          params,
			HnswConfig:      &qdrant.HnswConfigDiff{},
			OptimizerConfig: &qdrant.OptimizersConfigDiff{},
			WalConfig:       &qdrant.WalConfigDiff{},
		},
		PayloadSchema:       schema,
		PointsCount:         &n,
		IndexedVectorsCount: ptr(uint64(0)),
	}
}

func (cs *collectionsService) List(ctx context.Context, req *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	names := make([]string, 0, len(cs.s.collections))
	for n := range cs.s.collections {
		names = append(names, n)
	}
	sort.Strings(names)
	out := &qdrant.ListCollectionsResponse{Time: since(start)}
	for _, n := range names {
		out.Collections = append(out.Collections, &qdrant.CollectionDescription{Name: n})
	}
	return out, nil
}

// Delete removes a collection and, as Qdrant does, every alias pointing at
// it. A missing collection is no error: the result is false.
func (cs *collectionsService) Delete(ctx context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	name := req.GetCollectionName()
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	for alias, target := range cs.s.aliases {
		if target == name {
			delete(cs.s.aliases, alias)
		}
	}
	_, ok := cs.s.collections[name]
	delete(cs.s.collections, name)
	return &qdrant.CollectionOperationResponse{Result: ok, Time: since(start)}, nil
}

func (cs *collectionsService) CollectionExists(ctx context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	_, err := cs.s.resolve(req.GetCollectionName())
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: err == nil}, Time: since(start)}, nil
}

// UpdateAliases applies the actions in order under one lock, so readers
// see all of them or none. As in Qdrant, an action that fails leaves the
// ones before it applied.
func (cs *collectionsService) UpdateAliases(ctx context.Context, req *qdrant.ChangeAliases) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	for _, action := range req.GetActions() {
		switch a := action.GetAction().(type) {
		case *qdrant.AliasOperations_CreateAlias:
			target, alias := a.CreateAlias.GetCollectionName(), a.CreateAlias.GetAliasName()
			if _, ok := cs.s.collections[target]; !ok {
				return nil, missingCollection(target)
			}
			if _, ok := cs.s.collections[alias]; ok {
				return nil, badInput("Collection `%s` already exists!", alias)
			}
			if err := checkCollectionName(alias); err != nil {
				return nil, err
			}
			cs.s.aliases[alias] = target
		case *qdrant.AliasOperations_DeleteAlias:
			delete(cs.s.aliases, a.DeleteAlias.GetAliasName())
		case *qdrant.AliasOperations_RenameAlias:
			old := a.RenameAlias.GetOldAliasName()
			target, ok := cs.s.aliases[old]
			if !ok {
				return nil, notFound("Alias %s does not exists!", old)
			}
			delete(cs.s.aliases, old)
			cs.s.aliases[a.RenameAlias.GetNewAliasName()] = target
		default:
			return nil, validation("actions: unknown alias operation")
		}
	}
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (cs *collectionsService) ListAliases(ctx context.Context, req *qdrant.ListAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	return cs.aliases("", time.Now()), nil
}

func (cs *collectionsService) ListCollectionAliases(ctx context.Context, req *qdrant.ListCollectionAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	return cs.aliases(req.GetCollectionName(), time.Now()), nil
}

// aliases lists the aliases of one collection, or all when collection is "".
func (cs *collectionsService) aliases(collection string, start time.Time) *qdrant.ListAliasesResponse {
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	names := make([]string, 0, len(cs.s.aliases))
	for alias, target := range cs.s.aliases {
		if collection == "" || target == collection {
			names = append(names, alias)
		}
	}
	sort.Strings(names)
	out := &qdrant.ListAliasesResponse{}
	for _, n := range names {
		out.Aliases = append(out.Aliases, &qdrant.AliasDescription{AliasName: n, CollectionName: cs.s.aliases[n]})
	}
	out.Time = since(start)
	return out
}

func ptr[T any](v T) *T { return &v }
