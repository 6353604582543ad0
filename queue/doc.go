// Package queue is mediavec's contract with NATS JetStream: the embedded
// server, the stream and consumer topology, the job and event schemas, the
// dead-letter queue and the per-video status records.
//
// Topology (created or updated idempotently by Ensure):
//
//	MEDIAVEC_JOBS    work queue   mediavec.jobs.upload, mediavec.jobs.backfill
//	  upload         durable pull consumer on mediavec.jobs.upload
//	  backfill       durable pull consumer on mediavec.jobs.backfill
//	MEDIAVEC_DLQ     limits       mediavec.dlq.<cause>
//	MEDIAVEC_EVENTS  limits       mediavec.events.indexed, mediavec.events.failed
//	MEDIAVEC_VIDEOS  KV bucket    one status record per video
//
// A video's state moves queued → processing → indexed | failed; a failed or
// indexed video can be queued again by a new job.
//
// queue imports no other mediavec package.
package queue
