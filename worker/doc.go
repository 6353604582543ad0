// Package worker runs the pipeline of one job — decode, encode, index — and
// the pool that feeds it from the JetStream lanes.
//
// A job's outcome decides its ack, in one place (settle.go). The code that
// fails says what it knows: its error's type names the cause, and a
// Permanent method says that retrying cannot help; classify turns that
// into an outcome, and settle into acks:
//
//	indexed           points durably written, then Ack
//	bad job           Term + dead letter (cause invalid): malformed JSON,
//	                  an unknown space, a source outside the roots
//	bad input         Term + dead letter (cause decode)
//	model failure     Term + dead letter (cause model)
//	bad point         Term + dead letter (cause index): a vector or schema
//	                  the index refuses, which no retry can change
//	transient failure NakWithDelay with backoff; after MaxAttempts
//	                  deliveries, Term + dead letter (cause exhausted)
//	too many deliveries (earlier attempts crashed): Term + dead letter
//	                  (cause exhausted), without running the job again
//	panic             recovered, Term + dead letter with the stage's cause
//
// While a job runs, the worker sends InProgress heartbeats so a long video is
// not redelivered to another worker.
//
// Files: worker.go (the pool), job.go (one job's pipeline), settle.go
// (outcomes and acks), points.go (a result as index points), metrics.go.
package worker
