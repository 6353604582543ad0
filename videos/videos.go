// Package videos is a video's life in mediavec, apart from search: it is
// submitted (a job on a lane), processed by a worker (its status goes from
// queued to processing to indexed, duplicate or failed), and deleted (its
// points in every generation, its thumbnails, its status). The HTTP API
// serves it; the CLI and upstream pipelines reach the same queue directly.
package videos

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
)

// Service submits, reports on and deletes videos.
type Service struct {
	JS       jetstream.JetStream
	Statuses *queue.Statuses
	// Index is where Delete removes a video's points, in every
	// generation.
	Index index.Index
	// Thumbs holds the videos' thumbnails; nil when none are kept.
	Thumbs *thumbs.Store
	// Spaces are the spaces a submission may ask for.
	Spaces []string
}

// Errors the API maps to a status code.
var (
	// ErrNotFound: no status and no point of the video.
	ErrNotFound = errors.New("video not found")
	// ErrInProgress: the video's job is queued or running; it would write
	// the video back.
	ErrInProgress = errors.New("video is being processed")
	// ErrThumbnails: the thumbnails could not be removed (a local storage
	// failure, not an unavailable service).
	ErrThumbnails = errors.New("thumbnails")
)

// Submission is a request to index a video.
type Submission struct {
	VideoID   string   `json:"video_id"`
	Source    string   `json:"source"` // file://, http(s):// URL, or an absolute path
	Title     string   `json:"title,omitempty"`
	Caption   string   `json:"caption,omitempty"`
	Hashtags  []string `json:"hashtags,omitempty"`
	Spaces    []string `json:"spaces,omitempty"`
	Reprocess bool     `json:"reprocess,omitempty"`
	Backfill  bool     `json:"backfill,omitempty"`
}

// Submit queues a job for the submission (on the backfill lane when it
// says so) and returns it. A bad submission is queue.ErrInvalidJob.
func (s *Service) Submit(ctx context.Context, sub Submission) (queue.Job, error) {
	for _, sp := range sub.Spaces {
		if !slices.Contains(s.Spaces, sp) {
			return queue.Job{}, fmt.Errorf("%w: unknown space %q; have %v", queue.ErrInvalidJob, sp, s.Spaces)
		}
	}
	src := sub.Source
	if strings.HasPrefix(src, "/") {
		src = queue.FileURL(filepath.Clean(src))
	}
	job := queue.Job{VideoID: sub.VideoID, Source: src, Spaces: sub.Spaces, Reprocess: sub.Reprocess}
	if sub.Title != "" || sub.Caption != "" || len(sub.Hashtags) > 0 {
		job.Text = &queue.JobText{Title: sub.Title, Caption: sub.Caption, Hashtags: sub.Hashtags}
	}
	return queue.Submit(ctx, s.JS, s.Statuses, job, sub.Backfill)
}

// Status returns the video's status; queue.ErrUnknownVideo when it has
// none.
func (s *Service) Status(ctx context.Context, videoID string) (queue.Status, error) {
	return s.Statuses.Get(ctx, videoID)
}

// Delete removes a video: its points in every generation of both
// collections (a rollout's old generation included, so the video cannot
// come back with an alias switch), its thumbnails and its status, and
// returns how many points it removed. A video whose status has expired is
// still deleted; one still queued or processing is refused
// (ErrInProgress), since its job would write it back.
func (s *Service) Delete(ctx context.Context, videoID string) (int, error) {
	st, err := s.Statuses.Get(ctx, videoID)
	unknown := errors.Is(err, queue.ErrUnknownVideo)
	switch {
	case unknown:
	case err != nil:
		return 0, err
	case st.State == queue.StateQueued || st.State == queue.StateProcessing:
		return 0, fmt.Errorf("%w: %s is %s; delete it once it is indexed or failed", ErrInProgress, videoID, st.State)
	}
	cols, err := s.Index.Collections(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, coll := range cols {
		if !strings.HasPrefix(coll, index.Segments+"_g") && !strings.HasPrefix(coll, index.Videos+"_g") {
			continue
		}
		n, err := s.Index.Count(ctx, coll, index.Filter{VideoIDs: []string{videoID}})
		if err == nil && n > 0 {
			err = s.Index.DeleteVideo(ctx, coll, videoID)
			removed += n
		}
		if err != nil {
			return removed, err
		}
	}
	if removed == 0 && unknown {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, videoID)
	}
	if s.Thumbs != nil {
		if err := s.Thumbs.Delete(videoID); err != nil {
			return removed, fmt.Errorf("%w: %w", ErrThumbnails, err)
		}
	}
	if err := s.Statuses.Delete(ctx, videoID); err != nil {
		return removed, err
	}
	return removed, nil
}
