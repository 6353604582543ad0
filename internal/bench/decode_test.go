package bench

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The harness runs both sides and ends with the ratio line; timings are not
// asserted (shared machines are noisy), only that real work was measured.
func TestDecodeReportsRatio(t *testing.T) {
	var out bytes.Buffer
	err := Decode(t.Context(), DecodeConfig{Seconds: 3, Width: 320, Height: 240, Runs: 1, CacheDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^fps=1 throughput vs ffmpeg CLI: \d+\.\d\dx \(goal ≥ 0\.95x\)$`).MatchString(last) {
		t.Fatalf("last line %q\n%s", last, out.String())
	}
	// 3 s at fps=1: both sides produce 3 samples.
	if !regexp.MustCompile(`mediavec decode fps=1 .* 3\n`).MatchString(out.String()) {
		t.Errorf("fps=1 did not sample 3 frames:\n%s", out.String())
	}
}
