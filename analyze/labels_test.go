package analyze

import (
	"slices"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/testmedia"
)

// labelCases are real media with the COCO objects a person sees in them:
// a video-level label is right when it is one of these. An empty set is
// media with no COCO object (a painting, a circuit board, shapes).
var labelCases = []struct {
	dir, name string
	sees      []string
}{
	{testmedia.OpenCV, "vtest.avi", []string{"person", "car", "truck", "backpack", "handbag"}},
	// The tables' glass candle holders are tumblers: COCO's cup.
	{testmedia.OpenCV, "Megamind.avi", []string{"person", "wine glass", "cup", "dining table", "chair"}},
	{testmedia.OpenCV, "Megamind_bugy.avi", []string{"person", "wine glass", "cup", "dining table", "chair"}},
	{testmedia.OpenCV, "messi5.jpg", []string{"person", "sports ball"}},
	{testmedia.OpenCV, "basketball1.png", []string{"person", "sports ball"}},
	{testmedia.OpenCV, "basketball2.png", []string{"person", "sports ball"}},
	{testmedia.OpenCV, "fruits.jpg", []string{"apple", "orange", "banana"}},
	{testmedia.OpenCV, "home.jpg", []string{"bird"}},
	{testmedia.OpenCV, "building.jpg", []string{"car", "potted plant"}},
	{testmedia.OpenCV, "licenseplate_motion.jpg", []string{"car"}},
	{testmedia.OpenCV, "stuff.jpg", []string{"sports ball", "dining table"}},
	{testmedia.OpenCV, "aloeL.jpg", []string{"potted plant", "vase"}},
	{testmedia.OpenCV, "aero1.jpg", nil},
	{testmedia.OpenCV, "smarties.png", nil},
	{testmedia.OpenCV, "starry_night.jpg", nil},
	{testmedia.OpenCV, "board.jpg", nil},
	{testmedia.OpenCV, "pic1.png", nil},
	{testmedia.OpenCV, "blox.jpg", nil},
	{testmedia.OpenCV, "left01.jpg", nil},
	{testmedia.OpenCV, "butterfly.jpg", nil},
	{"", "astronaut.png", []string{"person"}},
	{"", "camera.png", []string{"person"}},
	{"", "chelsea.png", []string{"cat"}},
	{"", "coffee.png", []string{"cup", "dining table"}},
	{"", "horse.png", []string{"horse"}},
	{"", "motorcycle_left.png", []string{"motorcycle"}},
	{"", "motorcycle_right.png", []string{"motorcycle"}},
	{"", "clock_motion.png", []string{"clock"}},
	{"", "retina.jpg", nil},
	{"", "rocket.jpg", nil},
	{"", "moon.png", nil},
	{"", "coins.png", nil},
}

// Video-level labels are believable: on real media (opencv-doc's and
// scikit-image's), at least nine in ten of the labels kept name an
// object a person sees there; generated test patterns get none.
func TestLabelsBelievable(t *testing.T) {
	a, err := New(Config{}, Models{CenterNet: loadSafetyModels(t).CenterNet})
	if err != nil {
		t.Fatal(err)
	}
	labelsOf := func(path string) []string {
		t.Helper()
		res, err := a.Source(t.Context(), path, Options{Spaces: []string{encoders.SpaceFrameCenterNet}})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// The frame segments and the timed text carry only the summary's
		// labels.
		for _, s := range res.Segments {
			for _, l := range s.Labels {
				if !slices.ContainsFunc(res.Objects, func(o ObjectCount) bool { return o.Label == l }) {
					t.Errorf("%s: frame label %q is not in the video's summary", path, l)
				}
			}
		}
		return Labels(res.Objects)
	}

	right, kept, seen, expected := 0, 0, 0, 0
	var wrong []string
	for _, c := range labelCases {
		dir := c.dir
		if dir == "" {
			dir = testmedia.SKImage()
		}
		got := labelsOf(testmedia.Path(t, dir, c.name))
		for _, l := range got {
			kept++
			if slices.Contains(c.sees, l) {
				right++
			} else {
				wrong = append(wrong, c.name+": "+l)
			}
		}
		for _, l := range c.sees {
			expected++
			if slices.Contains(got, l) {
				seen++
			}
		}
		t.Logf("%-24s %v", c.name, got)
	}
	precision := float64(right) / float64(max(kept, 1))
	t.Logf("video-level labels: precision %.3f (%d of %d), recall %.3f (%d of %d); wrong: %s",
		precision, right, kept, float64(seen)/float64(expected), seen, expected, strings.Join(wrong, ", "))
	if precision < 0.9 || kept < 8 {
		t.Errorf("precision %.3f over %d labels, want at least 0.9 over at least 8", precision, kept)
	}

	dir := t.TempDir()
	patterns := append(clips.Standard(),
		clips.Spec{Name: "rgbtest", Video: "rgbtestsrc", Seconds: 4},
		clips.Spec{Name: "gradients", Video: "gradients=speed=0.05", Seconds: 6},
		clips.Spec{Name: "colorspectrum", Video: "colorspectrum", Seconds: 4},
		clips.Spec{Name: "testsrc", Video: "testsrc", Seconds: 4},
		clips.Spec{Name: "yuvtest", Video: "yuvtestsrc", Seconds: 4},
		clips.Spec{Name: "pal100bars", Video: "pal100bars", Seconds: 4},
	)
	for _, s := range patterns {
		if got := labelsOf(clips.MakeT(t, dir, s)); len(got) > 0 {
			t.Errorf("generated pattern %s (%s) labelled %v", s.Name, s.Video, got)
		}
	}
}

func TestLabelRule(t *testing.T) {
	r := labelRule{minScore: 0.25, sure: 0.5, meanScore: 0.4, minFrames: 2}
	for _, tc := range []struct {
		seen   []float32
		frames int
		want   bool
	}{
		{[]float32{0.6}, 1, true},              // a still, sure
		{[]float32{0.45}, 1, false},            // a still, not sure
		{[]float32{0.9}, 10, false},            // one frame of ten
		{[]float32{0.55, 0.45, 0.5}, 10, true}, // a few sure frames
		{[]float32{0.55, 0.3, 0.3, 0.3}, 4, false},
		{[]float32{0.45, 0.45, 0.45}, 3, false}, // never even odds
	} {
		if got := r.believable(tc.seen, tc.frames); got != tc.want {
			t.Errorf("%v of %d frames: %v, want %v", tc.seen, tc.frames, got, tc.want)
		}
	}
}
