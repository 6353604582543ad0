package worker

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain closes the speech model the tests share (its batcher runs a
// goroutine), then checks that no test left a goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if speech != nil {
		speech.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
