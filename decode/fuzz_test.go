package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mediavec/mediavec/internal/clips"
)

// FuzzDecode feeds arbitrary bytes to open-and-decode. Whatever the bytes,
// decode returns media or a *decode.Error, within its wall time, and never
// crashes. Run it with `go test ./decode -fuzz FuzzDecode`; plain `go test`
// runs the seeds.
func FuzzDecode(f *testing.F) {
	if clips.Available() {
		dir := f.TempDir()
		for _, s := range []clips.Spec{
			{Name: "mp4", Video: "testsrc2", Audio: "sine", Seconds: 0.5, Width: 64, Height: 48, Faststart: true},
			{Name: "mkv", Video: "testsrc", Audio: "sine", Seconds: 0.5, Width: 64, Height: 48, Ext: "mkv"},
			{Name: "webm", Video: "smptebars", Seconds: 0.3, Width: 64, Height: 48, Ext: "webm", Extra: []string{"-c:v", "libvpx"}},
			{Name: "audio", Audio: "sine", Seconds: 0.5, Ext: "m4a"},
		} {
			p, err := clips.Make(dir, s)
			if err != nil {
				f.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{})
	f.Add(gifBomb(30000, 30000))
	f.Add([]byte("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n"))
	f.Add([]byte("ffconcat version 1.0\nfile '/etc/passwd'\n"))

	cfg := Config{
		// Small limits keep each input fast, so the fuzzer explores more.
		MaxPixels: 640 * 480, MaxDuration: time.Minute, MaxFrames: 8,
		Frames: []FrameSpec{{Width: 16, Height: 16, Format: Gray}, {Width: 8, Height: 8, Format: RGB24}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		// Decode must honour its wall time even inside FFmpeg; crash with
		// the input rather than hang the fuzzer.
		watchdog := time.AfterFunc(8*time.Second, func() { panic(fmt.Sprintf("decode of %d bytes ran past 8 s", len(data))) })
		m, err := Reader(ctx, bytes.NewReader(data), "fuzz", cfg)
		watchdog.Stop()
		if time.Since(start) > 5*time.Second {
			t.Fatalf("decode ran %s past its 2 s wall time", time.Since(start))
		}
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if len(m.Frames) > cfg.MaxFrames {
			t.Fatalf("%d frames over the cap", len(m.Frames))
		}
		for _, fr := range m.Frames {
			if len(fr.Images) != 2 || len(fr.Images[0].Data) != 16*16 || len(fr.Images[1].Data) != 8*8*3 {
				t.Fatalf("bad images at %s", fr.T)
			}
		}
	})
}
