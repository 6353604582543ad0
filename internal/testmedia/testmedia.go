// Package testmedia finds the real media the tests use: photographs,
// paintings and videos from Debian packages that scripts/setup installs or
// unpacks, and clips made of them. Nothing is in git.
package testmedia

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	// OpenCV is Debian's opencv-doc sample data: photos (messi5.jpg,
	// fruits.jpg, …), paintings (starry_night.jpg), calibration boards
	// and videos (vtest.avi, Megamind.avi).
	OpenCV = "/usr/share/doc/opencv-doc/examples/data"
	// Stamps is Debian's tuxpaint-stamps-default: cut-out photos and
	// drawings, one folder per category.
	Stamps = "/usr/share/tuxpaint/stamps"
)

// SKImage is the folder of scikit-image's sample photographs (astronaut,
// chelsea the cat, coffee, horse, motorcycles, …), unpacked by
// scripts/setup from Debian's python3-skimage.
func SKImage() string {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "mediavec", "media", "skimage")
}

// Path returns dir/name, failing the test with what to run when it is
// missing.
func Path(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v (run scripts/setup: it installs the tests' real media)", err)
	}
	return p
}

// ImageTextNWords is the text of opencv-doc's imageTextN.png, a scanned
// book page in about 12-pixel print, typed from the image.
const ImageTextNWords = `technical details are too complex to cover in the book itself.
In teaching our courses, we have found it useful for the students to attempt a number of
small implementation projects, which often build on one another, in order to get them used to
working with real-world images and the challenges that these present. The students are then
asked to choose an individual topic for each of their small-group, final projects. (Sometimes
these projects even turn into conference papers!) The exercises at the end of each chapter
contain numerous suggestions for smaller mid-term projects, as well as more open-ended
problems whose solutions are still active research topics. Wherever possible, I encourage
students to try their algorithms on their own personal photographs, since this better motivates
them, often leads to creative variants on the problems, and better acquaints them with the
variety and complexity of real-world imagery.
In formulating and solving computer vision problems, I have often found it useful to draw
inspiration from three high-level approaches:`

// StillClip makes a 3 s, 25 fps H.264 clip of a still image (one of the
// real images above), through the ffmpeg filters vf when given, padded
// white to even sides as H.264 needs: a page or a slide as an upload.
func StillClip(t testing.TB, dir, image, vf string) string {
	t.Helper()
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(image), filepath.Ext(image))+".mp4")
	pad := "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white"
	if vf != "" {
		pad = vf + "," + pad
	}
	if b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", image, "-t", "3", "-r", "25", "-vf", pad,
		"-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run scripts/setup: it installs the tests' real media): %v: %s", err, b)
	}
	return out
}
