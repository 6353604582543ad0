// Package worker runs the pipeline of one job — decode, encode, index — and
// the pool that feeds it from the JetStream lanes.
//
// A job's outcome decides its ack, in one place (Worker.settle):
//
//	indexed           points durably written, then Ack
//	bad input         Term + dead letter (cause invalid or decode)
//	model failure     Term + dead letter (cause model)
//	transient failure NakWithDelay with backoff; after MaxAttempts
//	                  deliveries, Term + dead letter (cause exhausted)
//	too many deliveries (earlier attempts crashed): Term + dead letter
//	                  (cause exhausted), without running the job again
//	panic             recovered, Term + dead letter with the stage's cause
//
// While a job runs, the worker sends InProgress heartbeats so a long video is
// not redelivered to another worker.
package worker
