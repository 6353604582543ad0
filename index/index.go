package index

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Admin manages collections and aliases.
type Admin interface {
	// Ensure creates a collection with the schema, or checks that an
	// existing one has it. A collection can gain no vector once created:
	// a new model set goes into a new generation (see EnsureGeneration).
	Ensure(ctx context.Context, collection string, schema Schema) error
	// Schema returns the vectors a collection (or the one an alias points
	// at) holds.
	Schema(ctx context.Context, collection string) (Schema, error)
	// SetAlias points alias at collection, atomically replacing what it
	// pointed at before.
	SetAlias(ctx context.Context, alias, collection string) error
	// Aliases returns every alias and the collection it points at.
	Aliases(ctx context.Context) (map[string]string, error)
	// Collections lists the collections (not aliases).
	Collections(ctx context.Context) ([]string, error)
	// DropCollection deletes a collection and its points. An alias still
	// pointing at it is an error.
	DropCollection(ctx context.Context, collection string) error
}

// Writer writes points. Every write returns once the points are durable
// and visible to queries.
type Writer interface {
	// Upsert writes points, replacing points with the same id.
	Upsert(ctx context.Context, collection string, points []Point) error
	// ReplaceVideo writes a video's points and removes every other point
	// of that video, so a re-processed video that now has fewer segments
	// leaves none stale. Every point must carry that video's id.
	ReplaceVideo(ctx context.Context, collection, videoID string, points []Point) error
	// DeleteVideo removes every point of a video.
	DeleteVideo(ctx context.Context, collection, videoID string) error
}

// Reader reads points and answers similarity queries.
type Reader interface {
	// Get returns the points with these ids, vectors included, in the
	// order asked; ids that do not exist are left out.
	Get(ctx context.Context, collection string, ids ...string) ([]Point, error)
	// Count returns how many points pass the filter (exactly).
	Count(ctx context.Context, collection string, f Filter) (int, error)
	// Query returns the best points for q, best first.
	Query(ctx context.Context, q Query) ([]Hit, error)
	// QueryGroups runs q and groups the hits by video: at most q.Limit
	// videos, each with its best groupSize hits, best video first.
	QueryGroups(ctx context.Context, q Query, groupSize int) ([]Group, error)
}

// Index is the whole of a backend: what the worker writes to, search reads
// from and operators manage. Two backends implement it, each in its own
// package — index/embedded (files in a folder, for `mediavec up`) and
// index/qdrant (a Qdrant cluster, for a fleet) — and both pass the suite
// in index/indextest. A caller takes the role it needs: search a Reader,
// the worker a Writer.
//
// Collection names may be aliases: every call resolves an alias to the
// collection it points at, so writers and readers address "segments" and
// "videos" while generations change underneath.
type Index interface {
	Admin
	Writer
	Reader
	Close() error
}

// Query is one similarity query. Exactly one of Dense, Sparse and Prefetch
// is set.
type Query struct {
	Collection string
	// Using is the named vector Dense or Sparse is compared with.
	Using  string
	Dense  []float32
	Sparse *SparseVector
	// Prefetch runs sub-queries (on the same collection) and fuses their
	// results by reciprocal rank fusion with RRFK: a point's score is
	// Σ 1/(RRFK + rank), rank counted from 1 in each list it is in.
	Prefetch []Query
	RRFK     int
	Filter   Filter
	// Limit is how many points (or, for QueryGroups, videos) to return.
	Limit int
	// ScoreThreshold drops hits scoring below it (dense and sparse only).
	ScoreThreshold *float32
}

// Validate checks a query's shape, the same for every backend, so a query
// is valid on both or on neither: exactly one of Dense, Sparse and
// Prefetch; a limit; a vector name; prefetches one level deep, each valid,
// and a filter on the query or on its prefetches, not both.
func (q Query) Validate() error {
	set := 0
	if q.Dense != nil {
		set++
	}
	if q.Sparse != nil {
		set++
	}
	if len(q.Prefetch) > 0 {
		set++
	}
	switch {
	case set != 1:
		return fmt.Errorf("%w: set exactly one of a dense vector, a sparse vector and prefetches", ErrBadQuery)
	case q.Limit < 1:
		return fmt.Errorf("%w: limit %d", ErrBadQuery, q.Limit)
	case len(q.Prefetch) == 0 && q.Using == "":
		return fmt.Errorf("%w: no vector name", ErrBadQuery)
	case q.Sparse != nil && len(q.Sparse.Indices) != len(q.Sparse.Values):
		return fmt.Errorf("%w: sparse vector has %d indices and %d values", ErrBadQuery, len(q.Sparse.Indices), len(q.Sparse.Values))
	case q.RRFK < 0 || q.RRFK >= math.MaxUint32:
		return fmt.Errorf("%w: RRF k %d", ErrBadQuery, q.RRFK)
	}
	for _, p := range q.Prefetch {
		if len(p.Prefetch) > 0 {
			return fmt.Errorf("%w: nested prefetch", ErrBadQuery)
		}
		if !p.Filter.IsZero() && !q.Filter.IsZero() {
			return fmt.Errorf("%w: a filter on both the query and a prefetch", ErrBadQuery)
		}
		if err := p.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// MaxDim is the largest dense dimension, as Qdrant's.
const MaxDim = 65536

// DefaultRRFK is the fusion constant used when Query.RRFK is zero.
const DefaultRRFK = 60

// SparseVector is a bag of weighted terms. Indices must be distinct.
type SparseVector struct {
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
}

// Hit is one query result.
type Hit struct {
	ID      string
	Score   float32 // cosine similarity, sparse score or fused score
	Payload Payload
}

// Group is one video's hits from QueryGroups.
type Group struct {
	VideoID string
	Hits    []Hit
}

// Errors every backend returns for the same mistakes, so callers can map
// them to a 4xx. Those that say the caller's input is wrong (a bad vector,
// point or query, a schema mismatch) are permanent: retrying the same call
// cannot succeed, which the worker reads through the Permanent method to
// dead-letter a job at once rather than retry it.
var (
	ErrClosed       = errors.New("index: closed") // every call after Close
	ErrNoCollection = errors.New("no such collection")
	ErrBadVector    = permanent("bad vector") // unknown name or wrong dimension
	ErrBadPoint     = permanent("bad point")  // missing or malformed id, wrong video
	ErrBadQuery     = permanent("bad query")
	ErrSchema       = permanent("collection exists with another schema")
)

// permanentError is an error retrying cannot fix.
type permanentError struct{ msg string }

func permanent(msg string) error { return &permanentError{msg} }

func (e *permanentError) Error() string { return e.msg }

// Permanent reports that retrying the call that returned the error cannot
// make it succeed.
func (e *permanentError) Permanent() bool { return true }

// Generation is the collection name of generation n of a base collection:
// "segments" → "segments_g3".
func Generation(base string, n int) string {
	return base + "_g" + strconv.Itoa(n)
}

// EnsureGeneration creates generation n of both collections (segments and
// videos) with their schemas, and points each alias at it if the alias does
// not exist yet. An existing alias is left where it is: moving it is a
// deliberate act (SetAlias) once the generation is backfilled.
func EnsureGeneration(ctx context.Context, ix Index, n int, segments, videos Schema) error {
	if n < 1 {
		return fmt.Errorf("generation %d: generations count from 1", n)
	}
	aliases, err := ix.Aliases(ctx)
	if err != nil {
		return fmt.Errorf("ensure generation %d: %w", n, err)
	}
	for _, c := range []struct {
		base   string
		schema Schema
	}{{Segments, segments}, {Videos, videos}} {
		name := Generation(c.base, n)
		if err := ix.Ensure(ctx, name, c.schema); err != nil {
			if errors.Is(err, ErrSchema) {
				return fmt.Errorf("ensure generation %d: %w; the spaces this build computes differ from that generation's: build the next generation beside it (backfill it, then move the alias) rather than change it", n, err)
			}
			return fmt.Errorf("ensure generation %d: %w", n, err)
		}
		if _, ok := aliases[c.base]; !ok {
			if err := ix.SetAlias(ctx, c.base, name); err != nil {
				return fmt.Errorf("ensure generation %d: %w", n, err)
			}
		}
	}
	return nil
}

// ValidateID reports whether id is a point id both backends accept, in the
// one spelling both store it under: a canonical UUID (lower-case, hyphenated,
// as SegmentID and VideoID make) or an unsigned integer without leading
// zeros. Qdrant would store "ABC…" and "abc…", or "007" and "7", as the same
// point and answer with the canonical form, so other spellings are refused
// rather than silently merged.
func ValidateID(id string) error {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil {
		if strconv.FormatUint(n, 10) == id {
			return nil
		}
		return fmt.Errorf("%w: id %q: write the integer without leading zeros", ErrBadPoint, id)
	}
	if u, err := parseUUID(id); err == nil {
		if u.String() == id {
			return nil
		}
		return fmt.Errorf("%w: id %q: write the UUID in canonical form, %s", ErrBadPoint, id, u.String())
	}
	return fmt.Errorf("%w: id %q is neither a UUID nor an unsigned integer", ErrBadPoint, id)
}
