package qdrant

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/mediavec/mediavec/index"
)

// Config says how to reach a Qdrant cluster. Each zero field takes the
// default named beside it.
type Config struct {
	// Addr is host:port of Qdrant's gRPC endpoint. Defaults to
	// DefaultAddr.
	Addr string
	// APIKey is sent as "api-key" metadata on every call. Without TLS it
	// crosses the network in clear text.
	APIKey string
	// TLS turns on transport security; TLSConfig, if set, configures it
	// (default: the system roots, TLS 1.3 at least).
	TLS       bool
	TLSConfig *tls.Config
	// BatchSize is how many points go in one upsert request, from 64 to
	// 256. Defaults to DefaultBatchSize. Smaller batches waste round
	// trips; larger ones make one slow request hold up a worker and grow
	// Qdrant's WAL entries.
	BatchSize int
	// MaxRecvMsgSize is the largest response accepted, in bytes. Defaults
	// to DefaultMaxRecvMsgSize: gRPC's own default of 4 MiB is exceeded by
	// a Get of a few thousand 512-d points or a Query returning long
	// texts.
	MaxRecvMsgSize int
	// Retries is how many times a call answered Unavailable or
	// DeadlineExceeded is retried, after 100 ms, 200 ms, 400 ms, …;
	// negative for none. Defaults to DefaultRetries. Every call this
	// backend makes is idempotent.
	Retries int
	// SkipCompatibilityCheck opens a server whose version is not within
	// one minor version of the client's (v1.17).
	SkipCompatibilityCheck bool
	// PoolSize is the number of gRPC connections calls are spread over.
	// Defaults to the client's own, 3.
	PoolSize int
}

// The defaults of Config.
const (
	DefaultAddr           = "localhost:6334"
	DefaultBatchSize      = 128
	DefaultMaxRecvMsgSize = 64 << 20
	DefaultRetries        = 5
)

const (
	minBatchSize = 64
	maxBatchSize = 256
	retryBase    = 100 * time.Millisecond
	retryMax     = 5 * time.Second
	// qdrantClientVersion is the version of github.com/qdrant/go-client
	// in go.mod, whose protocol this backend speaks.
	qdrantClientVersion = "1.17.1"
)

func (c Config) withDefaults() Config {
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	c.BatchSize = min(max(cmp.Or(c.BatchSize, DefaultBatchSize), minBatchSize), maxBatchSize)
	c.MaxRecvMsgSize = cmp.Or(c.MaxRecvMsgSize, DefaultMaxRecvMsgSize)
	c.Retries = max(cmp.Or(c.Retries, DefaultRetries), 0)
	return c
}

// Validate checks the configuration, naming the first bad field.
func (c Config) Validate() error {
	if c.Addr != "" {
		_, portText, err := net.SplitHostPort(c.Addr) // an empty host is this machine
		if err != nil {
			return fmt.Errorf("qdrant: Addr %q must be host:port: %w", c.Addr, err)
		}
		if port, err := strconv.Atoi(portText); err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("qdrant: Addr %q: bad port %q", c.Addr, portText)
		}
	}
	switch {
	case c.BatchSize < 0:
		return fmt.Errorf("qdrant: BatchSize %d is negative", c.BatchSize)
	case c.MaxRecvMsgSize < 0:
		return fmt.Errorf("qdrant: MaxRecvMsgSize %d is negative", c.MaxRecvMsgSize)
	case c.PoolSize < 0:
		return fmt.Errorf("qdrant: PoolSize %d is negative", c.PoolSize)
	}
	return nil
}

// Index is the index.Index over a Qdrant cluster, through its gRPC API. It is
// safe for concurrent use.
//
// Points carry their payload as Qdrant payload (video_id, space, modality,
// labels keyword-indexed, t_start float-indexed), named dense vectors with
// cosine distance and sparse vectors with Qdrant's IDF modifier, so the
// two backends score alike. Two things differ from Embedded because
// Qdrant does them differently: ReplaceVideo is not atomic (see there),
// and a UUID id comes back from queries in Qdrant's canonical lower-case
// form whatever form it was written in (Get answers with the ids as asked).
type Index struct {
	addr    string
	client  *qc.Client
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

var _ index.Index = (*Index)(nil)

// Open connects to Qdrant and checks that it answers, that the API
// key is accepted, and (unless told not to) that its version suits the
// client.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open %w", err)
	}
	cfg = cfg.withDefaults()
	host, portText, _ := net.SplitHostPort(cfg.Addr) // checked by Validate
	port, _ := strconv.Atoi(portText)
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
	client, err := qc.NewClient(&qc.Config{
		Host:        host,
		Port:        port,
		UseTLS:      cfg.TLS,
		TLSConfig:   cfg.TLSConfig,
		GrpcOptions: opts,
		// The client's own check only logs; Open checks below and
		// fails instead.
		SkipCompatibilityCheck: true,
		PoolSize:               uint(max(cfg.PoolSize, 0)),
	})
	if err != nil {
		return nil, fmt.Errorf("open qdrant at %s: %w", cfg.Addr, err)
	}
	q := &Index{addr: cfg.Addr, client: client, batch: cfg.BatchSize, retries: cfg.Retries}
	if err := q.check(ctx, cfg.SkipCompatibilityCheck); err != nil {
		client.Close()
		return nil, err
	}
	return q, nil
}

func (q *Index) check(ctx context.Context, skipVersion bool) error {
	var health *qc.HealthCheckReply
	err := q.do(ctx, func(ctx context.Context) (err error) {
		health, err = q.client.GetQdrantClient().HealthCheck(ctx, &qc.HealthCheckRequest{})
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
	c, err1 := qc.ParseVersion(client)
	s, err2 := qc.ParseVersion(server)
	if err1 != nil || err2 != nil {
		return false
	}
	return c.Major == s.Major && c.Minor-s.Minor <= 1 && s.Minor-c.Minor <= 1
}

// Close closes the connections. It is safe to call more than once; calls
// after it return ErrClosed.
func (q *Index) Close() error {
	q.closeOnce.Do(func() {
		q.closed.Store(true)
		q.closeErr = q.client.Close()
	})
	return q.closeErr
}

// do runs one idempotent call, retrying it with exponential backoff while
// Qdrant is unavailable (a restarting node, a full queue behind a load
// balancer) or times out, and the caller's context is not done.
func (q *Index) do(ctx context.Context, call func(context.Context) error) error {
	delay := retryBase
	for attempt := 0; ; attempt++ {
		if q.closed.Load() {
			return index.ErrClosed
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
	if ctx.Err() != nil && !errors.Is(err, index.ErrClosed) {
		return fmt.Errorf("qdrant %s: %w (%v)", op, ctx.Err(), err)
	}
	var kind error
	switch st, _ := status.FromError(err); st.Code() {
	case codes.NotFound:
		kind = index.ErrNoCollection
	case codes.InvalidArgument:
		msg := strings.ToLower(st.Message())
		switch {
		case strings.Contains(msg, "vector") || strings.Contains(msg, "dimension"):
			kind = index.ErrBadVector
		case write:
			kind = index.ErrBadPoint
		default:
			kind = index.ErrBadQuery
		}
	}
	if kind == nil {
		return fmt.Errorf("qdrant %s: %w", op, err)
	}
	return fmt.Errorf("qdrant %s: %w: %w", op, kind, err)
}
