package index

import (
	"bufio"
	"container/heap"
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
	"sort"
	"sync"

	"github.com/viterin/vek/vek32"
)

// ErrClosed is returned by every call on a closed Embedded index.
var ErrClosed = errors.New("index: closed")

// Embedded is the on-disk, in-process index. It is safe for concurrent use:
// queries run in parallel; writes are serialised and durable on return.
type Embedded struct {
	dir string

	writeMu sync.Mutex // serialises log appends, so records never interleave
	mu      sync.RWMutex
	cols    map[string]*collection
	closed  bool
}

type collection struct {
	name    string
	log     *os.File
	points  map[string]*Point
	byVideo map[string]map[string]struct{} // video_id → point ids
	slabs   map[string]*slab               // per named vector
	dead    int                            // points in the log since overwritten or deleted
}

// slab holds every vector of one named vector contiguously, so a query is
// one pass of dot products over memory.
type slab struct {
	dim  int
	ids  []string
	vecs []float32
	row  map[string]int
}

// OpenEmbedded opens (or creates) the index stored under dir. A torn record
// at the end of a log, left by a crash mid-write, is cut off; everything
// before it is kept.
func OpenEmbedded(dir string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	e := &Embedded{dir: dir, cols: map[string]*collection{}}
	for _, name := range []string{Segments, Videos} {
		c, err := openCollection(dir, name)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.cols[name] = c
	}
	return e, nil
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

type record struct {
	Op      string   `json:"op"` // "upsert", "replace" or "delete"
	VideoID string   `json:"video_id,omitempty"`
	Points  []Point  `json:"points,omitempty"`
	IDs     []string `json:"ids,omitempty"`
}

const headerSize = 8 // uint32 length + uint32 CRC-32 of the body

func openCollection(dir, name string) (*collection, error) {
	path := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open index collection %s: %w", name, err)
	}
	c := &collection{name: name, log: f, points: map[string]*Point{}, byVideo: map[string]map[string]struct{}{}, slabs: map[string]*slab{}}
	good, err := c.replay(bufio.NewReaderSize(f, 1<<20))
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
		if err := c.compact(dir); err != nil {
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
func (c *collection) compact(dir string) error {
	path := filepath.Join(dir, c.name+".log")
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
			batch = append(batch, *c.points[id])
		}
		if err := fresh.append(record{Op: "upsert", Points: batch}); err != nil {
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
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
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

// replay applies every whole, intact record and returns the offset after the
// last one.
func (c *collection) replay(r io.Reader) (int64, error) {
	var off int64
	hdr := make([]byte, headerSize)
	var body []byte
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return off, nil // clean end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n > 1<<30 {
			return off, nil
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return off, nil
		}
		if crc32.ChecksumIEEE(body) != sum {
			return off, nil
		}
		var rec record
		if err := json.Unmarshal(body, &rec); err != nil {
			return off, fmt.Errorf("record at offset %d: %w", off, err)
		}
		if err := c.apply(rec); err != nil {
			return off, fmt.Errorf("record at offset %d: %w", off, err)
		}
		off += headerSize + int64(n)
	}
}

func (c *collection) append(rec record) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	buf := make([]byte, headerSize+len(body))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.ChecksumIEEE(body))
	copy(buf[headerSize:], body)
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

func (c *collection) apply(rec record) error {
	switch rec.Op {
	case "upsert", "replace":
		for i := range rec.Points {
			if err := c.checkDims(&rec.Points[i]); err != nil {
				return err
			}
		}
		if rec.Op == "replace" {
			for id := range c.byVideo[rec.VideoID] {
				c.remove(id)
			}
		}
		for i := range rec.Points {
			p := rec.Points[i]
			c.remove(p.ID)
			c.points[p.ID] = &p
			ids := c.byVideo[p.Payload.VideoID]
			if ids == nil {
				ids = map[string]struct{}{}
				c.byVideo[p.Payload.VideoID] = ids
			}
			ids[p.ID] = struct{}{}
			for name, v := range p.Vectors {
				s := c.slabs[name]
				if s == nil {
					s = &slab{dim: len(v), row: map[string]int{}}
					c.slabs[name] = s
				}
				s.row[p.ID] = len(s.ids)
				s.ids = append(s.ids, p.ID)
				s.vecs = append(s.vecs, v...)
			}
		}
	case "delete":
		for _, id := range rec.IDs {
			c.remove(id)
		}
	default:
		return fmt.Errorf("unknown op %q", rec.Op)
	}
	return nil
}

func (c *collection) checkDims(p *Point) error {
	if p.ID == "" {
		return errors.New("point without id")
	}
	for name, v := range p.Vectors {
		if len(v) == 0 {
			return fmt.Errorf("point %s: vector %q is empty", p.ID, name)
		}
		if s := c.slabs[name]; s != nil && s.dim != len(v) {
			return fmt.Errorf("point %s: vector %q has %d dimensions, collection %s has %d", p.ID, name, len(v), c.name, s.dim)
		}
	}
	return nil
}

// remove drops a point; each of its vectors is swapped with its slab's last
// row so slabs stay dense.
func (c *collection) remove(id string) {
	p, ok := c.points[id]
	if !ok {
		return
	}
	c.dead++
	delete(c.points, id)
	if ids := c.byVideo[p.Payload.VideoID]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(c.byVideo, p.Payload.VideoID)
		}
	}
	for name := range p.Vectors {
		s := c.slabs[name]
		r, ok := s.row[id]
		if !ok {
			continue
		}
		last := len(s.ids) - 1
		if r != last {
			moved := s.ids[last]
			s.ids[r] = moved
			copy(s.vecs[r*s.dim:(r+1)*s.dim], s.vecs[last*s.dim:(last+1)*s.dim])
			s.row[moved] = r
		}
		s.ids = s.ids[:last]
		s.vecs = s.vecs[:last*s.dim]
		delete(s.row, id)
	}
}

func (e *Embedded) collection(name string) (*collection, error) {
	if e.closed {
		return nil, ErrClosed
	}
	c, ok := e.cols[name]
	if !ok {
		return nil, fmt.Errorf("index: no collection %q", name)
	}
	return c, nil
}

// Upsert writes points to a collection, replacing points with the same id.
// Vectors are L2-normalised (the distance is cosine). It returns once the
// write is on disk.
func (e *Embedded) Upsert(ctx context.Context, collection string, points []Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := e.writePoints(ctx, collection, record{Op: "upsert", Points: points}); err != nil {
		return fmt.Errorf("upsert %d points into %s: %w", len(points), collection, err)
	}
	return nil
}

// ReplaceVideo atomically replaces every point of a video in a collection
// with points: a re-processed video that now has fewer segments leaves no
// stale ones behind, and a reader never sees the video half-written.
func (e *Embedded) ReplaceVideo(ctx context.Context, collection, videoID string, points []Point) error {
	for _, p := range points {
		if p.Payload.VideoID != videoID {
			return fmt.Errorf("replace video %s in %s: point %s belongs to video %q", videoID, collection, p.ID, p.Payload.VideoID)
		}
	}
	if err := e.writePoints(ctx, collection, record{Op: "replace", VideoID: videoID, Points: points}); err != nil {
		return fmt.Errorf("replace video %s in %s: %w", videoID, collection, err)
	}
	return nil
}

func (e *Embedded) writePoints(ctx context.Context, collection string, rec record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	clean := make([]Point, len(rec.Points))
	for i, p := range rec.Points {
		clean[i] = p
		clean[i].Vectors = make(map[string][]float32, len(p.Vectors))
		for name, v := range p.Vectors {
			clean[i].Vectors[name] = normalized(v)
		}
	}
	rec.Points = clean

	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.RLock()
	c, err := e.collection(collection)
	if err == nil {
		for i := range clean {
			if err = c.checkDims(&clean[i]); err != nil {
				break
			}
		}
	}
	e.mu.RUnlock()
	if err != nil {
		return err
	}
	// Log first, then apply: a point visible to queries is always on disk.
	if err := c.append(rec); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return c.apply(rec)
}

// DeleteVideo removes every point of a video from a collection and returns
// how many there were.
func (e *Embedded) DeleteVideo(ctx context.Context, collection, videoID string) (int, error) {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.RLock()
	c, err := e.collection(collection)
	var ids []string
	if err == nil {
		for id := range c.byVideo[videoID] {
			ids = append(ids, id)
		}
	}
	e.mu.RUnlock()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	rec := record{Op: "delete", IDs: ids}
	if err := c.append(rec); err != nil {
		return 0, fmt.Errorf("delete video %s from %s: %w", videoID, collection, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(ids), c.apply(rec)
}

// Get returns a point by id.
func (e *Embedded) Get(ctx context.Context, collection, id string) (Point, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return Point{}, false, err
	}
	p, ok := c.points[id]
	if !ok {
		return Point{}, false, nil
	}
	return *p, true, nil
}

// Count returns how many points match the filter.
func (e *Embedded) Count(ctx context.Context, collection string, f Filter) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return 0, err
	}
	switch {
	case f == (Filter{}):
		return len(c.points), nil
	case f.ExcludeVideoID == "":
		return len(c.byVideo[f.VideoID]), nil
	}
	n := 0
	for _, p := range c.points {
		if f.match(&p.Payload) {
			n++
		}
	}
	return n, nil
}

// Search returns the limit points whose named vector is most similar to
// vector (cosine), best first, among those that pass the filter.
func (e *Embedded) Search(ctx context.Context, collection, vectorName string, vector []float32, limit int, f Filter) ([]Hit, error) {
	if limit <= 0 {
		return nil, nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, err := e.collection(collection)
	if err != nil {
		return nil, err
	}
	s := c.slabs[vectorName]
	if s == nil || len(s.ids) == 0 {
		return nil, nil
	}
	if len(vector) != s.dim {
		return nil, fmt.Errorf("search %s.%s: query has %d dimensions, want %d", collection, vectorName, len(vector), s.dim)
	}
	q := normalized(vector)
	top := make(hitHeap, 0, limit+1)
	for r, id := range s.ids {
		if r%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		score := vek32.Dot(q, s.vecs[r*s.dim:(r+1)*s.dim])
		if len(top) == limit && score <= top[0].Score {
			continue
		}
		p := c.points[id]
		if !f.match(&p.Payload) {
			continue
		}
		heap.Push(&top, Hit{ID: id, Score: score, Payload: p.Payload})
		if len(top) > limit {
			heap.Pop(&top)
		}
	}
	out := make([]Hit, len(top))
	for i := len(top) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&top).(Hit)
	}
	return out, nil
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

// hitHeap is a min-heap on score: the root is the worst of the best.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].Score < h[j].Score }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
