package index

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Collections of the data model: one point per segment, one per video.
const (
	Segments = "segments"
	Videos   = "videos"
)

// Point is one stored item: its id, named dense and sparse vectors (space
// name → vector) and a payload. The id is a UUID (SegmentID, VideoID) or an
// unsigned integer, as Qdrant requires.
type Point struct {
	ID      string                  `json:"id"`
	Vectors map[string][]float32    `json:"vectors,omitempty"`
	Sparse  map[string]SparseVector `json:"sparse,omitempty"`
	Payload Payload                 `json:"payload"`
}

// Payload is what a point carries besides its vectors.
type Payload struct {
	VideoID  string  `json:"video_id"`
	Space    string  `json:"space,omitempty"`
	Modality string  `json:"modality,omitempty"`
	TStart   float64 `json:"t_start"`
	TEnd     float64 `json:"t_end"`
	Text     string  `json:"text,omitempty"`
	// Confidence is how sure the OCR was of on-screen text, in [0, 1].
	Confidence float64 `json:"confidence,omitempty"`
	// Words time each word of on-screen text that came on screen a word
	// or a phrase at a time.
	Words  []TimedWord `json:"words,omitempty"`
	Labels []string    `json:"labels,omitempty"`
	Speech float64     `json:"speech,omitempty"` // audio segments: the share that is speech (VAD)
	// Safety holds content-safety scores by name: a frame's class
	// probabilities, a video's summary.
	Safety map[string]float64 `json:"safety,omitempty"`
	// Unsafe marks every point of a video judged unsafe, so a safe search
	// drops them inside the index, before the limit.
	Unsafe    bool              `json:"unsafe,omitempty"`
	Source    string            `json:"source,omitempty"`
	IndexedAt time.Time         `json:"indexed_at"`
	Fields    map[string]string `json:"fields,omitempty"` // caller-supplied
}

// TimedWord is one word of a segment's text and when it was on screen,
// in seconds from the video's start.
type TimedWord struct {
	Text   string  `json:"text"`
	TStart float64 `json:"t_start"`
	TEnd   float64 `json:"t_end"`
}

// pointNamespace is the UUIDv5 namespace of point ids.
var pointNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://mediavec.dev/point"))

// SegmentID is the point id of segment ordinal of a video in a space:
// UUIDv5 of "seg/{video_id}/{space}/{ordinal}". Re-processing a video
// overwrites the same points, so a redelivered job changes nothing.
func SegmentID(videoID, space string, ordinal int) string {
	return uuid.NewSHA1(pointNamespace, []byte("seg/"+videoID+"/"+space+"/"+strconv.Itoa(ordinal))).String()
}

// VideoID is the point id of a video's video-level point: UUIDv5 of
// "vid/{video_id}".
func VideoID(videoID string) string {
	return uuid.NewSHA1(pointNamespace, []byte("vid/"+videoID)).String()
}

func parseUUID(s string) (uuid.UUID, error) { return uuid.Parse(s) }

// Clone copies the payload's slices and maps, so the index and its callers
// never share them.
func (p Payload) Clone() Payload {
	p.Labels = slices.Clone(p.Labels)
	if p.Fields != nil {
		p.Fields = maps.Clone(p.Fields)
	}
	if p.Safety != nil {
		p.Safety = maps.Clone(p.Safety)
	}
	return p
}
