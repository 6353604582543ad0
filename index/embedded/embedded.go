package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/fsutil"
)

// Index is the on-disk, in-process index. It is safe for concurrent use:
// queries run in parallel with each other; writes are serialised, durable on
// return, and wait for running queries.
//
// On disk: manifest.json (the collections with their schemas, and the
// aliases; replaced by write, fsync, rename) and one append-only log per
// collection under collections/, each record length-prefixed and
// checksummed, so a torn tail left by a crash is found and cut.
type Index struct {
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
	readOnly bool
	dropped  []DroppedRecord
}

var _ index.Index = (*Index)(nil)

type manifest struct {
	Version     int                     `json:"version"`
	Collections map[string]index.Schema `json:"collections"`
	Aliases     map[string]string       `json:"aliases"`
}

const manifestVersion = 2

// Open opens (or creates) the index stored under dir. A torn record
// at the end of a log, left by a crash mid-write, is cut off; everything
// before it is kept.
//
// Dropped says what was cut, so the caller can tell the videos' owners.
func Open(dir string) (*Index, error) {
	if err := os.MkdirAll(filepath.Join(dir, "collections"), 0o755); err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	return openIndex(dir, false)
}

// OpenReadOnly opens the index under dir for reading: it writes nothing —
// no folder made, no torn record cut (it is skipped), no compaction, no
// stray log removed — and every write returns ErrReadOnly. Listing and
// inspecting commands use it.
func OpenReadOnly(dir string) (*Index, error) {
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	return openIndex(dir, true)
}

// ErrReadOnly is returned by every write to an index opened read-only.
var ErrReadOnly = errors.New("index opened read-only")

func openIndex(dir string, readOnly bool) (*Index, error) {
	e := &Index{dir: dir, cols: map[string]*collection{}, scanWorkers: runtime.GOMAXPROCS(0), readOnly: readOnly}
	e.manifest = manifest{Version: manifestVersion, Collections: map[string]index.Schema{}, Aliases: map[string]string{}}
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
			e.manifest.Collections = map[string]index.Schema{}
		}
		if e.manifest.Aliases == nil {
			e.manifest.Aliases = map[string]string{}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, tornFile)); err == nil {
		if err := json.Unmarshal(b, &e.dropped); err != nil {
			return nil, fmt.Errorf("open index %s: %s: %w", dir, tornFile, err)
		}
	}
	for name, schema := range e.manifest.Collections {
		// Before a torn record is cut, what it named is written down, so
		// a crash (or a failed repair) after the cut still knows.
		remember := func(torn DroppedRecord) error {
			if readOnly {
				e.dropped = append(e.dropped, torn)
				return nil
			}
			return e.saveDropped(append(slices.Clone(e.dropped), torn))
		}
		c, err := openCollection(e.logPath(name), name, schema, false, readOnly, remember)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.cols[name] = c
	}
	if readOnly {
		return e, nil
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

func (e *Index) logPath(name string) string {
	return filepath.Join(e.dir, "collections", name+".log")
}

// DroppedRecord is a torn record cut from the end of a log at open: the
// last write before a crash, which never completed. VideoIDs are the
// videos its readable part names (empty when even they were lost).
type DroppedRecord struct {
	Collection string
	Bytes      int64
	VideoIDs   []string
}

// tornFile lists the torn records cut and not yet settled.
const tornFile = "torn.json"

// Dropped returns the torn records cut at this open or an earlier one and
// not yet settled (ClearDropped).
func (e *Index) Dropped() []DroppedRecord { return slices.Clone(e.dropped) }

// ClearDropped records that the caller has settled every dropped record
// (their videos marked and queued for repair).
func (e *Index) ClearDropped() error {
	if e.readOnly {
		return ErrReadOnly
	}
	e.dropped = nil
	if err := os.Remove(filepath.Join(e.dir, tornFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (e *Index) saveDropped(d []DroppedRecord) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(e.dir, tornFile), b, 0o644); err != nil {
		return fmt.Errorf("record the torn write: %w", err)
	}
	e.dropped = d
	return nil
}

// Close closes the logs. It is safe to call more than once.
func (e *Index) Close() error {
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

// saveManifest replaces manifest.json by write, fsync, rename, fsync of the
// folder: a crash leaves the old manifest or the new one, whole.
func (e *Index) saveManifest(m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(e.dir, "manifest.json"), b, 0o644); err != nil {
		return fmt.Errorf("save index manifest: %w", err)
	}
	e.manifest = m
	return nil
}

func (m manifest) clone() manifest {
	out := manifest{Version: m.Version, Collections: map[string]index.Schema{}, Aliases: map[string]string{}}
	for k, v := range m.Collections {
		out.Collections[k] = v
	}
	for k, v := range m.Aliases {
		out.Aliases[k] = v
	}
	return out
}

// Ensure creates a collection or checks the schema of an existing one.
func (e *Index) Ensure(ctx context.Context, name string, schema index.Schema) error {
	if e.readOnly {
		return ErrReadOnly
	}
	if err := schema.Validate(); err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if err := index.ValidateName(name); err != nil {
		return fmt.Errorf("ensure collection %w", err)
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed {
		return index.ErrClosed
	}
	if _, ok := e.manifest.Aliases[name]; ok {
		return fmt.Errorf("ensure collection %s: an alias has that name", name)
	}
	if have, ok := e.manifest.Collections[name]; ok {
		if !have.Equal(schema) {
			return fmt.Errorf("ensure collection %s: %w: it has %s, asked for %s", name, index.ErrSchema, have, schema)
		}
		return nil
	}
	// A new collection starts from an empty log, whatever a crashed drop
	// left under its name, and the log's folder entry is durable before
	// the manifest names it.
	c, err := openCollection(e.logPath(name), name, schema, true, false, nil)
	if err != nil {
		return err
	}
	if err := fsutil.SyncDir(filepath.Join(e.dir, "collections")); err != nil {
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
func (e *Index) Schema(ctx context.Context, collection string) (index.Schema, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return index.Schema{}, err
	}
	return c.schema, nil
}

// SetAlias points alias at a collection.
func (e *Index) SetAlias(ctx context.Context, alias, collection string) error {
	if e.readOnly {
		return ErrReadOnly
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed {
		return index.ErrClosed
	}
	if _, ok := e.manifest.Collections[collection]; !ok {
		return fmt.Errorf("set alias %s → %s: %w", alias, collection, index.ErrNoCollection)
	}
	if _, ok := e.manifest.Collections[alias]; ok {
		return fmt.Errorf("set alias %s: a collection has that name", alias)
	}
	if err := index.ValidateName(alias); err != nil {
		return fmt.Errorf("set alias %w", err)
	}
	m := e.manifest.clone()
	m.Aliases[alias] = collection
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.saveManifest(m)
}

// Aliases returns every alias and its collection.
func (e *Index) Aliases(ctx context.Context) (map[string]string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, index.ErrClosed
	}
	return e.manifest.clone().Aliases, nil
}

// Collections lists the collections, sorted.
func (e *Index) Collections(ctx context.Context) ([]string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, index.ErrClosed
	}
	out := make([]string, 0, len(e.manifest.Collections))
	for name := range e.manifest.Collections {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// DropCollection deletes a collection no alias points at.
func (e *Index) DropCollection(ctx context.Context, name string) error {
	if e.readOnly {
		return ErrReadOnly
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed {
		return index.ErrClosed
	}
	if _, ok := e.manifest.Collections[name]; !ok {
		return fmt.Errorf("drop %s: %w", name, index.ErrNoCollection)
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
func (e *Index) collection(name string) (*collection, error) {
	if e.closed {
		return nil, index.ErrClosed
	}
	if target, ok := e.manifest.Aliases[name]; ok {
		name = target
	}
	c, ok := e.cols[name]
	if !ok {
		return nil, fmt.Errorf("collection %s: %w", name, index.ErrNoCollection)
	}
	return c, nil
}
