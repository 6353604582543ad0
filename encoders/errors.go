package encoders

import "fmt"

// Error is a failure inside a model: a session that will not load or a run
// that fails. The worker sends such jobs to the DLQ with cause "model".
type Error struct {
	Model string
	Op    string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("model %s: %s: %v", e.Model, e.Op, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports that retrying cannot fix the failure: a model that
// fails on an input fails on it again. (A cancelled or timed-out run is
// reported as the context's error, not as an Error.)
func (e *Error) Permanent() bool { return true }
