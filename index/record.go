package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
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
	Points  []Point
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
	ID      string                  `json:"id"`
	Dense   []metaVector            `json:"dense,omitempty"`
	Sparse  map[string]SparseVector `json:"sparse,omitempty"`
	Payload Payload                 `json:"payload"`
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
	rec := record{Op: meta.Op, VideoID: meta.VideoID, IDs: meta.IDs, Points: make([]Point, len(meta.Points))}
	switch rec.Op {
	case opUpsert, opReplace, opDelete:
	default:
		return record{}, fmt.Errorf("unknown op %q", rec.Op)
	}
	for i, mp := range meta.Points {
		p := Point{ID: mp.ID, Sparse: mp.Sparse, Payload: mp.Payload}
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
