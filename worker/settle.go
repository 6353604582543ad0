package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/queue"
)

// outcome is how a job ended.
type outcome struct {
	cause     string // DLQ cause for permanent failures; "" otherwise
	err       error
	transient bool
}

// classify maps an error of a job to its outcome, the one place that
// decides between retrying and dead-lettering. The failing code says what
// it knows: its error's type names the cause (a decode, model or index
// error; a bad job), and a Permanent method (as index, decode and encoders
// errors have; River's JobCancel is the same idea) says that retrying
// cannot help. stage is the cause of an error that names none: what the
// job was doing.
func classify(stage string, err error) outcome {
	var de *decode.Error
	var me *encoders.Error
	cause := stage
	switch {
	case errors.Is(err, queue.ErrInvalidJob), errors.Is(err, analyze.ErrUnknownSpace):
		return outcome{cause: queue.CauseInvalid, err: err}
	case errors.As(err, &de) && de.Kind == decode.KindForbidden:
		// The job names a source it may not read: the job is bad.
		return outcome{cause: queue.CauseInvalid, err: err}
	case errors.As(err, &de):
		cause = queue.CauseDecode
	case errors.As(err, &me):
		cause = queue.CauseModel
	}
	return outcome{cause: cause, err: err, transient: !permanent(err)}
}

// permanent reports whether err says that retrying cannot fix it.
func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// settle maps an outcome to the message's ack, the video's status, a dead
// letter and an event. Every decision about acks is here.
func (w *Worker) settle(ctx context.Context, msg jetstream.Msg, job queue.Job, attempts int, out outcome, res *analyze.Result) {
	log := w.log.With("video_id", job.VideoID, "job_id", job.JobID, "attempt", attempts)
	if out.err == nil && res.DuplicateOf != "" {
		st := queue.Status{VideoID: job.VideoID, State: queue.StateDuplicate, JobID: job.JobID, Source: job.Source,
			Attempts: attempts, Duration: res.Info.Duration.Seconds(), DuplicateOf: res.DuplicateOf, Generation: w.cfg.Generation}
		if err := w.statuses.Put(ctx, st); err != nil {
			log.Warn("duplicate found but status not saved; releasing for redelivery", "err", err)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		if err := w.publishEvent(ctx, queue.Event{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateDuplicate, DuplicateOf: res.DuplicateOf}); err != nil {
			log.Warn("duplicate event not published; releasing for redelivery", "err", err)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("ack failed; the job may be redelivered", "err", err)
		}
		w.cfg.Metrics.settled("duplicate", "")
		log.Info("job is an exact duplicate", "duplicate_of", res.DuplicateOf)
		return
	}
	if out.err == nil {
		counts, labels := res.Count(), labelSummary(res)
		st := queue.Status{VideoID: job.VideoID, State: queue.StateIndexed, JobID: job.JobID, Source: job.Source,
			Attempts: attempts, Duration: res.Info.Duration.Seconds(), Spaces: counts, Labels: labels, Generation: w.cfg.Generation,
			Budget: budgetOf(res.Budget)}
		if res.ContentSHA256 != "" {
			st.ContentKey = contentKey(res.ContentSHA256, w.jobSpaces(job))
		}
		if err := w.statuses.Put(ctx, st); err != nil {
			// The points are written; a redelivery rewrites the same points.
			log.Warn("job indexed but status not saved; releasing for redelivery", "err", err)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		stages := map[string]float64{}
		for k, v := range res.Timings {
			stages[k] = float64(v.Microseconds()) / 1000
		}
		if b := st.Budget; b != nil && (len(b.Skipped) > 0 || !b.Met) {
			log.Info("job kept to its compute budget", "budget", b.Line())
		}
		if len(res.Cut) > 0 {
			log.Warn("texts longer than their model reads were embedded cut at its limit", "cut", res.Cut)
		}
		unsafe := res.Safety != nil && res.Safety.Unsafe
		if err := w.publishEvent(ctx, queue.Event{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateIndexed, Spaces: counts, Stages: stages, Labels: labels, Cut: res.Cut,
			Safety: SafetyScores(res.Safety), Unsafe: unsafe, Budget: st.Budget}); err != nil {
			// Downstream consumers learn of the video only from its event:
			// a redelivery rewrites the same points and status and tries
			// the event again.
			log.Warn("indexed event not published; releasing for redelivery", "err", err)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("ack failed; the job may be redelivered and will rewrite the same points", "err", err)
		}
		w.cfg.Metrics.settled("indexed", "")
		w.cfg.Metrics.indexed(res)
		log.Info("job indexed", "segments", counts, "stages_ms", stages, "unsafe", unsafe)
		return
	}

	if out.transient && ctx.Err() != nil {
		// Draining: let another worker (or this one after restart) take it.
		log.Info("job released during shutdown", "err", out.err)
		_ = msg.Nak()
		w.cfg.Metrics.settled("released", "")
		return
	}
	if out.transient && attempts < w.lanes.MaxAttempts {
		delay := w.cfg.RetryBase << min(attempts-1, 8)
		log.Warn("job failed, will retry", "err", out.err, "retry_in", delay)
		_ = msg.NakWithDelay(delay)
		w.cfg.Metrics.settled("retried", out.cause)
		return
	}
	cause := out.cause
	if out.transient {
		cause = queue.CauseExhausted
	}
	w.deadLetter(ctx, msg, job, attempts, cause, out.err, log)
}

func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, job queue.Job, attempts int, cause string, jobErr error, log *slog.Logger) {
	dl := queue.DeadLetter{Cause: cause, Error: jobErr.Error(), Attempts: attempts, Subject: msg.Subject(), Job: msg.Data()}
	// One entry per job message, however often it is dead-lettered.
	dedup := ""
	if meta, err := msg.Metadata(); err == nil {
		dedup = fmt.Sprintf("dlq-%s-%d", meta.Stream, meta.Sequence.Stream)
	}
	errText := queue.Excerpt(jobErr.Error(), queue.MaxDeadLetterError)
	if err := queue.PublishDeadLetter(ctx, w.js, dl, dedup); err != nil {
		if !errors.Is(err, nats.ErrMaxPayload) {
			// Never drop a job: while NATS cannot take the dead letter (or
			// the whole job beside it), leave the job on its lane to be
			// tried again.
			log.Error("dead letter not written; job left for redelivery", "err", err, "job_err", jobErr)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		// A dead letter that can never fit (a server with a tiny payload
		// limit): retrying would loop for ever, so the job ends here and
		// its status says why.
		log.Error("dead letter cannot be written; job terminated", "err", err, "job_err", jobErr)
		errText = queue.Excerpt(errText+"; dead letter not written: "+err.Error(), queue.MaxDeadLetterError)
	}
	if job.VideoID != "" {
		st := queue.Status{VideoID: job.VideoID, State: queue.StateFailed, JobID: job.JobID, Source: queue.Excerpt(job.Source, queue.MaxDeadLetterError),
			Cause: cause, Error: errText, Attempts: attempts}
		if err := w.statuses.Put(ctx, st); err != nil {
			log.Warn("failed status not saved", "err", err)
		}
		// The dead letter is the durable record of a failure; its event
		// is tried as hard as an indexed one but never holds the job.
		if err := w.publishEvent(ctx, queue.Event{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateFailed, Cause: cause, Error: errText}); err != nil {
			log.Warn("failed event not published", "err", err)
		}
	}
	if err := msg.Term(); err != nil {
		log.Warn("term failed", "err", err)
	}
	w.cfg.Metrics.settled("failed", cause)
	log.Warn("job failed", "cause", cause, "err", jobErr)
}

// eventRetryFor bounds how long an event is retried in place: longer than
// a JetStream leader election takes, well short of a redelivery's cost.
const eventRetryFor = 30 * time.Second

// publishEvent writes ev, retrying while the events stream has no leader
// (a node died, an election is running). The job message stays held by
// the heartbeat meanwhile.
func (w *Worker) publishEvent(ctx context.Context, ev queue.Event) error {
	deadline := time.Now().Add(eventRetryFor)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		err := queue.PublishEvent(ctx, w.js, ev)
		if err == nil || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		w.log.Debug("event not published yet; retrying", "video_id", ev.VideoID, "err", err, "retry_in", wait)
		sleep(ctx, wait)
	}
}

// budgetOf is what a job's budget did, for its status and event.
func budgetOf(b *analyze.Budget) *queue.Budget {
	if b == nil {
		return nil
	}
	return &queue.Budget{Limit: b.Limit, Full: b.Full, Estimate: b.Estimate, Skipped: b.Skipped, Met: b.Met}
}
