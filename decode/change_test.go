package decode

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestChangeMakesImagesOfNewFrames: a Change spec gets an image of the
// first frame, of the first frame after each cut, and of a frame MaxGap
// after the last one it got; every other sampled frame carries none, and
// specs without Change get every frame.
func TestChangeMakesImagesOfNewFrames(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "shots.mp4")
	// Three still shots of 3 s: bars, a dark grey, the bars again.
	args := []string{"-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "smptebars=size=320x240:rate=30:duration=3",
		"-f", "lavfi", "-i", "color=c=0x202020:size=320x240:rate=30:duration=3",
		"-f", "lavfi", "-i", "smptebars=size=320x240:rate=30:duration=3",
		"-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", path}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	every := FrameSpec{Width: 32, Height: 32, Format: Gray}
	tests := []struct {
		name string
		spec FrameSpec
		want []time.Duration // times of the frames with an image
	}{
		{"cuts", FrameSpec{Width: 32, Height: 32, Format: Gray, Change: 0.05}, []time.Duration{0, 3 * time.Second, 6 * time.Second}},
		{"cuts and gaps", FrameSpec{Width: 32, Height: 32, Format: Gray, Change: 0.05, MaxGap: 2 * time.Second},
			[]time.Duration{0, 2 * time.Second, 3 * time.Second, 5 * time.Second, 6 * time.Second, 8 * time.Second}},
	}
	for _, tt := range tests {
		m, err := File(t.Context(), path, Config{Frames: []FrameSpec{every, tt.spec}, NoAudio: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) != 9 {
			t.Fatalf("%s: %d frames sampled, want 9", tt.name, len(m.Frames))
		}
		var got []time.Duration
		for _, f := range m.Frames {
			if f.Images[0].Data == nil {
				t.Errorf("%s: no image of the spec without Change at %s", tt.name, f.T)
			}
			if f.Images[1].Data != nil {
				got = append(got, f.T)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: images at %v, want %v", tt.name, got, tt.want)
		}
	}
}
