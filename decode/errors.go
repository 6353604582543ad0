package decode

import (
	"errors"
	"fmt"
)

// Kind classifies a decode failure by what the caller should do with it.
type Kind int

const (
	// KindInvalid: the input is not a video we can read (empty, truncated,
	// unknown format, no decodable stream). Retrying cannot help.
	KindInvalid Kind = iota + 1
	// KindLimit: the input is readable but breaks a configured limit
	// (bytes, duration, pixels, wall time). Retrying cannot help.
	KindLimit
	// KindForbidden: the source is outside the configured roots or uses a
	// scheme that is not allowed.
	KindForbidden
	// KindTransient: something outside the input failed (I/O error,
	// cancelled context); the same job may succeed later.
	KindTransient
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid input"
	case KindLimit:
		return "limit exceeded"
	case KindForbidden:
		return "source not allowed"
	case KindTransient:
		return "transient"
	}
	return "unknown"
}

// Error is the error type of every failure returned by this package.
type Error struct {
	Kind   Kind
	Source string // the source as given by the caller
	Op     string // what was being done: "open", "probe", "decode video", …
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("decode %s: %s: %s: %v", e.Source, e.Op, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying cannot fix the failure: every kind
// but KindTransient. The worker reads it to dead-letter a job at once.
func (e *Error) Permanent() bool { return e.Kind != KindTransient }

// Permanent reports whether err is a decode error that retrying cannot fix.
func Permanent(err error) bool {
	var de *Error
	return errors.As(err, &de) && de.Permanent()
}
