// Package clips makes test videos with the ffmpeg CLI, so that tests carry
// recipes instead of binary fixtures. It is for tests and the benchmark
// harness only.
package clips

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Spec describes one synthetic clip built from FFmpeg's lavfi sources.
type Spec struct {
	Name      string  // file name without extension
	Video     string  // lavfi video source, e.g. "testsrc2"; "" for audio-only
	Audio     string  // lavfi audio source, e.g. "sine=frequency=440"; "" for video-only
	Seconds   float64 // duration
	Width     int     // defaults to 320
	Height    int     // defaults to 240
	FPS       int     // defaults to 25
	Bitrate   string  // video bitrate, e.g. "300k"; default: encoder default (CRF)
	Title     string  // container title metadata
	Extra     []string
	Ext       string // defaults to "mp4"
	Faststart bool
}

// Standard is five clips that differ in picture and in sound, 8–15 s each.
func Standard() []Spec {
	return []Spec{
		{Name: "clip1", Video: "testsrc2", Audio: "sine=frequency=220", Seconds: 8},
		{Name: "clip2", Video: "smptehdbars", Audio: "sine=frequency=1000:beep_factor=4", Seconds: 10},
		{Name: "clip3", Video: "mandelbrot", Audio: "aevalsrc=0.4*sin(2*PI*(300+40*t)*t)", Seconds: 12},
		{Name: "clip4", Video: "life=mold=10:ratio=0.3:death_color=#224488", Audio: "sine=frequency=3200", Seconds: 9},
		{Name: "clip5", Video: "cellauto=rule=110", Audio: "anoisesrc=color=brown:amplitude=0.5", Seconds: 15},
	}
}

// Available reports whether the ffmpeg CLI is on PATH.
func Available() bool {
	_, err := exec.LookPath("ffmpeg")
	return err == nil
}

// Make writes the clip into dir and returns its path.
func Make(dir string, s Spec) (string, error) {
	if s.Width == 0 {
		s.Width = 320
	}
	if s.Height == 0 {
		s.Height = 240
	}
	if s.FPS == 0 {
		s.FPS = 25
	}
	if s.Ext == "" {
		s.Ext = "mp4"
	}
	out := filepath.Join(dir, s.Name+"."+s.Ext)
	args := []string{"-hide_banner", "-loglevel", "error", "-y"}
	if s.Video != "" {
		args = append(args, "-f", "lavfi", "-i", withOpts(s.Video, fmt.Sprintf("size=%dx%d:rate=%d", s.Width, s.Height, s.FPS)))
	}
	if s.Audio != "" {
		args = append(args, "-f", "lavfi", "-i", withOpts(s.Audio, "sample_rate=44100"))
	}
	args = append(args, "-t", fmt.Sprint(s.Seconds))
	if s.Video != "" {
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
		if s.Bitrate != "" {
			args = append(args, "-b:v", s.Bitrate)
		}
	}
	if s.Audio != "" {
		args = append(args, "-c:a", "aac", "-b:a", "96k", "-ac", "2")
	}
	if s.Title != "" {
		args = append(args, "-metadata", "title="+s.Title)
	}
	if s.Faststart {
		args = append(args, "-movflags", "+faststart")
	}
	args = append(args, s.Extra...)
	args = append(args, out)
	return out, run(args...)
}

// Reencode writes a variant of src: scaled by scale (e.g. 0.5), at the given
// video bitrate, with AAC audio at a lower bitrate.
func Reencode(src, dst string, scale float64, bitrate string) error {
	return run("-hide_banner", "-loglevel", "error", "-y", "-i", src,
		"-vf", fmt.Sprintf("scale=trunc(iw*%g/2)*2:trunc(ih*%g/2)*2", scale, scale),
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate,
		"-c:a", "aac", "-b:a", "48k", dst)
}

// Truncate copies the first n bytes of src to dst.
func Truncate(src, dst string, n int64) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if n > int64(len(b)) {
		n = int64(len(b))
	}
	return os.WriteFile(dst, b[:n], 0o644)
}

func run(args ...string) error {
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ffmpeg %v: %w: %s", args, err, stderr.String())
	}
	return nil
}

// MakeT is Make for tests: it fails the test on error.
func MakeT(t testing.TB, dir string, s Spec) string {
	t.Helper()
	p, err := Make(dir, s)
	if err != nil {
		t.Fatalf("make clip %s: %v", s.Name, err)
	}
	return p
}

// withOpts appends options to a lavfi source that may or may not have some.
func withOpts(src, opts string) string {
	if strings.Contains(src, "=") {
		return src + ":" + opts
	}
	return src + "=" + opts
}
