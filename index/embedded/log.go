package embedded

import (
	"bufio"
	"bytes"
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

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/fsutil"
)

// Log record operations.
const (
	opUpsert  = "upsert"
	opReplace = "replace" // every point of VideoID goes, then Points are written
	opDelete  = "delete"
)

type record struct {
	Op      string
	VideoID string
	Points  []index.Point
	IDs     []string
}

// A record's body is the JSON of everything but the dense vectors, then the
// vectors as raw little-endian float32s in the order the JSON lists them:
// JSON for what must stay readable and evolvable, raw floats because a
// million 512-d vectors as JSON text would take minutes to write and read.
//
//	uvarint(len(meta)) | meta JSON | float32 × Σ dims
type recordMeta struct {
	Op      string      `json:"op"`
	VideoID string      `json:"video_id,omitempty"`
	IDs     []string    `json:"ids,omitempty"`
	Points  []metaPoint `json:"points,omitempty"`
}

type metaPoint struct {
	ID      string                        `json:"id"`
	Dense   []metaVector                  `json:"dense,omitempty"`
	Sparse  map[string]index.SparseVector `json:"sparse,omitempty"`
	Payload index.Payload                 `json:"payload"`
}

type metaVector struct {
	Name string `json:"n"`
	Dim  int    `json:"d"`
}

func encodeRecord(rec record) ([]byte, error) {
	meta := recordMeta{Op: rec.Op, VideoID: rec.VideoID, IDs: rec.IDs, Points: make([]metaPoint, len(rec.Points))}
	floats := 0
	for i, p := range rec.Points {
		mp := metaPoint{ID: p.ID, Sparse: p.Sparse, Payload: p.Payload}
		for _, name := range sortedKeys(p.Vectors) {
			mp.Dense = append(mp.Dense, metaVector{name, len(p.Vectors[name])})
			floats += len(p.Vectors[name])
		}
		meta.Points[i] = mp
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, binary.MaxVarintLen64+len(js)+4*floats)
	out = binary.AppendUvarint(out, uint64(len(js)))
	out = append(out, js...)
	for i, p := range rec.Points {
		for _, mv := range meta.Points[i].Dense {
			for _, x := range p.Vectors[mv.Name] {
				out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
			}
		}
	}
	return out, nil
}

func decodeRecord(body []byte) (record, error) {
	n, k := binary.Uvarint(body)
	if k <= 0 || uint64(len(body)-k) < n {
		return record{}, errors.New("bad metadata length")
	}
	var meta recordMeta
	if err := json.Unmarshal(body[k:k+int(n)], &meta); err != nil {
		return record{}, err
	}
	raw := body[k+int(n):]
	rec := record{Op: meta.Op, VideoID: meta.VideoID, IDs: meta.IDs, Points: make([]index.Point, len(meta.Points))}
	switch rec.Op {
	case opUpsert, opReplace, opDelete:
	default:
		return record{}, fmt.Errorf("unknown op %q", rec.Op)
	}
	for i, mp := range meta.Points {
		p := index.Point{ID: mp.ID, Sparse: mp.Sparse, Payload: mp.Payload}
		if len(mp.Dense) > 0 {
			p.Vectors = make(map[string][]float32, len(mp.Dense))
		}
		for _, mv := range mp.Dense {
			if mv.Dim < 0 || len(raw) < 4*mv.Dim {
				return record{}, fmt.Errorf("point %s: vector %q runs past the record", mp.ID, mv.Name)
			}
			v := make([]float32, mv.Dim)
			for j := range v {
				v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
			raw = raw[4*mv.Dim:]
			p.Vectors[mv.Name] = v
		}
		rec.Points[i] = p
	}
	if len(raw) != 0 {
		return record{}, fmt.Errorf("%d bytes left after the vectors", len(raw))
	}
	return rec, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// openCollection opens a collection's log and replays it. A torn record
// at its end is described to remember, then cut (read-only: skipped).
func openCollection(path, name string, schema index.Schema, fresh, readOnly bool, remember func(DroppedRecord) error) (c *collection, err error) {
	flags := os.O_RDWR | os.O_CREATE
	switch {
	case readOnly:
		flags = os.O_RDONLY
	case fresh:
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open index collection %s: %w", name, err)
	}
	c = &collection{
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
		torn := DroppedRecord{Collection: name, Bytes: end - good, VideoIDs: tornVideos(f, good, end)}
		if remember != nil {
			if err := remember(torn); err != nil {
				f.Close()
				return nil, err
			}
		}
		if readOnly {
			slog.Warn("index: skipping a torn record at the end of the log (read-only: left as it is)", "collection", name, "bytes", end-good)
			return c, nil
		}
		slog.Warn("index: cutting torn record at end of log", "collection", name, "kept_bytes", good, "dropped_bytes", end-good, "videos", torn.VideoIDs)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate torn log %s: %w", path, err)
		}
		if _, err := f.Seek(good, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	if !readOnly && c.dead > compactMinDead && c.dead > len(c.points) {
		if err := c.compact(path); err != nil {
			// The log as it is stays valid: compaction can wait.
			slog.Warn("index: compaction failed", "collection", name, "err", err)
		}
	}
	return c, nil
}

// tornVideos reads the video ids a torn record's surviving bytes name: its
// metadata JSON comes first and names the video (and each point's video)
// before the vectors, so a write cut anywhere after its first bytes still
// says whose it was.
func tornVideos(f *os.File, from, to int64) []string {
	buf := make([]byte, min(to-from, 1<<20))
	n, _ := f.ReadAt(buf, from)
	buf = buf[:n]
	if len(buf) <= headerSize {
		return nil
	}
	body := buf[headerSize:]
	if _, k := binary.Uvarint(body); k > 0 {
		body = body[k:]
	}
	seen := map[string]bool{}
	var ids []string
	const key = `"video_id":`
	for rest := body; ; {
		i := bytes.Index(rest, []byte(key))
		if i < 0 {
			break
		}
		rest = rest[i+len(key):]
		var id string
		dec := json.NewDecoder(bytes.NewReader(rest))
		if err := dec.Decode(&id); err == nil && id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
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
		batch := make([]index.Point, 0, perRecord)
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
	_ = fsutil.SyncDir(dir)
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
		return nil, fmt.Errorf("%w: a write of %d bytes is over the %d-byte record limit; write fewer points at once", index.ErrBadPoint, len(body), maxRecord)
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
