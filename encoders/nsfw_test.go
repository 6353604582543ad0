package encoders

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mediavec/mediavec/decode"
)

// realImage decodes an opencv-doc image (or a video's frame at second t)
// to packed RGB at its own size.
func realImage(t testing.TB, name string, at float64) Image {
	t.Helper()
	p := filepath.Join(opencvData, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v (scripts/setup installs Debian's opencv-doc)", err)
	}
	ctx := context.Background()
	probe, err := decode.File(ctx, p, decode.Config{NoAudio: true, MaxFrames: 1})
	if err != nil {
		t.Fatal(err)
	}
	w, h := probe.Info.Width, probe.Info.Height
	cfg := decode.Config{NoAudio: true, Frames: []decode.FrameSpec{{Width: w, Height: h, Format: decode.RGB24}}}
	if at > 0 {
		cfg.Sampling = decode.Policy{Kind: decode.PolicyFPS, FPS: 1}
		cfg.MaxFrames = int(at) + 1
	} else {
		cfg.MaxFrames = 1
	}
	m, err := decode.File(ctx, p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Frames[len(m.Frames)-1]
	return Image{RGB: f.Images[0].Data, Width: w, Height: h}
}

func loadSafety(t testing.TB) *SafetyModel {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	m, err := LoadSafety(DefaultModelsDir(), SafetyConfig{}, SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// safetyImages are real photos, paintings and drawings from opencv-doc, at
// their own sizes (so the resize is exercised), and frames of its videos.
var safetyImages = []struct {
	name string
	at   float64 // a video's second; 0 for a still
}{
	{"messi5.jpg", 0}, {"fruits.jpg", 0}, {"building.jpg", 0}, {"home.jpg", 0}, {"starry_night.jpg", 0},
	{"baboon.jpg", 0}, {"apple.jpg", 0}, {"orange.jpg", 0}, {"butterfly.jpg", 0}, {"squirrel_cls.jpg", 0},
	{"smarties.png", 0}, {"chicky_512.png", 0}, {"Blender_Suzanne1.jpg", 0}, {"stuff.jpg", 0},
	{"vtest.avi", 5}, {"vtest.avi", 30}, {"Megamind.avi", 10},
}

func safetyName(i int) string {
	if safetyImages[i].at > 0 {
		return fmt.Sprintf("%s@%gs", safetyImages[i].name, safetyImages[i].at)
	}
	return safetyImages[i].name
}

// The converted model with mediavec's preprocessing gives nsfwjs's own
// classify() probabilities, under @tensorflow/tfjs, on the same pixels.
func TestSafetyMatchesNSFWJS(t *testing.T) {
	t.Parallel()
	m := loadSafety(t)
	dir := t.TempDir()
	var imgs []Image
	var specs []map[string]any
	for i, s := range safetyImages {
		im := realImage(t, s.name, s.at)
		imgs = append(imgs, im)
		p := filepath.Join(dir, fmt.Sprintf("%d.rgb", i))
		if err := os.WriteFile(p, im.RGB[:im.Width*im.Height*3], 0o644); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, map[string]any{"rgb": p, "width": im.Width, "height": im.Height})
	}
	var want []map[string]float64
	runNode(t, "nsfw_classify.js", &want, writeJSON(t, specs))
	got, err := m.Frames(t.Context(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range imgs {
		for c, name := range NSFWClasses {
			d := math.Abs(float64(got[i].Probs[c]) - want[i][name])
			worst = max(worst, d)
			if d > 1e-3 {
				t.Errorf("%s %s: %.5f, nsfwjs %.5f", safetyName(i), name, got[i].Probs[c], want[i][name])
			}
		}
		if len(got[i].Features) != MobileNetDim {
			t.Errorf("%s: %d features", safetyName(i), len(got[i].Features))
		}
	}
	t.Logf("%d real images, largest probability difference from nsfwjs %.2g", len(imgs), worst)
}

// Real photographs (streets with people, fruit, buildings, objects) come
// out Neutral; paintings and drawings, Drawing. The model calls some
// low-resolution photos Drawing too (messi5.jpg, basketball1.png,
// aero1.jpg, licenseplate_motion.jpg): nsfwjs itself does, and they are
// not listed here.
func TestSafetyClassesOnRealMedia(t *testing.T) {
	t.Parallel()
	m := loadSafety(t)
	for _, c := range []struct {
		name string
		at   float64
		want int
	}{
		{"vtest.avi", 5, ClassNeutral}, {"vtest.avi", 30, ClassNeutral}, {"vtest.avi", 60, ClassNeutral},
		{"building.jpg", 0, ClassNeutral}, {"home.jpg", 0, ClassNeutral}, {"fruits.jpg", 0, ClassNeutral},
		{"apple.jpg", 0, ClassNeutral}, {"orange.jpg", 0, ClassNeutral}, {"stuff.jpg", 0, ClassNeutral},
		{"smarties.png", 0, ClassNeutral}, {"squirrel_cls.jpg", 0, ClassNeutral},
		{"starry_night.jpg", 0, ClassDrawing}, {"chicky_512.png", 0, ClassDrawing}, {"Blender_Suzanne1.jpg", 0, ClassDrawing},
	} {
		res, err := m.Frames(t.Context(), []Image{realImage(t, c.name, c.at)})
		if err != nil {
			t.Fatal(err)
		}
		top := 0
		for k, p := range res[0].Probs {
			if p > res[0].Probs[top] {
				top = k
			}
		}
		if top != c.want {
			t.Errorf("%s@%gs: %s (%v), want %s", c.name, c.at, NSFWClasses[top], res[0].Probs, NSFWClasses[c.want])
		}
	}
}
