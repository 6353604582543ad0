package analyze

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/viterin/vek/vek32"

	"github.com/mediavec/mediavec/encoders"
)

var allCategories = flag.Bool("categories.all", false, "TestFrameSpaceCategories: every image of every category, not a slice")

// Debian's real media: tuxpaint-stamps-default's photos and drawings, one
// folder per category, and opencv-doc's calibration boards.
const (
	stampsDir  = "/usr/share/tuxpaint/stamps"
	opencvData = "/usr/share/doc/opencv-doc/examples/data"
)

// frameCategories are the categories of the test: stamp folders (every
// image below them) and opencv-doc's chessboard views.
var frameCategories = []struct {
	name string
	dir  string // under stampsDir; empty for the chessboards
}{
	{"mammals", "animals/mammals"},
	{"birds", "animals/birds"},
	{"insects", "animals/insects"},
	{"fish", "animals/fish"},
	{"fruit", "food/fruit"},
	{"vegetables", "food/vegetables"},
	{"flowers", "plants/flowers"},
	{"chessboards", ""},
}

// categoryImages lists each category's images, sorted; with perCategory > 0
// it keeps that many, spread evenly over the sorted list.
func categoryImages(t *testing.T, perCategory int) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range frameCategories {
		var files []string
		if c.dir == "" {
			for i := 1; i <= 14; i++ {
				p := filepath.Join(opencvData, fmt.Sprintf("left%02d.jpg", i))
				if _, err := os.Stat(p); err == nil {
					files = append(files, p)
				}
			}
		} else {
			root := filepath.Join(stampsDir, c.dir)
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && strings.HasSuffix(p, ".png") && !strings.Contains(p, "_thumb") {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%v (scripts/setup installs Debian's tuxpaint-stamps-default)", err)
			}
		}
		sort.Strings(files)
		if perCategory > 0 && len(files) > perCategory {
			kept := make([]string, perCategory)
			for i := range kept {
				kept[i] = files[i*len(files)/perCategory]
			}
			files = kept
		}
		if len(files) < 6 {
			t.Fatalf("category %s: %d images, want at least 6", c.name, len(files))
		}
		out[c.name] = files
	}
	return out
}

// flatten writes a stamp (a cut-out with transparency) over white, as it
// would be seen in a frame; other images are used as they are.
func flatten(t *testing.T, src, dir string) string {
	t.Helper()
	if !strings.HasSuffix(src, ".png") {
		return src
	}
	dst := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(src, stampsDir+"/"), "/", "_"))
	cmd := exec.Command("ffmpeg", "-loglevel", "error", "-y", "-i", src, "-filter_complex",
		"[0]format=rgba,split[a][b];[a]drawbox=c=white@1:t=fill,format=rgb24[w];[w][b]overlay=format=auto,format=rgb24",
		"-frames:v", "1", dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flatten %s: %v\n%s", src, err, out)
	}
	return dst
}

// precisionAt is the mean, over every image, of the share of its k nearest
// other images (cosine) that are of its category.
func precisionAt(k int, vecs [][]float32, cats []string) (mean float64, perCat map[string]float64) {
	perCat = map[string]float64{}
	counts := map[string]int{}
	for i, q := range vecs {
		type hit struct {
			j   int
			sim float32
		}
		var hits []hit
		for j, v := range vecs {
			if j != i {
				hits = append(hits, hit{j, vek32.Dot(q, v)})
			}
		}
		slices.SortStableFunc(hits, func(a, b hit) int {
			switch {
			case a.sim > b.sim:
				return -1
			case a.sim < b.sim:
				return 1
			}
			return 0
		})
		same := 0
		for _, h := range hits[:k] {
			if cats[h.j] == cats[i] {
				same++
			}
		}
		p := float64(same) / float64(k)
		mean += p
		perCat[cats[i]] += p
		counts[cats[i]]++
	}
	for c, n := range counts {
		perCat[c] /= float64(n)
	}
	return mean / float64(len(vecs)), perCat
}

// The two candidate frame embeddings — CenterNet's (frame_centernet_v1) and
// nsfwjs's MobileNetV2 pooled features (frame_mobilenet_v1) — on the same
// real images, as the analyzer embeds a frame: retrieval of the same
// category, precision@5. Only the one that retrieves better is a default
// space; the other is embedded when asked for. Run with -categories.all
// for every image (the figures in docs/models.md).
func TestFrameSpaceCategories(t *testing.T) {
	if testing.Short() {
		t.Skip("embeds a hundred real images in two models")
	}
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	sc := encoders.SessionConfig{}
	cn, err := encoders.LoadCenterNet(encoders.DefaultModelsDir(), encoders.CenterNetConfig{}, sc)
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	defer cn.Close()
	sm, err := encoders.LoadSafety(encoders.DefaultModelsDir(), encoders.SafetyConfig{}, sc)
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	defer sm.Close()
	a, err := New(Config{}, Models{CenterNet: cn, Safety: sm})
	if err != nil {
		t.Fatal(err)
	}

	per := 14
	if *allCategories {
		per = 0
	}
	images := categoryImages(t, per)
	spaces := []string{encoders.SpaceFrameCenterNet, encoders.SpaceFrameMobileNet}
	vecs := map[string][][]float32{}
	var cats []string
	dir := t.TempDir()
	for _, c := range frameCategories {
		for _, src := range images[c.name] {
			res, err := a.Source(context.Background(), flatten(t, src, dir), Options{Spaces: spaces})
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			for _, s := range spaces {
				if len(res.Pooled[s]) == 0 {
					t.Fatalf("%s: no %s vector", src, s)
				}
				vecs[s] = append(vecs[s], res.Pooled[s])
			}
			cats = append(cats, c.name)
		}
	}

	const k = 5
	p := map[string]float64{}
	for _, s := range spaces {
		mean, perCat := precisionAt(k, vecs[s], cats)
		p[s] = mean
		var parts []string
		for _, c := range frameCategories {
			parts = append(parts, fmt.Sprintf("%s %.2f", c.name, perCat[c.name]))
		}
		t.Logf("%s: precision@%d %.3f over %d images (%s)", s, k, mean, len(cats), strings.Join(parts, ", "))
	}
	winner, loser := spaces[0], spaces[1]
	if p[loser] > p[winner] {
		winner, loser = loser, winner
	}
	defaults := a.Defaults()
	if !slices.Contains(defaults, winner) || slices.Contains(defaults, loser) {
		t.Errorf("%s retrieves the category better (%.3f against %.3f), but the default spaces are %v", winner, p[winner], p[loser], defaults)
	}
	// Chance is about one in len(frameCategories).
	if chance := 1 / float64(len(frameCategories)); p[winner] < 3*chance {
		t.Errorf("%s: precision@%d %.3f, not three times chance (%.3f)", winner, k, p[winner], chance)
	}
}
