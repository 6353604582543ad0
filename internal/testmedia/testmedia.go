// Package testmedia finds the real media the tests use: photographs,
// paintings and videos from Debian packages that scripts/setup installs or
// unpacks. Nothing here is generated and nothing is in git.
package testmedia

import (
	"os"
	"path/filepath"
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
