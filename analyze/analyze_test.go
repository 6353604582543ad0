package analyze

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/viterin/vek/vek32"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
)

func newAnalyzer(t *testing.T) *Analyzer {
	t.Helper()
	return newAnalyzerWith(t, Config{})
}

// newAnalyzerWith is an analyzer of cfg with the speech, VAD and OCR
// models.
func newAnalyzerWith(t *testing.T, cfg Config) *Analyzer {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	set, err := encoders.LoadAll(encoders.DefaultModelsDir(), encoders.SessionConfig{}, encoders.OCRConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { set.Close() })
	a, err := New(cfg, Models{Speech: set.Speech, VAD: set.VAD, OCR: set.OCR})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func l2norm(v []float32) float64 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	return math.Sqrt(n)
}

func TestFileSegmentsAndPooling(t *testing.T) {
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	a := newAnalyzer(t)
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "a", Video: "testsrc2", Audio: "sine=frequency=700", Seconds: 5})
	res, err := a.Source(t.Context(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts := res.Count()
	// 5 frames at 1 fps; 5 s of audio in 2 s segments: 0–2, 2–4, 4–5;
	// text only from OCR of testsrc2's running clock, read on every other
	// frame.
	if counts[encoders.SpaceFrameDCT] != 5 || counts[encoders.SpaceAudioSpeech] != 3 || counts[encoders.SpaceTextLexical] > 3 {
		t.Fatalf("segments %v", counts)
	}
	next := map[string]int{}
	for _, s := range res.Segments {
		if s.Space == encoders.SpaceTextLexical {
			if s.Modality != "ocr" || !strings.Contains(s.Text, "00:00:0") {
				t.Errorf("text segment %+v: want OCR of the test pattern's clock", s)
			}
			continue
		}
		if s.Ordinal != next[s.Space] {
			t.Errorf("%s ordinal %d, want %d", s.Space, s.Ordinal, next[s.Space])
		}
		next[s.Space]++
		if s.End <= s.Start || s.End > 5100*time.Millisecond {
			t.Errorf("%s segment %d spans %s–%s", s.Space, s.Ordinal, s.Start, s.End)
		}
		wantDim := encoders.FrameDCTDim
		if s.Space == encoders.SpaceAudioPrint {
			wantDim = encoders.AudioPrintDim
		}
		if s.Space == encoders.SpaceAudioSpeech {
			wantDim = encoders.SpeechDim
			if s.Start != time.Duration(s.Ordinal)*2*time.Second {
				t.Errorf("audio segment %d starts at %s", s.Ordinal, s.Start)
			}
		}
		if len(s.Vector) != wantDim {
			t.Errorf("%s vector has %d dims", s.Space, len(s.Vector))
		}
	}
	for space, v := range res.Pooled {
		if math.Abs(l2norm(v)-1) > 1e-4 {
			t.Errorf("pooled %s has norm %f", space, l2norm(v))
		}
	}
	if len(res.Pooled) != 2 {
		t.Errorf("pooled spaces %d, want 2", len(res.Pooled))
	}

	only, err := a.Source(t.Context(), p, Options{Spaces: []string{encoders.SpaceFrameDCT}})
	if err != nil {
		t.Fatal(err)
	}
	if c := only.Count(); c[encoders.SpaceAudioSpeech] != 0 || c[encoders.SpaceFrameDCT] != 5 {
		t.Errorf("frame space only: %v", c)
	}
}

func TestFileRejectsUnknownSpace(t *testing.T) {
	a, err := New(Config{}, Models{})
	if err != nil {
		t.Fatal(err)
	}
	var me *encoders.Error
	if _, err := a.Source(t.Context(), "x.mp4", Options{Spaces: []string{"frame_clip_v9"}}); !errors.Is(err, ErrUnknownSpace) || errors.As(err, &me) {
		t.Errorf("unknown space: %v, want ErrUnknownSpace (a bad request, not a model failure)", err)
	}
	if _, err := a.Source(t.Context(), "x.mp4", Options{Spaces: []string{encoders.SpaceAudioSpeech}}); !errors.As(err, &me) {
		t.Errorf("audio without a loaded model: %v", err)
	}
}

// Text comes from the caller's title and the container's metadata, each a
// text segment; thumbnails keep the aspect ratio; a still image is a query
// of one frame.
func TestTextThumbnailsAndImages(t *testing.T) {
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	a := newAnalyzer(t)
	dir := t.TempDir()
	p := clips.MakeT(t, dir, clips.Spec{Name: "portrait", Video: "testsrc2", Seconds: 3, Width: 180, Height: 320, Title: "Sunset surfing"})
	res, err := a.Source(t.Context(), p, Options{Title: "#BeachDay", Thumbnails: true})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, s := range res.Segments {
		if s.Space == encoders.SpaceTextLexical && s.Modality == "text" {
			texts = append(texts, s.Text)
			if s.Sparse == nil || len(s.Sparse.Indices) == 0 || s.Vector != nil {
				t.Errorf("text segment %q has no sparse vector", s.Text)
			}
		}
	}
	if fmt.Sprint(texts) != "[#BeachDay Sunset surfing]" {
		t.Errorf("text segments %q", texts)
	}
	pooled := res.PooledSparse[encoders.SpaceTextLexical]
	beach := encoders.TextLexical{}.Embed("beach").Indices[0]
	surf := encoders.TextLexical{}.Embed("surfing").Indices[0]
	if !slices.Contains(pooled.Indices, beach) || !slices.Contains(pooled.Indices, surf) {
		t.Errorf("the video's text vector lacks a term: %v", pooled.Indices)
	}
	if len(res.Thumbs) != 3 {
		t.Fatalf("%d thumbnails, want one per sampled frame (3)", len(res.Thumbs))
	}
	img, err := jpeg.Decode(bytes.NewReader(res.Thumbs[1000]))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != ThumbWidth || b.Dy() != 342 {
		t.Errorf("thumbnail %dx%d, want %dx342 (9:16)", b.Dx(), b.Dy(), ThumbWidth)
	}

	png := filepath.Join(dir, "still.png")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", p, "-ss", "1", "-frames:v", "1", png).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	still, err := a.Reader(t.Context(), f, "still.png", Options{Spaces: []string{encoders.SpaceFrameDCT}})
	if err != nil {
		t.Fatal(err)
	}
	if c := still.Count(); c[encoders.SpaceFrameDCT] != 1 {
		t.Fatalf("a still image gave %v segments, want one frame", c)
	}
	var best float64
	for _, s := range res.Segments {
		if s.Space == encoders.SpaceFrameDCT {
			best = math.Max(best, float64(vek32.CosineSimilarity(s.Vector, still.Segments[0].Vector)))
		}
	}
	if best < 0.95 {
		t.Errorf("the still's best cosine to its video's frames is %.3f, want ≥ 0.95", best)
	}
}

// On-screen text becomes timed text segments (modality ocr), held text is
// read once, and each audio segment carries its share of speech.
func TestOnScreenTextAndSpeechShare(t *testing.T) {
	a := newAnalyzer(t)
	dir := t.TempDir()
	wav := filepath.Join(dir, "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Welcome back to the channel. Today we surf the biggest waves of the summer.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (run scripts/setup): %v: %s", err, out)
	}
	clip := filepath.Join(dir, "talk.mp4")
	font := clips.Font
	// 0–4 s: a caption; 4–8 s: another in the same place and style (a
	// whole-frame difference would call the frame unchanged); speech over
	// the first seconds, then silence.
	vf := "drawtext=fontfile=" + font + ":text='SUNSET SURFING':fontsize=40:fontcolor=white:x=(w-tw)/2:y=h/3:enable='lt(t,4)'," +
		"drawtext=fontfile=" + font + ":text='WINTER SKIING':fontsize=22:fontcolor=white:x=(w-tw)/2:y=h/3:enable='gte(t,4)'"
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x203040:size=640x360:rate=25", "-i", wav,
		"-filter_complex", "[1:a]apad[a]", "-map", "0:v", "-map", "[a]", "-vf", vf, "-t", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", clip)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	res, err := a.Source(t.Context(), clip, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ocr := ocrSegments(res)
	if len(ocr) != 2 {
		t.Fatalf("%d on-screen text segments %+v, want 2 (one per caption)", len(ocr), ocr)
	}
	if !strings.Contains(strings.ToLower(ocr[0].Text), "sunset surfing") || ocr[0].Start != 0 || ocr[0].End != 4*time.Second {
		t.Errorf("first caption: %q %s–%s, want SUNSET SURFING over 0–4 s", ocr[0].Text, ocr[0].Start, ocr[0].End)
	}
	if !strings.Contains(strings.ToLower(ocr[1].Text), "winter skiing") || ocr[1].Start != 4*time.Second {
		t.Errorf("second caption: %q from %s, want WINTER SKIING from 4 s", ocr[1].Text, ocr[1].Start)
	}
	if res.Timings["ocr"] <= 0 {
		t.Error("no OCR timing")
	}
	var first, last float32 = -1, -1
	for _, s := range res.Segments {
		if s.Space != encoders.SpaceAudioSpeech {
			continue
		}
		if s.Ordinal == 0 {
			first = s.Speech
		}
		last = s.Speech
	}
	if first < 0.5 || last > 0.2 {
		t.Errorf("speech share: first audio segment %.2f (spoken), last %.2f (silent)", first, last)
	}
}

// A caption that changes over a still background moves a few blocks of the
// frame a lot and the frame as a whole little: it must count as a change;
// sensor noise must not.
func TestChangedLooksAtBlocks(t *testing.T) {
	t.Parallel()
	const side = encoders.FrameDCTInput
	bg := make([]byte, side*side)
	for i := range bg {
		bg[i] = byte(100 + i%7)
	}
	caption := slices.Clone(bg)
	for y := 40; y < 44; y++ {
		for x := 24; x < 40; x++ {
			caption[y*side+x] = 200
		}
	}
	noisy := slices.Clone(bg)
	for i := range noisy {
		noisy[i] += byte(i % 2)
	}
	var total int
	for i := range bg {
		total += int(caption[i]) - int(bg[i])
	}
	if mean := float64(total) / float64(len(bg)); mean >= 2 {
		t.Fatalf("the fixture is too easy: whole-frame mean difference %.2f", mean)
	}
	if !changed(bg, caption) {
		t.Error("a new caption over a still background was not seen")
	}
	if changed(bg, noisy) || changed(bg, bg) {
		t.Error("noise or nothing counted as a change")
	}
}

// ocrSegments are a result's segments of on-screen text.
func ocrSegments(res *Result) []Segment {
	var out []Segment
	for _, s := range res.Segments {
		if s.Modality == "ocr" {
			out = append(out, s)
		}
	}
	return out
}

// ocrTexts are the texts of a result's segments of on-screen text.
func ocrTexts(res *Result) []string {
	var out []string
	for _, s := range ocrSegments(res) {
		out = append(out, s.Text)
	}
	return out
}
