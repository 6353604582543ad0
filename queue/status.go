package queue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Video states.
const (
	StateQueued     = "queued"
	StateProcessing = "processing"
	StateIndexed    = "indexed"
	StateDuplicate  = "duplicate"
	StateFailed     = "failed"
)

// Status is what mediavec knows about one video.
type Status struct {
	VideoID  string         `json:"video_id"`
	State    string         `json:"state"`
	JobID    string         `json:"job_id,omitempty"`
	Source   string         `json:"source,omitempty"`
	Cause    string         `json:"cause,omitempty"` // DLQ cause when failed
	Error    string         `json:"error,omitempty"`
	Attempts int            `json:"attempts,omitempty"`
	Duration float64        `json:"duration,omitempty"` // seconds of video
	Spaces   map[string]int `json:"spaces,omitempty"`   // segments per space
	// Labels is the object label summary: label → sampled frames seen in.
	Labels map[string]int `json:"labels,omitempty"`
	// DuplicateOf is the video an exact re-upload was recognised as.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Budget is what the job's compute budget did, when it had one.
	Budget *Budget `json:"budget,omitempty"`
	// ContentKey identifies the bytes (and spaces) an indexed video was
	// made from: a content-hash entry naming this video counts only while
	// the video still holds those bytes.
	ContentKey string `json:"content_key,omitempty"`
	// Generation is the collections' generation the video was written to.
	Generation int       `json:"generation,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Line is the one-line form `mediavec status` prints first: the state, or
// "failed: <cause>: <message>".
func (s Status) Line() string {
	if s.State == StateFailed {
		return fmt.Sprintf("failed: %s: %s", s.Cause, s.Error)
	}
	if s.State == StateDuplicate && s.DuplicateOf != "" {
		return "duplicate of " + s.DuplicateOf
	}
	return s.State
}

// ErrUnknownVideo is returned by Statuses.Get for a video never submitted.
var ErrUnknownVideo = errors.New("unknown video")

// Statuses is the MEDIAVEC_VIDEOS bucket.
type Statuses struct {
	kv jetstream.KeyValue
}

// OpenStatuses binds to the bucket, which Ensure creates.
func OpenStatuses(ctx context.Context, js jetstream.JetStream) (*Statuses, error) {
	kv, err := js.KeyValue(ctx, BucketVideos)
	if err != nil {
		return nil, fmt.Errorf("open status bucket %s: %w", BucketVideos, err)
	}
	return &Statuses{kv: kv}, nil
}

// key encodes a video id, which may hold any character, into the character
// set KV keys allow.
func key(videoID string) string { return base64.RawURLEncoding.EncodeToString([]byte(videoID)) }

// Put records a status.
func (s *Statuses) Put(ctx context.Context, st Status) error {
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = time.Now().UTC()
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, key(st.VideoID), b); err != nil {
		return fmt.Errorf("put status of %s: %w", st.VideoID, err)
	}
	return nil
}

// Get returns the status of a video, or ErrUnknownVideo.
func (s *Statuses) Get(ctx context.Context, videoID string) (Status, error) {
	e, err := s.kv.Get(ctx, key(videoID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{}, fmt.Errorf("%w: %s", ErrUnknownVideo, videoID)
	}
	if err != nil {
		return Status{}, fmt.Errorf("get status of %s: %w", videoID, err)
	}
	var st Status
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", videoID, err)
	}
	return st, nil
}

// Delete forgets a video's status.
func (s *Statuses) Delete(ctx context.Context, videoID string) error {
	if err := s.kv.Delete(ctx, key(videoID)); err != nil {
		return fmt.Errorf("delete status of %s: %w", videoID, err)
	}
	return nil
}

// Contents is the MEDIAVEC_CONTENT bucket: which video an exact upload
// (a content hash, for a set of spaces) was first indexed as.
type Contents struct {
	kv jetstream.KeyValue
}

// OpenContents binds to the bucket, which Ensure creates.
func OpenContents(ctx context.Context, js jetstream.JetStream) (*Contents, error) {
	kv, err := js.KeyValue(ctx, BucketContent)
	if err != nil {
		return nil, fmt.Errorf("open content bucket %s: %w", BucketContent, err)
	}
	return &Contents{kv: kv}, nil
}

// Get returns the video indexed with this key, if any.
func (c *Contents) Get(ctx context.Context, key string) (string, bool, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get content %s: %w", key, err)
	}
	return string(e.Value()), true, nil
}

// Put records that key was indexed as videoID.
func (c *Contents) Put(ctx context.Context, key, videoID string) error {
	if _, err := c.kv.Put(ctx, key, []byte(videoID)); err != nil {
		return fmt.Errorf("put content %s: %w", key, err)
	}
	return nil
}
