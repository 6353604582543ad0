package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/realclips"
	"github.com/mediavec/mediavec/internal/searchtest"
	"github.com/mediavec/mediavec/search"
)

// artifactsDir is where browser tests keep their screenshots: the
// MEDIAVEC_ARTIFACTS folder, or artifacts/ at the repository root. The
// README's screenshots are TestSearchPageOnRealMedia's.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("MEDIAVEC_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser drives headless Chromium on one page.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is needed for the search page tests: run scripts/setup")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return &browser{t: t, ctx: ctx}
}

func (b *browser) step(what string, a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, a); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) eval(what, js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) evalBool(what, js string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitStatus waits until the status line contains want.
func (b *browser) waitStatus(what, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`document.querySelector("#status").textContent.includes(%q) || document.querySelector("#status").className == "error"`, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(40*time.Second))); err != nil {
		b.t.Fatalf("%s never finished (status %q): %v", what, b.eval("status", `document.querySelector("#status").textContent`), err)
	}
	if st := b.eval("status", `document.querySelector("#status").className + ": " + document.querySelector("#status").textContent`); strings.HasPrefix(st, "error") {
		b.t.Fatalf("%s: the page reports %s", what, st)
	}
}

// thumbsLoaded waits until at least one result thumbnail has pixels.
func (b *browser) thumbsLoaded() int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Poll[int](
		`Array.from(document.querySelectorAll("li.result img")).filter(i => i.complete && i.naturalWidth > 0).length`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		b.t.Errorf("no thumbnail loaded: %v", err)
	}
	return n
}

func (b *browser) results() string {
	return b.eval("results", `Array.from(document.querySelectorAll("li.result")).map(li => li.dataset.videoId + (li.classList.contains("unsafe") ? "!" : "")).join(",")`)
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(artifactsDir(b.t), name)
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
}

// fitsWidth says the page does not scroll sideways: everything wraps
// into the window.
func (b *browser) fitsWidth() bool {
	return b.evalBool("width", `document.documentElement.scrollWidth <= window.innerWidth`)
}

// TestSearchPageInChromium drives the search page in headless Chromium:
// an image uploaded through the page and words typed into it each show the
// expected video first, with thumbnails of the matched moments; more like
// this on unrelated clips says there is no close match; safe search.
func TestSearchPageInChromium(t *testing.T) {
	f := newAPIFixture(t)
	srv := f.serve(t, "", 0)
	b := newBrowser(t, 1280, 900)

	// An image uploaded through the page: its own thumbnail shows, then
	// the results.
	b.step("open the page", chromedp.Steps(chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#query")))
	b.step("upload an image and search", chromedp.Steps(chromedp.SetUploadFiles("#file", []string{f.png}), chromedp.Click("#go")))
	b.waitStatus("the image query", "for city.png")
	if !b.evalBool("query thumbnail", `(() => { const i = document.getElementById("query-thumb"); return !!i && i.complete && i.naturalWidth > 0 })()`) {
		t.Error("the query image shows no thumbnail of itself")
	}
	firstID := b.eval("first result", `document.querySelector("li.result").dataset.videoId`)
	firstRange := b.eval("its time range", `document.querySelector("li.result .range").textContent`)
	why := b.eval("why", `document.querySelector("li.result .why").textContent`)
	loaded := b.thumbsLoaded()
	b.screenshot("search-page-image-query.png")
	if firstID != "city" || firstRange == "" || loaded == 0 || !strings.Contains(why, "same frames") {
		t.Errorf("image query: first %q, range %q, %d thumbnails, why %q", firstID, firstRange, loaded, why)
	}

	// Words typed into the page, the file input cleared first.
	b.eval("clear the file input", `document.getElementById("file").value = ""`)
	b.step("type words and search", chromedp.Steps(chromedp.SendKeys("#text", "surfing"), chromedp.Click("#go")))
	b.waitStatus("the text query", "surfing")
	if got := b.results(); !strings.HasPrefix(got, "beach") {
		t.Errorf("first result of the text query is %q, want beach", got)
	}

	// "more like this" on that result: the other clips are unrelated test
	// patterns, so the page says there is no close match.
	b.step("click more like this", chromedp.Click("li.result button.link"))
	b.waitStatus("more like this", "like beach")
	if got, st := b.results(), b.eval("status", `document.querySelector("#status").textContent`); got != "" || !strings.Contains(st, "No close match") {
		t.Errorf("more like beach shows %q, status %q; want no result and \"No close match\"", got, st)
	}

	// Safe search: a video judged unsafe (the real safety model, its
	// threshold lowered below what any frame scores) is shown and marked
	// without the switch, and left out with it.
	f.h.AddWith(unsafeAnalyzer(t), "night", clips.MakeT(t, t.TempDir(), clips.Spec{Name: "night", Video: "mandelbrot", Seconds: 3}), "Surfing at night")
	search := func(safe bool) string {
		t.Helper()
		b.eval("set the switch", fmt.Sprintf(`document.getElementById("safe").checked = %v; document.getElementById("like").value = ""; document.getElementById("text").value = "surfing"; document.querySelector("#status").textContent = ""; ""`, safe))
		b.step("search", chromedp.Click("#go"))
		b.waitStatus("the text query", "surfing")
		return b.results()
	}
	if got := search(false); !strings.Contains(got, "night!") || !strings.Contains(got, "beach") {
		t.Errorf("without safe search the page shows %q, want night marked unsafe (night!) and beach", got)
	}
	if got := search(true); strings.Contains(got, "night") || !strings.Contains(got, "beach") {
		t.Errorf("with safe search the page shows %q, want beach and not night", got)
	}
}

// TestSearchPageOnRealMedia indexes clips of real photographs and video
// (Debian's opencv-doc and scikit-image) and uses the page at a desktop's
// width and at a phone's (390 px): a screenshot of the cat finds the cat,
// words find the animated clip, and at both widths nothing spills
// sideways. Its screenshots are the README's.
func TestSearchPageOnRealMedia(t *testing.T) {
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	set, err := encoders.LoadAll(encoders.DefaultModelsDir(), encoders.SessionConfig{}, encoders.OCRConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { set.Close() })
	a, err := analyze.New(analyze.Config{}, analyze.Models{Speech: set.Speech, VAD: set.VAD, OCR: set.OCR, CenterNet: set.CenterNet, Sentences: set.Sentences, Safety: set.Safety})
	if err != nil {
		t.Fatal(err)
	}
	h := searchtest.WithAnalyzer(t, a)
	dir := t.TempDir()
	if err := realclips.MakeDemo(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"cat", "megamind", "vtest", "coffee", "horse", "starry"} {
		var title string
		for _, s := range realclips.Sources() {
			if s.Name == n {
				title = s.Title
			}
		}
		h.AddWith(a, n, filepath.Join(dir, "media", n+".mp4"), title, a.Defaults()...)
	}
	api := &API{Search: search.NewSearcher(h.Analyzer, h.Index), Thumbs: h.Thumbs}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)

	for _, width := range []int{1280, 390} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			b := newBrowser(t, max(width, 800), 900)
			// A window is at least 500 px wide: a phone's screen is emulated.
			b.step("open the page", chromedp.Steps(chromedp.EmulateViewport(int64(width), 844), chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#query")))
			if w := b.eval("viewport", `String(window.innerWidth)`); w != fmt.Sprint(width) {
				t.Fatalf("viewport %s px wide, want %d", w, width)
			}
			if width == 1280 {
				b.step("upload the screenshot", chromedp.Steps(chromedp.SetUploadFiles("#file", []string{filepath.Join(dir, realclips.DemoImage)}), chromedp.Click("#go")))
				b.waitStatus("the image query", "for cat-screenshot.jpg")
			} else {
				b.step("type words", chromedp.Steps(chromedp.SendKeys("#text", realclips.DemoPhrase), chromedp.Click("#go")))
				b.waitStatus("the text query", "dinner date")
			}
			want := map[int]string{1280: "cat", 390: "megamind"}[width]
			got := b.results()
			if width == 1280 {
				b.thumbsLoaded()
			}
			b.screenshot(fmt.Sprintf("search-page-%dpx.png", width))
			if !strings.HasPrefix(got, want) {
				t.Errorf("at %d px the page shows %q, want %s first", width, got, want)
			}
			if !b.fitsWidth() {
				t.Errorf("at %d px the page scrolls sideways (%s px of content)", width, b.eval("width", `String(document.documentElement.scrollWidth)`))
			}
		})
	}
}

// unsafeAnalyzer classifies frames with the real safety model, its unsafe
// threshold below what any frame scores: every video it indexes is unsafe.
func unsafeAnalyzer(t *testing.T) *analyze.Analyzer {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	m, err := encoders.LoadSafety(encoders.DefaultModelsDir(), encoders.SafetyConfig{}, encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { m.Close() })
	a, err := analyze.New(analyze.Config{UnsafeThreshold: 1e-12}, analyze.Models{Safety: m})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
