package index

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Embedded is the on-disk, in-process index. It is safe for concurrent use:
// queries run in parallel with each other; writes are serialised, durable on
// return, and wait for running queries.
//
// On disk: manifest.json (the collections with their schemas, and the
// aliases; replaced by write, fsync, rename) and one append-only log per
// collection under collections/, each record length-prefixed and
// checksummed, so a torn tail left by a crash is found and cut.
type Embedded struct {
	dir string
	// ScanWorkers is how many goroutines scan one large slab; defaults to
	// GOMAXPROCS.
	scanWorkers int
	// noQuant turns the int8 bound-and-rescore scan off (tests compare it
	// with the plain scan).
	noQuant bool

	writeMu  sync.Mutex // serialises log appends and manifest changes
	mu       sync.RWMutex
	queueMu  sync.Mutex      // guards queue
	queue    []*pendingWrite // writes waiting for the next group commit
	syncs    int             // log appends (each one fsync), for tests
	manifest manifest
	cols     map[string]*collection
	closed   bool
}

var _ Index = (*Embedded)(nil)

type manifest struct {
	Version     int               `json:"version"`
	Collections map[string]Schema `json:"collections"`
	Aliases     map[string]string `json:"aliases"`
}

const manifestVersion = 2

// OpenEmbedded opens (or creates) the index stored under dir. A torn record
// at the end of a log, left by a crash mid-write, is cut off; everything
// before it is kept.
func OpenEmbedded(dir string) (*Embedded, error) {
	if err := os.MkdirAll(filepath.Join(dir, "collections"), 0o755); err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	e := &Embedded{dir: dir, cols: map[string]*collection{}, scanWorkers: runtime.GOMAXPROCS(0)}
	e.manifest = manifest{Version: manifestVersion, Collections: map[string]Schema{}, Aliases: map[string]string{}}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dir, "segments.log")); err == nil {
			return nil, fmt.Errorf("open index %s: it holds an index in the format of mediavec 0.1, which this version cannot read; move the folder away and submit the videos again", dir)
		}
	case err != nil:
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	default:
		if err := json.Unmarshal(b, &e.manifest); err != nil {
			return nil, fmt.Errorf("open index %s: manifest.json: %w", dir, err)
		}
		if e.manifest.Version != manifestVersion {
			return nil, fmt.Errorf("open index %s: manifest version %d, this build reads %d", dir, e.manifest.Version, manifestVersion)
		}
		if e.manifest.Collections == nil {
			e.manifest.Collections = map[string]Schema{}
		}
		if e.manifest.Aliases == nil {
			e.manifest.Aliases = map[string]string{}
		}
	}
	for name, schema := range e.manifest.Collections {
		c, err := openCollection(e.logPath(name), name, schema, false)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.cols[name] = c
	}
	// A log the manifest does not list is left by a drop that crashed
	// before it removed the file: it must never come back.
	if logs, err := filepath.Glob(filepath.Join(dir, "collections", "*.log")); err == nil {
		for _, l := range logs {
			if _, ok := e.manifest.Collections[strings.TrimSuffix(filepath.Base(l), ".log")]; !ok {
				slog.Warn("index: removing the log of a dropped collection", "file", l)
				_ = os.Remove(l)
			}
		}
	}
	return e, nil
}

func (e *Embedded) logPath(name string) string {
	return filepath.Join(e.dir, "collections", name+".log")
}

// Close closes the logs. It is safe to call more than once.
func (e *Embedded) Close() error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, c := range e.cols {
		errs = append(errs, c.log.Close())
	}
	return errors.Join(errs...)
}

var collectionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// saveManifest replaces manifest.json by write, fsync, rename, fsync of the
// folder: a crash leaves the old manifest or the new one, whole.
func (e *Embedded) saveManifest(m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(e.dir, "manifest.json", b); err != nil {
		return fmt.Errorf("save index manifest: %w", err)
	}
	e.manifest = m
	return nil
}

func writeFileAtomic(dir, name string, b []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (m manifest) clone() manifest {
	out := manifest{Version: m.Version, Collections: map[string]Schema{}, Aliases: map[string]string{}}
	for k, v := range m.Collections {
		out.Collections[k] = v
	}
	for k, v := range m.Aliases {
		out.Aliases[k] = v
	}
	return out
}

// Ensure creates a collection or checks the schema of an existing one.
func (e *Embedded) Ensure(ctx context.Context, name string, schema Schema) error {
	if err := checkSchema(schema); err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if !collectionName.MatchString(name) {
		return fmt.Errorf("ensure collection %q: a name is letters, digits, '_', '-' and '.'", name)
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if _, ok := e.manifest.Aliases[name]; ok {
		return fmt.Errorf("ensure collection %s: an alias has that name", name)
	}
	if have, ok := e.manifest.Collections[name]; ok {
		if !sameSchema(have, schema) {
			return fmt.Errorf("ensure collection %s: %w: it has %s, asked for %s", name, ErrSchema, have, schema)
		}
		return nil
	}
	// A new collection starts from an empty log, whatever a crashed drop
	// left under its name, and the log's folder entry is durable before
	// the manifest names it.
	c, err := openCollection(e.logPath(name), name, schema, true)
	if err != nil {
		return err
	}
	if err := syncDir(filepath.Join(e.dir, "collections")); err != nil {
		c.log.Close()
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	m := e.manifest.clone()
	m.Collections[name] = schema
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.saveManifest(m); err != nil {
		c.log.Close()
		return err
	}
	e.cols[name] = c
	return nil
}

// Schema returns a collection's schema.
func (e *Embedded) Schema(ctx context.Context, collection string) (Schema, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return Schema{}, err
	}
	return c.schema, nil
}

// SetAlias points alias at a collection.
func (e *Embedded) SetAlias(ctx context.Context, alias, collection string) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if _, ok := e.manifest.Collections[collection]; !ok {
		return fmt.Errorf("set alias %s → %s: %w", alias, collection, ErrNoCollection)
	}
	if _, ok := e.manifest.Collections[alias]; ok {
		return fmt.Errorf("set alias %s: a collection has that name", alias)
	}
	if !collectionName.MatchString(alias) {
		return fmt.Errorf("set alias %q: a name is letters, digits, '_', '-' and '.'", alias)
	}
	m := e.manifest.clone()
	m.Aliases[alias] = collection
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.saveManifest(m)
}

// Aliases returns every alias and its collection.
func (e *Embedded) Aliases(ctx context.Context) (map[string]string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	return e.manifest.clone().Aliases, nil
}

// Collections lists the collections, sorted.
func (e *Embedded) Collections(ctx context.Context) ([]string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	out := make([]string, 0, len(e.manifest.Collections))
	for name := range e.manifest.Collections {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// DropCollection deletes a collection no alias points at.
func (e *Embedded) DropCollection(ctx context.Context, name string) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if _, ok := e.manifest.Collections[name]; !ok {
		return fmt.Errorf("drop %s: %w", name, ErrNoCollection)
	}
	for alias, target := range e.manifest.Aliases {
		if target == name {
			return fmt.Errorf("drop %s: alias %s points at it; move the alias first", name, alias)
		}
	}
	m := e.manifest.clone()
	delete(m.Collections, name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.saveManifest(m); err != nil {
		return err
	}
	c := e.cols[name]
	delete(e.cols, name)
	c.log.Close()
	return os.Remove(e.logPath(name))
}

// collection resolves an alias and returns the collection. Callers hold mu.
func (e *Embedded) collection(name string) (*collection, error) {
	if e.closed {
		return nil, ErrClosed
	}
	if target, ok := e.manifest.Aliases[name]; ok {
		name = target
	}
	c, ok := e.cols[name]
	if !ok {
		return nil, fmt.Errorf("collection %s: %w", name, ErrNoCollection)
	}
	return c, nil
}

// Upsert writes points, replacing points with the same id. Dense vectors
// are L2-normalised (the distance is cosine). It returns once the write is
// on disk.
func (e *Embedded) Upsert(ctx context.Context, collection string, points []Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := e.write(ctx, collection, record{Op: opUpsert, Points: points}); err != nil {
		return fmt.Errorf("upsert %d points into %s: %w", len(points), collection, err)
	}
	return nil
}

// ReplaceVideo atomically replaces every point of a video with points: a
// reader never sees the video half-written.
func (e *Embedded) ReplaceVideo(ctx context.Context, collection, videoID string, points []Point) error {
	for _, p := range points {
		if p.Payload.VideoID != videoID {
			return fmt.Errorf("replace video %s in %s: %w: point %s belongs to video %q", videoID, collection, ErrBadPoint, p.ID, p.Payload.VideoID)
		}
	}
	if err := e.write(ctx, collection, record{Op: opReplace, VideoID: videoID, Points: points}); err != nil {
		return fmt.Errorf("replace video %s in %s: %w", videoID, collection, err)
	}
	return nil
}

// DeleteVideo removes every point of a video.
func (e *Embedded) DeleteVideo(ctx context.Context, collection, videoID string) error {
	if err := e.write(ctx, collection, record{Op: opReplace, VideoID: videoID}); err != nil {
		return fmt.Errorf("delete video %s from %s: %w", videoID, collection, err)
	}
	return nil
}

func (e *Embedded) write(ctx context.Context, collection string, rec record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	clean := make([]Point, len(rec.Points))
	for i, p := range rec.Points {
		clean[i] = p
		clean[i].Payload = p.Payload.clone()
		clean[i].Vectors = make(map[string][]float32, len(p.Vectors))
		for name, v := range p.Vectors {
			clean[i].Vectors[name] = normalized(v)
		}
		if len(p.Sparse) > 0 {
			clean[i].Sparse = make(map[string]SparseVector, len(p.Sparse))
			for name, sv := range p.Sparse {
				sorted := sortedSparse(sv)
				clean[i].Sparse[name] = SparseVector{Indices: slices.Clone(sorted.Indices), Values: slices.Clone(sorted.Values)}
			}
		}
	}
	rec.Points = clean

	// Group commit: the write joins the queue; whoever holds writeMu next
	// logs every queued write, one append and one fsync per collection,
	// so concurrent jobs share the fsync that makes their points durable.
	w := &pendingWrite{collection: collection, rec: rec}
	e.queueMu.Lock()
	e.queue = append(e.queue, w)
	e.queueMu.Unlock()
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if !w.done {
		e.commit()
	}
	return w.err
}

// pendingWrite is one write waiting for the group commit.
type pendingWrite struct {
	collection string
	rec        record
	body       []byte // the encoded record
	done       bool
	err        error
}

// commit logs and applies every queued write. Callers hold writeMu.
func (e *Embedded) commit() {
	e.queueMu.Lock()
	batch := e.queue
	e.queue = nil
	e.queueMu.Unlock()
	byColl := map[*collection][]*pendingWrite{}
	var order []*collection
	e.mu.RLock()
	for _, w := range batch {
		w.done = true
		c, err := e.collection(w.collection)
		if err == nil {
			for i := range w.rec.Points {
				if err = c.check(&w.rec.Points[i]); err != nil {
					break
				}
			}
		}
		if err != nil {
			w.err = err
			continue
		}
		// Encode now: a write that cannot be logged (too large) fails
		// alone, not the others it would have shared an append with.
		if w.body, err = encodeChecked(w.rec); err != nil {
			w.err = err
			continue
		}
		if byColl[c] == nil {
			order = append(order, c)
		}
		byColl[c] = append(byColl[c], w)
	}
	e.mu.RUnlock()
	for _, c := range order {
		ws := byColl[c]
		recs := make([]record, len(ws))
		bodies := make([][]byte, len(ws))
		for i, w := range ws {
			recs[i], bodies[i] = w.rec, w.body
		}
		// Log first, then apply: a point visible to queries is always on
		// disk.
		e.syncs++
		if err := c.appendBodies(bodies); err != nil {
			for _, w := range ws {
				w.err = fmt.Errorf("write log: %w", err)
			}
			continue
		}
		e.mu.Lock()
		for _, r := range recs {
			c.apply(r)
		}
		e.mu.Unlock()
	}
}

// Get returns points by id, vectors included.
func (e *Embedded) Get(ctx context.Context, collection string, ids ...string) ([]Point, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return nil, err
	}
	var out []Point
	for _, id := range ids {
		if sp, ok := c.points[id]; ok {
			out = append(out, c.point(sp))
		}
	}
	return out, nil
}

// Count returns how many points pass the filter.
func (e *Embedded) Count(ctx context.Context, collection string, f Filter) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return 0, err
	}
	if f.IsZero() {
		return len(c.points), nil
	}
	n := 0
	c.candidates(f, func(sp *stored) {
		if f.Match(&sp.payload) {
			n++
		}
	})
	return n, nil
}

// Query returns the best points for q.
func (e *Embedded) Query(ctx context.Context, q Query) ([]Hit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(q.Collection)
	if err != nil {
		return nil, err
	}
	col := newTopK(q.Limit)
	if err := e.run(ctx, c, q, func() collector { return newTopK(q.Limit) }, col); err != nil {
		return nil, err
	}
	return col.hits(), nil
}

// QueryGroups runs q and groups its hits by video.
func (e *Embedded) QueryGroups(ctx context.Context, q Query, groupSize int) ([]Group, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if groupSize < 1 {
		return nil, fmt.Errorf("%w: group size %d", ErrBadQuery, groupSize)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(q.Collection)
	if err != nil {
		return nil, err
	}
	col := newGroups(groupSize, q.Limit)
	if err := e.run(ctx, c, q, func() collector { return newGroups(groupSize, q.Limit) }, col); err != nil {
		return nil, err
	}
	return col.groups(q.Limit), nil
}

// run scores the candidates of q into col; newCol makes a collector for
// each parallel scan worker.
func (e *Embedded) run(ctx context.Context, c *collection, q Query, newCol func() collector, col collector) error {
	switch {
	case q.Dense != nil:
		s := c.dense[q.Using]
		if err := c.checkQueryVector(q.Using, len(q.Dense)); err != nil {
			return err
		}
		if s == nil {
			return nil
		}
		return e.scanDense(ctx, c, s, normalized(q.Dense), q, newCol, col)
	case q.Sparse != nil:
		if !slices.Contains(c.schema.Sparse, q.Using) {
			return fmt.Errorf("query %s: %w: no sparse vector %q", c.name, ErrBadVector, q.Using)
		}
		pl := c.sparse[q.Using]
		if pl == nil {
			return nil
		}
		for sp, score := range pl.score(*q.Sparse) {
			if q.ScoreThreshold != nil && score < *q.ScoreThreshold {
				continue
			}
			if q.Filter.Match(&sp.payload) {
				col.offer(sp, score)
			}
		}
		return nil
	default:
		k := q.RRFK
		if k <= 0 {
			k = DefaultRRFK
		}
		fused := map[*stored]float32{}
		for _, sub := range q.Prefetch {
			sub.Collection = q.Collection
			if sub.Filter.IsZero() {
				sub.Filter = q.Filter
			}
			top := newTopK(sub.Limit)
			if err := e.run(ctx, c, sub, func() collector { return newTopK(sub.Limit) }, top); err != nil {
				return err
			}
			for rank, h := range top.sorted() {
				fused[h.sp] += 1 / float32(k+rank+1)
			}
		}
		for sp, score := range fused {
			col.offer(sp, score)
		}
		return nil
	}
}

// parallelRows is the slab size from which a dense scan is split across
// workers: below it, starting goroutines costs more than it saves.
const parallelRows = 16384

func (e *Embedded) scanDense(ctx context.Context, c *collection, s *slab, q []float32, qu Query, newCol func() collector, col collector) error {
	f, threshold := qu.Filter, qu.ScoreThreshold
	if len(f.VideoIDs) > 0 {
		// A few videos: score only their points.
		c.candidates(f, func(sp *stored) {
			r, ok := s.row[sp]
			if !ok || !f.Match(&sp.payload) {
				return
			}
			score := dot(q, s.vecs[r*s.dim:(r+1)*s.dim])
			if threshold == nil || score >= *threshold {
				col.offer(sp, score)
			}
		})
		return nil
	}
	if len(s.pts) >= quantRows && !e.noQuant {
		return e.scanQuantized(ctx, c, s, q, qu, newCol, col)
	}
	return e.scanExact(ctx, s, q, qu, newCol, col, nil)
}

// scanExact scores every row of the slab in float32 (but those in skip),
// split across workers for a large slab.
func (e *Embedded) scanExact(ctx context.Context, s *slab, q []float32, qu Query, newCol func() collector, col collector, skip map[int]struct{}) error {
	f, threshold := qu.Filter, qu.ScoreThreshold
	n := len(s.pts)
	workers := 1
	if n >= parallelRows {
		workers = max(1, e.scanWorkers)
	}
	scan := func(lo, hi int, col collector) error {
		for r := lo; r < hi; r++ {
			if (r-lo)%8192 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if skip != nil {
				if _, ok := skip[r]; ok {
					continue
				}
			}
			score := dot(q, s.vecs[r*s.dim:(r+1)*s.dim])
			if threshold != nil && score < *threshold {
				continue
			}
			if !col.wants(s.pts[r], score) {
				continue
			}
			if sp := s.pts[r]; f.Match(&sp.payload) {
				col.offer(sp, score)
			}
		}
		return nil
	}
	if workers == 1 {
		return scan(0, n, col)
	}
	cols := make([]collector, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		cols[w] = newCol()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = scan(w*chunk, min(n, (w+1)*chunk), cols[w])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, o := range cols {
		col.merge(o)
	}
	return nil
}

// collection is one collection in memory: payloads by id, dense vectors in
// one contiguous slab per name, sparse vectors in an inverted index per name.
type collection struct {
	name    string
	schema  Schema
	log     *os.File
	points  map[string]*stored
	byVideo map[string]map[*stored]struct{}
	dense   map[string]*slab
	sparse  map[string]*postings
	dead    int // points in the log since overwritten or deleted
}

// stored is a point without its dense vectors, which live in slabs.
type stored struct {
	id      string
	payload Payload
	dense   []string // names of its dense vectors
	sparse  map[string]SparseVector
}

// slab holds every vector of one name contiguously, so a query is one pass
// of dot products over memory.
type slab struct {
	dim  int
	pts  []*stored
	vecs []float32
	row  map[*stored]int
	// The same rows quantised (see quant.go): pdim int8 codes a row, and
	// each row's scale and error bound.
	pdim   int
	codes  []int8
	scales []float32
	eps    []float32
}

func openCollection(path, name string, schema Schema, fresh bool) (*collection, error) {
	flags := os.O_RDWR | os.O_CREATE
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open index collection %s: %w", name, err)
	}
	c := &collection{
		name: name, schema: schema, log: f,
		points: map[string]*stored{}, byVideo: map[string]map[*stored]struct{}{},
		dense: map[string]*slab{}, sparse: map[string]*postings{},
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	good, err := c.replay(bufio.NewReaderSize(f, 1<<20), st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("replay index collection %s: %w", name, err)
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	if end != good {
		slog.Warn("index: cutting torn record at end of log", "collection", name, "kept_bytes", good, "dropped_bytes", end-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate torn log %s: %w", path, err)
		}
		if _, err := f.Seek(good, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	if c.dead > compactMinDead && c.dead > len(c.points) {
		if err := c.compact(path); err != nil {
			// The log as it is stays valid: compaction can wait.
			slog.Warn("index: compaction failed", "collection", name, "err", err)
		}
	}
	return c, nil
}

// compactMinDead is how many dead points a log must hold, and outnumber the
// live ones, before opening rewrites it.
var compactMinDead = 10000

// compact rewrites the log with only the live points: a new file, fsynced,
// renamed over the old one, and the folder fsynced, so a crash at any
// moment leaves one whole log or the other.
func (c *collection) compact(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, c.name+".compact-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	fresh := &collection{name: c.name, log: tmp}
	ids := make([]string, 0, len(c.points))
	for id := range c.points {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	const perRecord = 1000
	for i := 0; i < len(ids); i += perRecord {
		batch := make([]Point, 0, perRecord)
		for _, id := range ids[i:min(i+perRecord, len(ids))] {
			batch = append(batch, c.point(c.points[id]))
		}
		if err := fresh.append(record{Op: opUpsert, Points: batch}); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	_ = syncDir(dir)
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return err
	}
	c.log.Close()
	c.log, c.dead = f, 0
	slog.Info("index: compacted log", "collection", c.name, "points", len(ids))
	return nil
}

const headerSize = 8 // uint32 length + uint32 CRC-32 of the body

// replay applies every whole, intact record and returns the offset after the
// last one. A record cut short at the end of the file is a torn write, left
// for the caller to cut; a bad record with more of the log after it is
// corruption, and an error: cutting there would drop every later write.
func (c *collection) replay(r io.Reader, size int64) (int64, error) {
	var off int64
	hdr := make([]byte, headerSize)
	var body []byte
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return off, nil // clean end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		end := off + headerSize + int64(n)
		if n > maxRecord || end > size {
			if end < size {
				return off, fmt.Errorf("record at offset %d claims %d bytes: the log is corrupt", off, n)
			}
			return off, nil // runs past the end: torn
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return off, nil
		}
		if crc32.ChecksumIEEE(body) != sum {
			if end < size {
				return off, fmt.Errorf("record at offset %d fails its checksum and %d bytes follow it: the log is corrupt (restore it, or move it away to start the collection empty)", off, size-end)
			}
			return off, nil // the last record, half written
		}
		rec, err := decodeRecord(body)
		if err != nil {
			return off, fmt.Errorf("record at offset %d: %w", off, err)
		}
		for i := range rec.Points {
			if err := c.check(&rec.Points[i]); err != nil {
				return off, fmt.Errorf("record at offset %d does not fit the collection's schema: %w", off, err)
			}
		}
		c.apply(rec)
		off = end
	}
}

// maxRecord bounds one log record; Upsert splits larger writes.
const maxRecord = 1 << 30

// encodeChecked encodes a record that fits a log record.
func encodeChecked(rec record) ([]byte, error) {
	body, err := encodeRecord(rec)
	if err != nil {
		return nil, err
	}
	if len(body) > maxRecord {
		return nil, fmt.Errorf("%w: a write of %d bytes is over the %d-byte record limit; write fewer points at once", ErrBadPoint, len(body), maxRecord)
	}
	return body, nil
}

// append logs one record, durably.
func (c *collection) append(rec record) error {
	body, err := encodeChecked(rec)
	if err != nil {
		return err
	}
	return c.appendBodies([][]byte{body})
}

// appendBodies logs encoded records with one write and one fsync: all of
// them are on disk when it returns, or none.
func (c *collection) appendBodies(bodies [][]byte) error {
	var buf []byte
	for _, body := range bodies {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(body)))
		buf = binary.LittleEndian.AppendUint32(buf, crc32.ChecksumIEEE(body))
		buf = append(buf, body...)
	}
	start, err := c.log.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	_, err = c.log.Write(buf)
	if err == nil {
		err = c.log.Sync()
	}
	if err != nil {
		// Cut a partly written record (a full disk, say) so that later
		// records do not land behind it, where replay would never reach.
		if terr := c.log.Truncate(start); terr != nil {
			return fmt.Errorf("%w; and cutting the partial record failed: %v", err, terr)
		}
		if _, serr := c.log.Seek(start, io.SeekStart); serr != nil {
			return fmt.Errorf("%w; and rewinding the log failed: %v", err, serr)
		}
		return err
	}
	return nil
}

// check validates a point against the schema before it is logged.
func (c *collection) check(p *Point) error {
	if err := ValidateID(p.ID); err != nil {
		return err
	}
	if len(p.Vectors) == 0 && len(p.Sparse) == 0 {
		return fmt.Errorf("%w: point %s has no vector", ErrBadPoint, p.ID)
	}
	for name, v := range p.Vectors {
		dim, ok := c.schema.Dense[name]
		if !ok {
			return fmt.Errorf("point %s: %w: collection %s has no dense vector %q", p.ID, ErrBadVector, c.name, name)
		}
		if len(v) != dim {
			return fmt.Errorf("point %s: %w: vector %q has %d dimensions, collection %s has %d", p.ID, ErrBadVector, name, len(v), c.name, dim)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("point %s: %w: vector %q is not finite", p.ID, ErrBadVector, name)
			}
		}
	}
	for name, sv := range p.Sparse {
		if !slices.Contains(c.schema.Sparse, name) {
			return fmt.Errorf("point %s: %w: collection %s has no sparse vector %q", p.ID, ErrBadVector, c.name, name)
		}
		if err := checkSparse(sv); err != nil {
			return fmt.Errorf("point %s: %w: sparse %q: %v", p.ID, ErrBadVector, name, err)
		}
	}
	return nil
}

func (c *collection) checkQueryVector(name string, dim int) error {
	want, ok := c.schema.Dense[name]
	if !ok {
		return fmt.Errorf("query %s: %w: no dense vector %q", c.name, ErrBadVector, name)
	}
	if dim != want {
		return fmt.Errorf("query %s: %w: vector %q has %d dimensions, the query %d", c.name, ErrBadVector, name, want, dim)
	}
	return nil
}

func checkSparse(sv SparseVector) error {
	if len(sv.Indices) != len(sv.Values) {
		return fmt.Errorf("%d indices and %d values", len(sv.Indices), len(sv.Values))
	}
	seen := make(map[uint32]struct{}, len(sv.Indices))
	for _, i := range sv.Indices {
		if _, dup := seen[i]; dup {
			return fmt.Errorf("index %d twice", i)
		}
		seen[i] = struct{}{}
	}
	return nil
}

func checkSchema(s Schema) error {
	if len(s.Dense) == 0 && len(s.Sparse) == 0 {
		return errors.New("a schema needs at least one vector")
	}
	for name, dim := range s.Dense {
		if dim < 1 || dim > MaxDim {
			return fmt.Errorf("dense vector %q: dimension %d (1 to %d)", name, dim, MaxDim)
		}
		if slices.Contains(s.Sparse, name) {
			return fmt.Errorf("vector %q is both dense and sparse", name)
		}
	}
	return nil
}

func sameSchema(a, b Schema) bool {
	if len(a.Dense) != len(b.Dense) || len(a.Sparse) != len(b.Sparse) {
		return false
	}
	for k, v := range a.Dense {
		if b.Dense[k] != v {
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

func (s Schema) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (c *collection) apply(rec record) {
	switch rec.Op {
	case opUpsert, opReplace:
		if rec.Op == opReplace {
			for sp := range c.byVideo[rec.VideoID] {
				c.remove(sp.id)
			}
		}
		for i := range rec.Points {
			c.insert(&rec.Points[i])
		}
	case opDelete:
		for _, id := range rec.IDs {
			c.remove(id)
		}
	}
}

func (c *collection) insert(p *Point) {
	c.remove(p.ID)
	sp := &stored{id: p.ID, payload: p.Payload}
	c.points[p.ID] = sp
	vids := c.byVideo[p.Payload.VideoID]
	if vids == nil {
		vids = map[*stored]struct{}{}
		c.byVideo[p.Payload.VideoID] = vids
	}
	vids[sp] = struct{}{}
	for name, v := range p.Vectors {
		s := c.dense[name]
		if s == nil {
			s = &slab{dim: len(v), row: map[*stored]int{}, pdim: paddedDim(len(v))}
			c.dense[name] = s
		}
		s.row[sp] = len(s.pts)
		s.pts = append(s.pts, sp)
		s.vecs = append(s.vecs, v...)
		codes, scale, eps := quantize(v, s.pdim)
		s.codes = append(s.codes, codes...)
		s.scales = append(s.scales, scale)
		s.eps = append(s.eps, eps)
		sp.dense = append(sp.dense, name)
	}
	if len(p.Sparse) > 0 {
		sp.sparse = make(map[string]SparseVector, len(p.Sparse))
		for name, sv := range p.Sparse {
			sp.sparse[name] = sv
			pl := c.sparse[name]
			if pl == nil {
				pl = &postings{terms: map[uint32]map[*stored]float32{}}
				c.sparse[name] = pl
			}
			pl.add(sp, sv)
		}
	}
}

// remove drops a point; each of its dense vectors is swapped with its
// slab's last row so slabs stay dense.
func (c *collection) remove(id string) {
	sp, ok := c.points[id]
	if !ok {
		return
	}
	c.dead++
	delete(c.points, id)
	if vids := c.byVideo[sp.payload.VideoID]; vids != nil {
		delete(vids, sp)
		if len(vids) == 0 {
			delete(c.byVideo, sp.payload.VideoID)
		}
	}
	for _, name := range sp.dense {
		s := c.dense[name]
		r := s.row[sp]
		last := len(s.pts) - 1
		if r != last {
			moved := s.pts[last]
			s.pts[r] = moved
			copy(s.vecs[r*s.dim:(r+1)*s.dim], s.vecs[last*s.dim:(last+1)*s.dim])
			copy(s.codes[r*s.pdim:(r+1)*s.pdim], s.codes[last*s.pdim:(last+1)*s.pdim])
			s.scales[r], s.eps[r] = s.scales[last], s.eps[last]
			s.row[moved] = r
		}
		s.pts[last] = nil
		s.pts = s.pts[:last]
		s.vecs = s.vecs[:last*s.dim]
		s.codes = s.codes[:last*s.pdim]
		s.scales = s.scales[:last]
		s.eps = s.eps[:last]
		delete(s.row, sp)
	}
	for name, sv := range sp.sparse {
		c.sparse[name].remove(sp, sv)
	}
}

// point rebuilds a whole point, its dense vectors copied out of the slabs.
func (c *collection) point(sp *stored) Point {
	p := Point{ID: sp.id, Payload: sp.payload.clone()}
	if len(sp.dense) > 0 {
		p.Vectors = make(map[string][]float32, len(sp.dense))
		for _, name := range sp.dense {
			s := c.dense[name]
			r := s.row[sp]
			p.Vectors[name] = slices.Clone(s.vecs[r*s.dim : (r+1)*s.dim])
		}
	}
	if len(sp.sparse) > 0 {
		p.Sparse = make(map[string]SparseVector, len(sp.sparse))
		for name, sv := range sp.sparse {
			p.Sparse[name] = sv
		}
	}
	return p
}

// candidates calls fn with every point the filter could pass: only the
// listed videos' points when it names videos, else all of them.
func (c *collection) candidates(f Filter, fn func(*stored)) {
	if len(f.VideoIDs) > 0 {
		seen := make(map[string]bool, len(f.VideoIDs))
		for _, v := range f.VideoIDs {
			if seen[v] {
				continue
			}
			seen[v] = true
			for sp := range c.byVideo[v] {
				fn(sp)
			}
		}
		return
	}
	for _, sp := range c.points {
		fn(sp)
	}
}

// postings is the inverted index of one sparse vector name.
type postings struct {
	terms map[uint32]map[*stored]float32
	docs  int // points with this sparse vector
}

func (pl *postings) add(sp *stored, sv SparseVector) {
	pl.docs++
	for i, t := range sv.Indices {
		m := pl.terms[t]
		if m == nil {
			m = map[*stored]float32{}
			pl.terms[t] = m
		}
		m[sp] = sv.Values[i]
	}
}

func (pl *postings) remove(sp *stored, sv SparseVector) {
	pl.docs--
	for _, t := range sv.Indices {
		if m := pl.terms[t]; m != nil {
			delete(m, sp)
			if len(m) == 0 {
				delete(pl.terms, t)
			}
		}
	}
}

// score is Σ idf(t)·q_t·d_t over the query's terms, with BM25's
// idf(t) = ln(1 + (N − n_t + 0.5)/(n_t + 0.5)), as Qdrant's IDF modifier.
func (pl *postings) score(q SparseVector) map[*stored]float32 {
	out := map[*stored]float32{}
	n := float64(pl.docs)
	for i, t := range q.Indices {
		m := pl.terms[t]
		if len(m) == 0 {
			continue
		}
		df := float64(len(m))
		w := float32(IDF(n, df)) * q.Values[i]
		for sp, v := range m {
			out[sp] += w * v
		}
	}
	return out
}

// IDF is the inverse document frequency of a term found in df of n
// documents, as BM25 and Qdrant's IDF modifier compute it.
func IDF(n, df float64) float64 {
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

func normalized(v []float32) []float32 {
	out := make([]float32, len(v))
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		copy(out, v)
		return out
	}
	inv := float32(1 / math.Sqrt(n))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

// sortedSparse returns sv with its indices in ascending order, as Qdrant
// stores and returns them.
func sortedSparse(sv SparseVector) SparseVector {
	if len(sv.Indices) != len(sv.Values) || slices.IsSorted(sv.Indices) {
		return sv
	}
	order := make([]int, len(sv.Indices))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return sv.Indices[order[a]] < sv.Indices[order[b]] })
	out := SparseVector{Indices: make([]uint32, len(order)), Values: make([]float32, len(order))}
	for i, j := range order {
		out.Indices[i], out.Values[i] = sv.Indices[j], sv.Values[j]
	}
	return out
}
