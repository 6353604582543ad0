package decode

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSkipKeepsSamples holds the skipping decode to the full one: the same
// frames sampled at the same times with the same pixels, on codecs and
// containers with and without reordered frames, open and closed GOPs.
func TestSkipKeepsSamples(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	dir := t.TempDir()
	src := "testsrc2=size=320x240:rate=30"
	clips := []struct {
		name string
		args []string
	}{
		// x264's defaults: B-frames in a pyramid, most of them not
		// referred to; a GOP longer than the clip.
		{"h264-bframes.mp4", []string{"-c:v", "libx264", "-preset", "veryfast", "-g", "300"}},
		// Open GOPs and a keyframe every second.
		{"h264-short-gop.mkv", []string{"-c:v", "libx264", "-bf", "3", "-g", "30", "-x264-params", "open-gop=1"}},
		// Closed GOPs of a second: everything after a GOP's sampled
		// frame until the next IDR picture goes undecoded; in MP4
		// (length-prefixed NAL units) and MPEG-TS (start codes).
		{"h264-closed-gop.mp4", []string{"-c:v", "libx264", "-preset", "veryfast", "-g", "30"}},
		{"h264-closed-gop.ts", []string{"-c:v", "libx264", "-preset", "veryfast", "-g", "30"}},
		{"hevc-closed-gop.mkv", []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=30:open-gop=0:bframes=3:log-level=error"}},
		{"vp9-short-gop.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "30"}},
		{"hevc.mp4", []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=4:log-level=error"}},
		{"vp9.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"}},
		// MPEG-4 part 2 in AVI: packets without presentation times.
		{"mpeg4-bframes.avi", []string{"-c:v", "mpeg4", "-bf", "2"}},
		// 25 fps against a 1 s grid: grid times fall between frames.
		{"h264-25fps.mp4", []string{"-r", "25", "-c:v", "libx264", "-preset", "veryfast"}},
	}
	policies := []string{"fps=1", "fps=2.5", "fps=0.4", "keyframes"}
	for _, c := range clips {
		path := filepath.Join(dir, c.name)
		args := append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", src, "-t", "7", "-pix_fmt", "yuv420p"}, c.args...)
		if out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v: %s", c.name, err, out)
		}
		for _, pol := range policies {
			p, err := ParsePolicy(pol)
			if err != nil {
				t.Fatal(err)
			}
			spec := []FrameSpec{{Width: 96, Height: 72, Format: Gray}}
			full, err := File(t.Context(), path, Config{Sampling: p, Frames: spec, NoAudio: true, FullDecode: true})
			if err != nil {
				t.Fatalf("%s %s full: %v", c.name, pol, err)
			}
			skip, err := File(t.Context(), path, Config{Sampling: p, Frames: spec, NoAudio: true})
			if err != nil {
				t.Fatalf("%s %s skipping: %v", c.name, pol, err)
			}
			if len(full.Frames) < 2 && pol != "keyframes" || len(full.Frames) == 0 {
				t.Fatalf("%s %s: %d frames from the full decode", c.name, pol, len(full.Frames))
			}
			if len(skip.Frames) != len(full.Frames) {
				t.Errorf("%s %s: %d frames skipping, %d in full", c.name, pol, len(skip.Frames), len(full.Frames))
				continue
			}
			for i := range full.Frames {
				a, b := full.Frames[i], skip.Frames[i]
				if a.T != b.T || a.Key != b.Key {
					t.Errorf("%s %s frame %d: at %s (key %v) skipping, %s (key %v) in full", c.name, pol, i, b.T, b.Key, a.T, a.Key)
				}
				if !bytes.Equal(a.Images[0].Data, b.Images[0].Data) {
					t.Errorf("%s %s frame %d at %s: pixels differ by %.2f levels", c.name, pol, i, a.T, meanAbsDiff(a.Images[0].Data, b.Images[0].Data)*255)
				}
			}
		}
	}
}
