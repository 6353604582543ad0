package api

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mediavec/mediavec/search"
)

// procStatusKiB reads a "VmHWM:"-style field of /proc/self/status in KiB.
func procStatusKiB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// streamedUpload is a search request whose body streams the file, so the
// test's own client holds no copy of it in memory.
func streamedUpload(t *testing.T, url, path string) *http.Request {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filepath.Base(path))
		if err == nil {
			var f *os.File
			if f, err = os.Open(path); err == nil {
				_, err = io.Copy(part, f)
				f.Close()
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/search", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// QueryFloodBoundMiB is the documented bound (docs/api.md) on what
// a flood of the largest query uploads adds to the API's resident memory.
const QueryFloodBoundMiB = 1280

// Sixteen 8192×8192 query videos uploaded at once: each request gets an
// answer or a 429 with Retry-After, and the process's peak resident
// memory grows by less than the documented bound.
func TestQueryFloodIsBounded(t *testing.T) {
	f := newAPIFixture(t)
	big := filepath.Join(f.dir, "big.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=8192x8192:rate=2:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", big).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	decodes := DefaultMaxQueryDecodes
	if s := os.Getenv("MEDIAVEC_FLOOD_DECODES"); s != "" { // to measure the bound without the gate
		decodes, _ = strconv.Atoi(s)
	}
	a := &API{Search: search.NewSearcher(f.h.Analyzer, f.h.Index), MaxQueryDecodes: decodes}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)

	// Peak memory from here on: writing 5 to clear_refs resets VmHWM.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
	base := procStatusKiB(t, "VmRSS")
	const n = 16
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := streamedUpload(t, srv.URL, big)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
			if res.StatusCode == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		})
	}
	wg.Wait()
	grew := (procStatusKiB(t, "VmHWM") - base) / 1024
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("Go runtime: %d MiB obtained from the OS, heap in use now %d MiB", ms.Sys>>20, ms.HeapInuse>>20)
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	t.Logf("%d queries of 8192×8192 at once, %d decoded at a time: answers %v; peak RSS grew %d MiB (bound %d)", n, decodes, count, grew, QueryFloodBoundMiB)
	if count[200]+count[429] != n || count[200] < DefaultMaxQueryDecodes {
		t.Errorf("answers %v: want every request answered 200 or 429, and at least %d answered", count, DefaultMaxQueryDecodes)
	}
	if grew > QueryFloodBoundMiB {
		t.Errorf("peak RSS grew %d MiB under the flood, over the %d MiB bound", grew, QueryFloodBoundMiB)
	}
}
