package api

import (
	"context"
	"fmt"
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
)

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

// artifactsDir is where browser tests keep their screenshots: the
// MEDIAVEC_ARTIFACTS folder, or artifacts/ at the repository root.
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

// TestSearchPageInChromium drives the search page in headless Chromium:
// an image uploaded through the page and words typed into it each show the
// expected video first, with thumbnails of the matched moments.
func TestSearchPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is needed for the search page test: run scripts/setup")
	}
	f := newAPIFixture(t)
	srv := f.serve(t, "", 0)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	screenshot := func(name string) {
		t.Helper()
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		p := filepath.Join(artifactsDir(t), name)
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	// An image uploaded through the page.
	step("open the page", chromedp.Steps(
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#query"),
	))
	step("upload an image and search", chromedp.Steps(
		chromedp.SetUploadFiles("#file", []string{f.png}),
		chromedp.Click("#go"),
	))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll("li.result").length > 0 || document.querySelector("#status").className == "error"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#status").textContent`))
		t.Fatalf("the image query never finished (status %q): %v", st, err)
	}
	if st := text("status", chromedp.Evaluate[string](`document.querySelector("#status").className + ": " + document.querySelector("#status").textContent`)); strings.HasPrefix(st, "error") {
		t.Fatalf("the page reports %s", st)
	}
	firstID := text("first result", chromedp.Evaluate[string](`document.querySelector("li.result").dataset.videoId`))
	firstRange := text("its time range", chromedp.Evaluate[string](`document.querySelector("li.result .range").textContent`))
	// Thumbnails arrive after the list: wait until one has pixels.
	thumbsLoaded, err := chromedp.Run(ctx, chromedp.Poll[int](
		`Array.from(document.querySelectorAll("li.result img")).filter(i => i.complete && i.naturalWidth > 0).length`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Errorf("no thumbnail loaded: %v", err)
	}
	screenshot("search-page-image-query.png")
	if firstID != "city" {
		t.Errorf("first result of the image query is %q, want city", firstID)
	}
	if firstRange == "" || thumbsLoaded == 0 {
		t.Errorf("first result shows range %q and %d loaded thumbnails", firstRange, thumbsLoaded)
	}

	// Words typed into the page, the file input cleared first.
	text("clear the file input", chromedp.Evaluate[string](`document.getElementById("file").value = ""`))
	step("type words and search", chromedp.Steps(
		chromedp.SendKeys("#text", "surfing"),
		chromedp.Click("#go"),
	))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#status").textContent.includes("surfing")`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the text query never finished: %v", err)
	}
	textFirst := text("first text result", chromedp.Evaluate[string](`document.querySelector("li.result").dataset.videoId`))
	status := text("status", chromedp.Evaluate[string](`document.querySelector("#status").textContent`))
	screenshot("search-page-text-query.png")
	if textFirst != "beach" {
		t.Errorf("first result of the text query is %q (status %q), want beach", textFirst, status)
	}

	// "more like this" on that result: the other videos, not itself.
	step("click more like this", chromedp.Click("li.result button.link"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#status").textContent.includes("like beach")`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("more like this never finished: %v", err)
	}
	likeIDs := text("more-like-this results", chromedp.Evaluate[string](`Array.from(document.querySelectorAll("li.result")).map(li => li.dataset.videoId).join(",")`))
	if strings.Contains(likeIDs, "beach") || strings.Count(likeIDs, ",") != 1 {
		t.Errorf("more like beach shows %q, want the two other videos", likeIDs)
	}

	// Safe search: a video judged unsafe (the real safety model, its
	// threshold lowered below what any frame scores) is shown and marked
	// without the switch, and left out with it.
	f.h.AddWith(unsafeAnalyzer(t), "night", clips.MakeT(t, t.TempDir(), clips.Spec{Name: "night", Video: "mandelbrot", Seconds: 3}), "Surfing at night")
	search := func(safe bool) string {
		t.Helper()
		text("set the switch", chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById("safe").checked = %v; document.getElementById("like").value = ""; document.getElementById("text").value = "surfing"; document.querySelector("#status").textContent = ""; ""`, safe)))
		step("search", chromedp.Click("#go"))
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#status").textContent.includes("surfing")`,
			chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("the text query never finished: %v", err)
		}
		return text("results", chromedp.Evaluate[string](`Array.from(document.querySelectorAll("li.result")).map(li => li.dataset.videoId + (li.classList.contains("unsafe") ? "!" : "")).join(",")`))
	}
	if got := search(false); !strings.Contains(got, "night!") || !strings.Contains(got, "beach") {
		t.Errorf("without safe search the page shows %q, want night marked unsafe (night!) and beach", got)
	}
	screenshot("search-page-unsafe-marked.png")
	if got := search(true); strings.Contains(got, "night") || !strings.Contains(got, "beach") {
		t.Errorf("with safe search the page shows %q, want beach and not night", got)
	}
}
