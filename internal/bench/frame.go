package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/mediavec/mediavec/internal/clips"
)

// TextFrame renders text on a dark background with the ffmpeg CLI's
// drawtext and returns the frame as packed RGB24.
func TextFrame(ctx context.Context, w, h int, text string) ([]byte, int, int, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "lavfi",
		"-i", "color=c=0x203040:size="+strconv.Itoa(w)+"x"+strconv.Itoa(h),
		"-vf", "drawtext=fontfile="+clips.Font+":text='"+text+"':fontsize=32:fontcolor=white:x=(w-tw)/2:y=(h-th)/2",
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, 0, 0, fmt.Errorf("render a text frame with ffmpeg: %w: %s", err, stderr.String())
	}
	if out.Len() != w*h*3 {
		return nil, 0, 0, fmt.Errorf("ffmpeg gave %d bytes for a %dx%d RGB frame", out.Len(), w, h)
	}
	return out.Bytes(), w, h, nil
}

// Photo512 is opencv-doc's messi5.jpg squeezed to 512×512 RGB24, the
// CenterNet benchmark's frame; nil when opencv-doc is not installed (the
// benchmark then uses a pattern).
func Photo512(ctx context.Context) []byte {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", "/usr/share/doc/opencv-doc/examples/data/messi5.jpg",
		"-vf", "scale=512:512", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	out, err := cmd.Output()
	if err != nil || len(out) != 512*512*3 {
		return nil
	}
	return out
}
