package decode_test

import (
	"context"
	"os/exec"
	"sync"
	"testing"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/internal/bench"
)

var (
	benchClipOnce sync.Once
	benchClip     string
	benchClipErr  error
)

// BenchmarkDecode runs mediavec's decode and the ffmpeg CLI side by side on
// one generated 720p30 clip of 20 s with a 250-frame GOP; compare the
// sub-benchmarks' ns/op (`mediavec bench decode` prints the ratio).
func BenchmarkDecode(b *testing.B) {
	benchClipOnce.Do(func() { benchClip, benchClipErr = bench.MakeClip(b.TempDir(), 1280, 720, 20) })
	if benchClipErr != nil {
		b.Fatal(benchClipErr)
	}
	rgb := []decode.FrameSpec{{Width: 224, Height: 224, Format: decode.RGB24}}
	b.Run("ffmpeg-cli-fps1", func(b *testing.B) {
		for b.Loop() {
			cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "2", "-i", benchClip,
				"-an", "-vf", "fps=1,scale=224:224", "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", "/dev/null")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	for _, policy := range []string{"fps=1", "keyframes", "scenes"} {
		p, _ := decode.ParsePolicy(policy)
		b.Run("mediavec-"+policy, func(b *testing.B) {
			for b.Loop() {
				m, err := decode.File(context.Background(), benchClip, decode.Config{Sampling: p, Frames: rgb, NoAudio: true, Threads: 2})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(m.Frames)), "frames/op")
			}
		})
	}
}
