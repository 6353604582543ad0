package encoders

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/tfjs"
)

// Real media that no one here made: Debian's opencv-doc examples.
const opencvData = "/usr/share/doc/opencv-doc/examples/data"

func loadCenterNet(t testing.TB, cc CenterNetConfig) *CenterNet {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	c, err := LoadCenterNet(DefaultModelsDir(), cc, SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// frames512 decodes a video or image into CenterNet's input frames, as the
// analyzer asks decode for them.
func frames512(t testing.TB, path string, maxFrames int) []Image {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (scripts/setup installs Debian's opencv-doc)", err)
	}
	m, err := decode.File(context.Background(), path, decode.Config{
		Frames:  []decode.FrameSpec{{Width: CenterNetInput, Height: CenterNetInput, Format: decode.RGB24}},
		NoAudio: true, MaxFrames: maxFrames,
	})
	if err != nil {
		t.Fatal(err)
	}
	imgs := make([]Image, len(m.Frames))
	for i, f := range m.Frames {
		imgs[i] = Image{RGB: f.Images[0].Data, Width: CenterNetInput, Height: CenterNetInput}
	}
	if len(imgs) == 0 {
		t.Fatalf("%s: no frames", path)
	}
	return imgs
}

func labelsOf(dets []Detection, minScore float32) []string {
	var out []string
	for _, d := range dets {
		if d.Score >= minScore && !slices.Contains(out, d.Label) {
			out = append(out, d.Label)
		}
	}
	slices.Sort(out)
	return out
}

// TestCenterNetDecodeMatchesGraph: the shipped model stops before the TF.js
// graph's own decoding (which assumes a batch of one) and DecodeCenterNet
// redoes it in Go. On a real photo both must give the same detections: the
// whole graph, converted as it is, is run beside the shipped model.
func TestCenterNetDecodeMatchesGraph(t *testing.T) {
	c := loadCenterNet(t, CenterNetConfig{MinScore: 0.05, IoU: 1.1, MaxDetections: 100}) // no suppression
	src := filepath.Join(DefaultModelsDir(), "tfjs", "centernet.json")
	m, err := tfjs.Load(src)
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	res, err := tfjs.Convert(m, tfjs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(t.TempDir(), "full.onnx")
	if err := res.Model.WriteFile(full); err != nil {
		t.Fatal(err)
	}
	img := frames512(t, filepath.Join(opencvData, "messi5.jpg"), 1)[0]
	got, err := c.Run([]Image{img})
	if err != nil {
		t.Fatal(err)
	}

	sess, err := ort.NewDynamicAdvancedSession(full, []string{centerNetImages}, []string{"tower_0/detections"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	x := make([]float32, len(img.RGB))
	for i, b := range img.RGB {
		x[i] = float32(b)
	}
	in, err := ort.NewTensor(ort.NewShape(1, CenterNetInput, CenterNetInput, 3), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	graph := outs[0].(*ort.Tensor[float32]).GetData()

	var want []Detection
	for i := 0; i < centerNetTopK; i++ {
		r := graph[6*i : 6*i+6]
		if r[4] < 0.05 {
			continue
		}
		want = append(want, Detection{Class: int(r[5]), Score: r[4], Box: [4]float32{r[0] / 512, r[1] / 512, r[2] / 512, r[3] / 512}})
	}
	dets := got[0].Detections
	if len(dets) != len(want) || len(want) < 5 {
		t.Fatalf("Go decoding: %d detections ≥ 0.05, the graph's: %d", len(dets), len(want))
	}
	for i, w := range want {
		g := dets[i]
		if g.Class != w.Class || math.Abs(float64(g.Score-w.Score)) > 1e-5 {
			t.Errorf("detection %d: %s %.5f, graph %s %.5f", i, g.Label, g.Score, COCOLabels[w.Class], w.Score)
		}
		for k := range 4 {
			clamped := float32(math.Min(1, math.Max(0, float64(w.Box[k]))))
			if math.Abs(float64(g.Box[k]-clamped))*512 > 0.01 {
				t.Errorf("detection %d: box %v, graph %v", i, g.Box, w.Box)
				break
			}
		}
	}
}

func TestDecodeCenterNet(t *testing.T) {
	const n, k = centerNetGrid, centerNetClasses
	kp := make([]float32, n*n*k)
	wh := make([]float32, n*n*4)
	set := func(y, x, cls int, v float32) { kp[(y*n+x)*k+cls] = v }
	set(10, 20, 0, 0.9)  // a person peak
	set(10, 21, 0, 0.5)  // its neighbour: not a peak
	set(10, 21, 16, 0.6) // a dog at the neighbouring cell: another class, a peak
	set(100, 5, 32, 0.3) // a ball
	set(50, 50, 2, 0.1)  // below the threshold
	for i, v := range []float32{8, 4, 12, 16} {
		wh[(10*n+20)*4+i] = v
	}
	dets := DecodeCenterNet(kp, wh, 0.2)
	if len(dets) != 3 {
		t.Fatalf("%d detections, want 3: %+v", len(dets), dets)
	}
	want := []struct {
		label string
		score float32
	}{{"person", 0.9}, {"dog", 0.6}, {"sports ball", 0.3}}
	for i, w := range want {
		if dets[i].Label != w.label || dets[i].Score != w.score {
			t.Errorf("detection %d: %s %.2f, want %s %.2f", i, dets[i].Label, dets[i].Score, w.label, w.score)
		}
	}
	// Cell (x=20, y=10) on the stride-4 grid is (80, 40) in input pixels.
	wantBox := [4]float32{(80 - 8) / 512.0, (40 - 4) / 512.0, (80 + 12) / 512.0, (40 + 16) / 512.0}
	if dets[0].Box != wantBox {
		t.Errorf("person box %v, want %v", dets[0].Box, wantBox)
	}
}

func TestSuppress(t *testing.T) {
	dets := []Detection{
		{Label: "person", Score: 0.9, Box: [4]float32{0.1, 0.1, 0.5, 0.9}},
		{Label: "person", Score: 0.8, Box: [4]float32{0.12, 0.1, 0.52, 0.9}}, // the same person: goes
		{Label: "sports ball", Score: 0.7, Box: [4]float32{0.6, 0.7, 0.7, 0.8}},
		{Label: "person", Score: 0.6, Box: [4]float32{-0.1, 0.2, 0.1, 1.2}}, // at the edge: clamped
	}
	got := suppress(dets, 0.4, 10)
	if len(got) != 3 || got[1].Label != "sports ball" {
		t.Fatalf("kept %+v", got)
	}
	if got[2].Box != [4]float32{0, 0.2, 0.1, 1} {
		t.Errorf("edge box %v, want it clamped", got[2].Box)
	}
	if got := suppress(dets, 0.4, 1); len(got) != 1 {
		t.Errorf("max 1 kept %d", len(got))
	}
}

// TestCenterNetBatchIsSeamless: frames give the same results alone and in
// a batch with others.
func TestCenterNetBatchIsSeamless(t *testing.T) {
	c := loadCenterNet(t, CenterNetConfig{MaxBatch: 4}) // as on a GPU
	imgs := append(frames512(t, filepath.Join(opencvData, "messi5.jpg"), 1), frames512(t, filepath.Join(opencvData, "fruits.jpg"), 1)...)
	imgs = append(imgs, frames512(t, filepath.Join(opencvData, "vtest.avi"), 2)...)
	batch, err := c.Frames(t.Context(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		one, err := c.Run([]Image{img})
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0].Detections) != len(batch[i].Detections) {
			t.Fatalf("frame %d: %d detections alone, %d in a batch", i, len(one[0].Detections), len(batch[i].Detections))
		}
		for j, d := range one[0].Detections {
			b := batch[i].Detections[j]
			if d.Class != b.Class || math.Abs(float64(d.Score-b.Score)) > 1e-4 {
				t.Errorf("frame %d detection %d: %s %.4f alone, %s %.4f batched", i, j, d.Label, d.Score, b.Label, b.Score)
			}
		}
		if s := cosine(one[0].Embedding, batch[i].Embedding); s < 0.99999 {
			t.Errorf("frame %d: embedding alone and batched differ (cosine %.6f)", i, s)
		}
	}
}

// TestCenterNetSemantics checks what the model sees in real photos and
// video: people and a ball in messi5.jpg, fruit in fruits.jpg, people
// walking through vtest.avi; and that its embedding puts two moments of
// vtest.avi closer to each other than to fruit or a test pattern.
func TestCenterNetSemantics(t *testing.T) {
	c := loadCenterNet(t, CenterNetConfig{})
	const labelScore = 0.25 // analyze's default LabelMinScore

	messi := frames512(t, filepath.Join(opencvData, "messi5.jpg"), 1)
	fruits := frames512(t, filepath.Join(opencvData, "fruits.jpg"), 1)
	res, err := c.Frames(t.Context(), append(slices.Clone(messi), fruits...))
	if err != nil {
		t.Fatal(err)
	}
	ml, fl := labelsOf(res[0].Detections, labelScore), labelsOf(res[1].Detections, labelScore)
	t.Logf("messi5.jpg: %v; fruits.jpg: %v", ml, fl)
	for _, want := range []string{"person", "sports ball"} {
		if !slices.Contains(ml, want) {
			t.Errorf("messi5.jpg: no %q in %v", want, ml)
		}
	}
	fruit := 0
	for _, f := range []string{"apple", "orange", "banana"} {
		if slices.Contains(fl, f) {
			fruit++
		}
	}
	if fruit < 2 {
		t.Errorf("fruits.jpg: %v holds fewer than two of apple, orange, banana", fl)
	}

	// vtest.avi at one frame a second, as the analyzer samples it.
	video := frames512(t, filepath.Join(opencvData, "vtest.avi"), 1000)
	vres, err := c.Frames(t.Context(), video)
	if err != nil {
		t.Fatal(err)
	}
	withPerson := 0
	for _, r := range vres {
		if slices.Contains(labelsOf(r.Detections, labelScore), "person") {
			withPerson++
		}
	}
	share := float64(withPerson) / float64(len(vres))
	t.Logf("vtest.avi: person in %d of %d sampled frames (%.0f%%)", withPerson, len(vres), 100*share)
	if len(vres) < 60 || share < 0.8 {
		t.Errorf("vtest.avi: person in %.0f%% of %d frames, want ≥ 80%%", 100*share, len(vres))
	}

	dir := t.TempDir()
	pattern := frames512(t, clips.MakeT(t, dir, clips.Spec{Name: "bars", Video: "smptehdbars", Seconds: 1}), 1)
	testsrc := frames512(t, clips.MakeT(t, dir, clips.Spec{Name: "testsrc", Video: "testsrc2", Seconds: 1}), 1)
	others, err := c.Frames(t.Context(), append(append(slices.Clone(fruits), pattern...), testsrc...))
	if err != nil {
		t.Fatal(err)
	}
	a, b := vres[10].Embedding, vres[len(vres)-10].Embedding
	same := cosine(a, b)
	for i, name := range []string{"fruits.jpg", "smptehdbars", "testsrc2"} {
		for _, v := range [][]float32{a, b} {
			if s := cosine(v, others[i].Embedding); s >= same {
				t.Errorf("a vtest.avi frame is as close to %s (%.3f) as to another vtest.avi frame (%.3f)", name, s, same)
			}
		}
		t.Logf("cosine: vtest–vtest %.3f, vtest–%s %.3f / %.3f", same, name, cosine(a, others[i].Embedding), cosine(b, others[i].Embedding))
	}
}
