package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/queue"
)

// repairTorn settles the videos whose last index write was torn by a crash
// and cut when the embedded index opened: their status would still say
// what the worker saw (often "indexed") while the index no longer holds
// that write. Each is marked failed with the cause, and a job to index it
// again goes on the backfill lane, so status and index agree again.
func (s *Stack) repairTorn(ctx context.Context) error {
	e, ok := s.idx.(*embedded.Index)
	if !ok {
		return nil
	}
	dropped := e.Dropped()
	if len(dropped) == 0 {
		return nil
	}
	done, failed := map[string]bool{}, 0
	for _, d := range dropped {
		if len(d.VideoIDs) == 0 {
			s.cfg.Logger.Warn("index: a torn write was cut and names no video; nothing to repair", "collection", d.Collection, "bytes", d.Bytes)
		}
		for _, id := range d.VideoIDs {
			if done[id] {
				continue
			}
			done[id] = true
			if err := s.repairVideo(ctx, id, d); err != nil {
				// Not fatal: the index stays usable, and the list of torn
				// writes is kept for the next start to try again.
				failed++
				s.cfg.Logger.Error("index: repair after a torn write failed; retried at next start", "video_id", id, "err", err)
			}
		}
	}
	if failed == 0 {
		return e.ClearDropped()
	}
	return nil
}

func (s *Stack) repairVideo(ctx context.Context, videoID string, d embedded.DroppedRecord) error {
	st, err := s.statuses.Get(ctx, videoID)
	if errors.Is(err, queue.ErrUnknownVideo) {
		s.cfg.Logger.Warn("index: a torn write of a video without a status was cut; submit it again", "video_id", videoID, "collection", d.Collection)
		return nil
	}
	if err != nil {
		return err
	}
	if slices.Contains([]string{queue.StateQueued, queue.StateProcessing}, st.State) || st.Source == "" {
		return nil // its job is still to come, and will write it again
	}
	job, err := queue.Submit(ctx, s.js, nil, queue.Job{
		VideoID: videoID, Source: st.Source, Reprocess: true,
		JobID: fmt.Sprintf("%s@repair-%s", videoID, time.Now().UTC().Format("20060102T150405.000000000Z")),
	}, true)
	if err != nil {
		return err
	}
	st.State, st.Cause, st.JobID = queue.StateFailed, queue.CauseIndex, job.JobID
	st.Error = fmt.Sprintf("index: its last write to %s was torn by a crash and cut at start (%d bytes); job %s on the backfill lane indexes it again", d.Collection, d.Bytes, job.JobID)
	s.cfg.Logger.Warn("index: torn write cut; video marked failed and queued for repair", "video_id", videoID, "job_id", job.JobID)
	return s.statuses.Put(ctx, st)
}
