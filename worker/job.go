package worker

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
)

// run is the pipeline: decode and encode, then write. A panic anywhere is
// recovered into a permanent failure with the cause of the stage it hit.
func (w *Worker) run(ctx context.Context, job queue.Job, attempts int) (res *analyze.Result, out outcome) {
	stage := queue.CauseDecode
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("worker: job panicked", "video_id", job.VideoID, "panic", r, "stack", string(debug.Stack()))
			res, out = nil, outcome{cause: stage, err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if err := w.statuses.Put(ctx, queue.Status{VideoID: job.VideoID, State: queue.StateProcessing, JobID: job.JobID, Source: job.Source, Attempts: attempts}); err != nil {
		return nil, classify(queue.CauseExhausted, err)
	}
	res, err := w.analyzer.Source(ctx, job.Source, w.AnalysisOptions(job))
	if err != nil {
		return nil, classify(queue.CauseDecode, err)
	}
	stage = queue.CauseIndex
	t0 := time.Now()
	if err := w.Write(ctx, job, res); err != nil {
		return nil, classify(queue.CauseIndex, err)
	}
	if res.DuplicateOf != "" {
		return res, outcome{}
	}
	res.Timings["index"] = time.Since(t0)
	if w.cfg.Contents != nil && res.ContentSHA256 != "" {
		// Only now that the points are written can a later upload of the
		// same bytes point here.
		if err := w.cfg.Contents.Put(ctx, contentKey(res.ContentSHA256, w.jobSpaces(job)), job.VideoID); err != nil {
			w.log.Warn("content hash not recorded; a re-upload of it will be embedded again", "video_id", job.VideoID, "err", err)
		}
	}
	return res, outcome{}
}

// Write stores an analysed job durably: its thumbnails, then its points in
// every target (the vectors each target's schema holds). An exact re-upload
// has no points of its own, and loses any it had from an earlier,
// different upload under its id. Benchmarks call it to measure the write
// of a job.
func (w *Worker) Write(ctx context.Context, job queue.Job, res *analyze.Result) error {
	if res.DuplicateOf != "" {
		for _, t := range w.cfg.Targets {
			for _, coll := range []string{t.Segments, t.Videos} {
				if err := w.store.ReplaceVideo(ctx, coll, job.VideoID, nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if w.cfg.Thumbs != nil {
		// Before the points, so a search never shows a moment whose
		// thumbnail is missing.
		if err := w.cfg.Thumbs.Replace(job.VideoID, res.Thumbs); err != nil {
			return err
		}
	}
	segs, video := Points(job, res, time.Now().UTC())
	for _, t := range w.cfg.Targets {
		if err := w.store.ReplaceVideo(ctx, t.Segments, job.VideoID, restrict(segs, t.Schema)); err != nil {
			return err
		}
		// No video point when there is nothing to pool (no segment in any
		// space the target holds).
		if err := w.store.ReplaceVideo(ctx, t.Videos, job.VideoID, restrict([]index.Point{video}, t.Schema)); err != nil {
			return err
		}
	}
	return nil
}

// AnalysisOptions are the options a job is analysed with: its spaces and
// title, thumbnails when they are kept, and the exact-duplicate check when
// content hashes are. Benchmarks analyse with them too, to measure what a
// job costs.
func (w *Worker) AnalysisOptions(job queue.Job) analyze.Options {
	opts := analyze.Options{Spaces: job.Spaces, Thumbnails: w.cfg.Thumbs != nil, Safety: true, Budget: cmp.Or(job.Budget, w.cfg.Budget)}
	if job.Text != nil {
		opts.Title, opts.Caption, opts.Hashtags = job.Text.Title, job.Text.Caption, job.Text.Hashtags
	}
	if w.cfg.Contents != nil {
		// Hashed even when the job says reprocess: the hash of what it
		// indexes is recorded for later uploads.
		spaces := w.jobSpaces(job)
		opts.Duplicate = func(ctx context.Context, sum string) (string, error) {
			if job.Reprocess {
				return "", nil
			}
			return w.duplicateOf(ctx, job.VideoID, contentKey(sum, spaces))
		}
	}
	return opts
}

// jobSpaces are the spaces a job is embedded in.
func (w *Worker) jobSpaces(job queue.Job) []string {
	if len(job.Spaces) > 0 {
		return job.Spaces
	}
	return w.analyzer.Defaults()
}

// duplicateOf returns the indexed video recorded under key, other than
// videoID itself, or "".
func (w *Worker) duplicateOf(ctx context.Context, videoID, key string) (string, error) {
	other, ok, err := w.cfg.Contents.Get(ctx, key)
	if err != nil || !ok || other == videoID {
		return "", err
	}
	st, err := w.statuses.Get(ctx, other)
	if errors.Is(err, queue.ErrUnknownVideo) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if st.State != queue.StateIndexed || st.ContentKey != key {
		// Deleted, failed, being re-processed, or re-indexed since from
		// other bytes: the entry is stale; embed this one.
		return "", nil
	}
	return other, nil
}

// contentKey is the content bucket's key of a hash and a set of spaces:
// the same bytes embedded in other spaces are not a duplicate.
func contentKey(sum string, spaces []string) string {
	sorted := slices.Clone(spaces)
	slices.Sort(sorted)
	h := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	return sum + "_" + hex.EncodeToString(h[:6])
}
