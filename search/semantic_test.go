package search

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/testmedia"
)

// sentenceHarness is a harness whose analyzer embeds text by meaning
// (text_use_v1) beside the lexical space, with the models also asks for:
// CenterNet's labels, on-screen text.
func sentenceHarness(t *testing.T, also ...model) *harness {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
	}
	enc, err := encoders.LoadSentenceEncoder(encoders.DefaultModelsDir(), encoders.SessionConfig{})
	must(err)
	t.Cleanup(func() { enc.Close() })
	m := analyze.Models{Sentences: enc}
	for _, x := range also {
		switch x {
		case objects:
			c, err := encoders.LoadCenterNet(encoders.DefaultModelsDir(), encoders.CenterNetConfig{}, encoders.SessionConfig{})
			must(err)
			t.Cleanup(func() { c.Close() })
			m.CenterNet = c
		case onScreenText:
			o, err := encoders.LoadOCR(encoders.DefaultModelsDir(), encoders.OCRConfig{}, encoders.SessionConfig{})
			must(err)
			t.Cleanup(func() { o.Close() })
			m.OCR = o
		}
	}
	a, err := analyze.New(analyze.Config{}, m)
	if err != nil {
		t.Fatal(err)
	}
	return harnessWith(t, a)
}

// model is a model a sentenceHarness loads beside the sentence encoder.
type model int

const (
	objects      model = iota // CenterNet: object labels
	onScreenText              // OCR
)

type paraphraseSet struct {
	Pairs []struct {
		Title string `json:"title"`
		Query string `json:"query"`
	} `json:"pairs"`
	Distractors []string `json:"distractors"`
}

// TestTextSearchByMeaning: videos titled one way are found by queries that
// say the same thing in other words (testdata/paraphrases.json: 40 pairs
// sharing no content word, and 40 distractor titles). Recall@1 of a text
// search, which fuses text_use_v1 with text_lexical_v1, must be at least
// 0.85; the lexical space alone finds at most 0.2 of them.
func TestTextSearchByMeaning(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "paraphrases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set paraphraseSet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Pairs) < 40 || len(set.Distractors) < 40 {
		t.Fatalf("%d pairs and %d distractors, want at least 40 of each", len(set.Pairs), len(set.Distractors))
	}
	for _, p := range set.Pairs {
		for _, w := range encoders.Tokens(p.Query) {
			if slices.Contains(encoders.Tokens(p.Title), w) && !functionWords[w] {
				t.Fatalf("query %q shares the content word %q with its title %q", p.Query, w, p.Title)
			}
		}
	}
	h := sentenceHarness(t)
	clip := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "still", Video: "color=c=0x405060", Seconds: 1})
	spaces := []string{encoders.SpaceTextLexical, encoders.SpaceTextUSE}
	for i, p := range set.Pairs {
		h.Add(fmt.Sprintf("v%02d", i), clip, p.Title, spaces...)
	}
	for i, d := range set.Distractors {
		h.Add(fmt.Sprintf("d%02d", i), clip, d, spaces...)
	}
	recall := func(opts Options) (float64, []string) {
		hits := 0
		var misses []string
		for i, p := range set.Pairs {
			resp, err := h.searcher.Text(t.Context(), p.Query, opts)
			if err != nil && opts.Spaces == nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("v%02d", i)
			if err == nil && len(resp.Results) > 0 && resp.Results[0].VideoID == want {
				hits++
				continue
			}
			got := "nothing"
			if err == nil && len(resp.Results) > 0 {
				got = resp.Results[0].VideoID
			}
			misses = append(misses, fmt.Sprintf("%q → %s, want %q", p.Query, got, p.Title))
		}
		return float64(hits) / float64(len(set.Pairs)), misses
	}
	fused, misses := recall(Options{})
	semantic, _ := recall(Options{Spaces: []string{encoders.SpaceTextUSE}})
	lexical, _ := recall(Options{Spaces: []string{encoders.SpaceTextLexical}})
	t.Logf("recall@1 over %d paraphrases and %d distractors: text search %.3f, text_use_v1 alone %.3f, text_lexical_v1 alone %.3f",
		len(set.Pairs), len(set.Distractors), fused, semantic, lexical)
	for _, m := range misses {
		t.Logf("miss: %s", m)
	}
	if fused < 0.85 {
		t.Errorf("text search recall@1 %.3f, want at least 0.85", fused)
	}
	if lexical > 0.2 {
		t.Errorf("the lexical space alone reaches recall@1 %.3f: the set is not a paraphrase test", lexical)
	}
}

// TestLabelSynonyms: a query made only of a synonym of an object finds the
// real media (Debian's opencv-doc and scikit-image photos) whose labels
// hold the object, through the label text embedded by meaning. Only
// believable labels are kept (see analyze.Config.LabelSure), so the media
// are those where the detector is sure of the object: a person, a ball, a
// horse, a motorcycle, birds. Single-word synonyms are hard for a
// sentence encoder; the misses are printed, not hidden, and at least half
// must find their medium first.
func TestLabelSynonyms(t *testing.T) {
	h := sentenceHarness(t, objects)
	spaces := []string{encoders.SpaceTextLexical, encoders.SpaceTextUSE}
	media := []struct{ dir, name string }{
		{testmedia.OpenCV, "messi5.jpg"}, {testmedia.OpenCV, "home.jpg"}, {testmedia.OpenCV, "vtest.avi"},
		{testmedia.OpenCV, "fruits.jpg"}, {testmedia.OpenCV, "starry_night.jpg"}, {testmedia.OpenCV, "pic1.png"},
		{testmedia.SKImage(), "horse.png"}, {testmedia.SKImage(), "motorcycle_right.png"}, {testmedia.SKImage(), "coffee.png"},
	}
	for _, m := range media {
		h.Add(m.name, testmedia.Path(t, m.dir, m.name), "", spaces...)
	}
	dir := t.TempDir()
	for _, s := range clips.Standard()[:3] {
		h.Add(s.Name, clips.MakeT(t, dir, s), "", spaces...)
	}
	cases := []struct{ query, label string }{
		{"football", "sports ball"},
		{"pedestrian", "person"},
		{"pony", "horse"},
		{"motorbike", "motorcycle"},
		{"pigeons", "bird"},
		{"stallion", "horse"},
	}
	found := 0
	for _, c := range cases {
		for _, w := range encoders.Tokens(c.query) {
			if slices.Contains(encoders.Tokens(c.label), w) {
				t.Fatalf("%q shares %q with the label %q", c.query, w, c.label)
			}
		}
		resp, err := h.searcher.Text(t.Context(), c.query, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range resp.Results {
			got = append(got, fmt.Sprintf("%s%v", r.VideoID, r.Labels))
		}
		if len(resp.Results) > 0 && slices.Contains(resp.Results[0].Labels, c.label) {
			found++
			t.Logf("%q → %s", c.query, got[0])
			continue
		}
		t.Logf("miss: %q → %v, want first a medium labelled %q", c.query, got[:min(3, len(got))], c.label)
	}
	t.Logf("%d of %d synonyms found the medium labelled with their object first", found, len(cases))
	if 2*found < len(cases) {
		t.Errorf("%d of %d synonyms found their medium first, want at least half", found, len(cases))
	}
}
