package index

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Collections of the data model: one point per segment, one per video.
const (
	Segments = "segments"
	Videos   = "videos"
)

// Point is one stored item: its id, one or more named vectors (space name →
// vector) and a payload.
type Point struct {
	ID      string               `json:"id"`
	Vectors map[string][]float32 `json:"vectors"`
	Payload Payload              `json:"payload"`
}

// Payload is what a point carries besides its vectors.
type Payload struct {
	VideoID   string            `json:"video_id"`
	Space     string            `json:"space,omitempty"`
	Modality  string            `json:"modality,omitempty"`
	TStart    float64           `json:"t_start"`
	TEnd      float64           `json:"t_end"`
	Text      string            `json:"text,omitempty"`
	Labels    []string          `json:"labels,omitempty"`
	Source    string            `json:"source,omitempty"`
	IndexedAt time.Time         `json:"indexed_at"`
	Fields    map[string]string `json:"fields,omitempty"` // caller-supplied
}

// Hit is one query result.
type Hit struct {
	ID      string
	Score   float32 // cosine similarity
	Payload Payload
}

// Filter restricts a query by payload. Empty fields do not filter.
type Filter struct {
	VideoID        string // only points of this video
	ExcludeVideoID string // no points of this video
}

func (f Filter) match(p *Payload) bool {
	if f.VideoID != "" && p.VideoID != f.VideoID {
		return false
	}
	if f.ExcludeVideoID != "" && p.VideoID == f.ExcludeVideoID {
		return false
	}
	return true
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
