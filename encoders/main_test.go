package encoders

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (a batcher's, say)
// outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
