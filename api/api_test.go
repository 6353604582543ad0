package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/searchtest"
	"github.com/mediavec/mediavec/search"
)

type apiFixture struct {
	h                      *searchtest.Harness
	dir                    string
	beach, city, bars, png string
}

// serve runs the API over the fixture's index.
func (f *apiFixture) serve(t *testing.T, token string, maxUpload int64) *httptest.Server {
	api := &API{Search: search.NewSearcher(f.h.Analyzer, f.h.Index), Thumbs: f.h.Thumbs, Token: token, MaxUpload: maxUpload}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// newAPIFixture indexes three clips with titles, and makes a still image
// of one of them.
func newAPIFixture(t *testing.T) *apiFixture {
	h := searchtest.New(t, false)
	dir := t.TempDir()
	f := &apiFixture{h: h, dir: dir}
	f.beach = clips.MakeT(t, dir, clips.Spec{Name: "beach", Video: "testsrc2", Seconds: 4})
	f.city = clips.MakeT(t, dir, clips.Spec{Name: "city", Video: "mandelbrot", Seconds: 4})
	f.bars = clips.MakeT(t, dir, clips.Spec{Name: "bars", Video: "smptehdbars", Seconds: 4, Title: "Colour bars"})
	h.Add("beach", f.beach, "Sunset #Surfing at the beach")
	h.Add("city", f.city, "City lights at night")
	h.Add("bars", f.bars, "")
	f.png = filepath.Join(dir, "city.png")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", "2", "-i", f.city, "-frames:v", "1", f.png).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return f
}

type reply struct {
	code int
	body []byte
	resp search.Response
	err  string
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{code: res.StatusCode, body: b}
	if res.StatusCode == http.StatusOK && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.resp); err != nil {
			t.Fatalf("response %s: %v", b, err)
		}
	} else {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		r.err = e.Error
	}
	return r
}

func jsonReq(t *testing.T, url, body, token string) *http.Request {
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/search", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func uploadReq(t *testing.T, url, path string, fields map[string]string) *http.Request {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		part, _ := mw.CreateFormFile("file", filepath.Base(path))
		part.Write(b)
	}
	mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/search", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func first(r reply) string {
	if len(r.resp.Results) == 0 {
		return ""
	}
	return r.resp.Results[0].VideoID
}

func TestAPIQueries(t *testing.T) {
	f := newAPIFixture(t)
	srv := f.serve(t, "", 0)

	// Text: the title's hashtag, case-folded, finds the beach; the match
	// carries the text and the time range of the title segment.
	r := do(t, jsonReq(t, srv.URL, `{"text": "surfing BEACH"}`, ""))
	if r.code != 200 || first(r) != "beach" || len(r.resp.Results) != 1 {
		t.Fatalf("text query: %d %s", r.code, r.body)
	}
	if m := r.resp.Results[0].Matches[0]; m.Text != "Sunset #Surfing at the beach" || m.TEnd < 3.9 {
		t.Errorf("text match %+v", m)
	}
	if r.resp.Results[0].Title != "Sunset #Surfing at the beach" {
		t.Errorf("title %q", r.resp.Results[0].Title)
	}
	// Metadata text (the container title) is searchable too.
	if r := do(t, jsonReq(t, srv.URL, `{"text": "colour"}`, "")); first(r) != "bars" {
		t.Errorf("metadata text query: %s", r.body)
	}
	// A label filter that no segment passes leaves nothing.
	if r := do(t, jsonReq(t, srv.URL, `{"text": "surfing", "filter": {"labels": ["dog"]}}`, "")); r.code != 200 || len(r.resp.Results) != 0 {
		t.Errorf("filtered text query: %d %s", r.code, r.body)
	}

	// Image → video: a still of the city clip finds the city clip, with
	// the moment it came from (2 s) among the matches.
	r = do(t, uploadReq(t, srv.URL, f.png, map[string]string{"limit": "3"}))
	if r.code != 200 || first(r) != "city" {
		t.Fatalf("image query: %d %s", r.code, r.body)
	}
	if m := r.resp.Results[0].Matches[0]; m.Space != "frame_dct_v1" || m.TStart < 1 || m.TStart > 3 {
		t.Errorf("image match %+v, want a frame near 2 s", m)
	}

	// Near-duplicates: a trimmed, half-size copy aligns with an offset.
	copyPath := filepath.Join(f.dir, "beach-copy.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", f.beach, "-vf", "scale=160:120", "-b:v", "150k", copyPath).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	r = do(t, uploadReq(t, srv.URL, copyPath, map[string]string{"mode": "near_duplicates"}))
	if r.code != 200 || first(r) != "beach" {
		t.Fatalf("near-duplicate query: %d %s", r.code, r.body)
	}
	if a := r.resp.Results[0].Alignment; a == nil || math.Abs(a.Offset-1) > 0.6 || math.Abs(a.Speed-1) > 0.15 {
		t.Errorf("alignment %+v, want offset ≈ 1 s and speed ≈ 1", r.resp.Results[0].Alignment)
	}
	for _, res := range r.resp.Results[1:] {
		if res.Score >= r.resp.Results[0].Score {
			t.Errorf("unrelated %s scores %.3f, as high as the copy", res.VideoID, res.Score)
		}
	}

	// The other clips are unrelated test patterns: no close match by
	// default; with the floor at 0, both, never the video itself.
	r = do(t, jsonReq(t, srv.URL, `{"like": "beach", "limit": 5}`, ""))
	if r.code != 200 || len(r.resp.Results) != 0 || r.resp.Below != 2 {
		t.Fatalf("like: %d %s, want no close match and 2 under the floor", r.code, r.body)
	}
	r = do(t, jsonReq(t, srv.URL, `{"like": "beach", "limit": 5, "min_score": 0}`, ""))
	if r.code != 200 || len(r.resp.Results) != 2 {
		t.Fatalf("like with min_score 0: %d %s", r.code, r.body)
	}
	for _, res := range r.resp.Results {
		if res.VideoID == "beach" {
			t.Error("more-like-this returned its own video")
		}
	}

	// A raw vector of the right dimension is a query too.
	vec := make([]float32, 255)
	vec[0] = 1
	vb, _ := json.Marshal(map[string]any{"vector": vec, "space": "frame_dct_v1", "limit": 2, "min_score": 0})
	if r := do(t, jsonReq(t, srv.URL, string(vb), "")); r.code != 200 || len(r.resp.Results) != 2 {
		t.Errorf("vector query: %d %s", r.code, r.body)
	}

	// The thumbnail of a matched moment is served as a JPEG.
	ms := int64(math.Round(r.resp.Results[0].Matches[0].TStart * 1000))
	res, err := http.Get(fmt.Sprintf("%s/v1/videos/%s/thumbs/%d.jpg", srv.URL, r.resp.Results[0].VideoID, ms))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || len(b) < 500 {
		t.Errorf("thumbnail: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(b))
	}
	for path, want := range map[string]int{"/v1/videos/beach/thumbs/999999.jpg": 404, "/v1/videos/beach/thumbs/x.png": 400} {
		res, _ := http.Get(srv.URL + path)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}

// vectorBody is a frame_dct_v1 query whose every element is x.
func vectorBody(x float32) string {
	v := make([]float32, 255)
	for i := range v {
		v[i] = x
	}
	b, _ := json.Marshal(map[string]any{"vector": v, "space": "frame_dct_v1"})
	return string(b)
}

func TestAPIRejectsBadRequests(t *testing.T) {
	f := newAPIFixture(t)
	srv := f.serve(t, "", 64<<10)
	junk := filepath.Join(f.dir, "junk.mp4")
	os.WriteFile(junk, bytes.Repeat([]byte("not a video "), 100), 0o644)
	big := filepath.Join(f.dir, "big.mp4")
	os.WriteFile(big, make([]byte, 100<<10), 0o644)
	long := `{"text": "` + strings.Repeat("word ", 300000) + `"}`
	cases := []struct {
		name string
		req  *http.Request
		code int
		msg  string
	}{
		{"unknown space", jsonReq(t, srv.URL, `{"text": "x", "spaces": ["nope"]}`, ""), 400, `unknown space "nope"`},
		{"wrong dimension", jsonReq(t, srv.URL, `{"vector": [1, 2], "space": "frame_dct_v1"}`, ""), 400, "255 dimensions, the vector 2"},
		{"vector of a sparse space", jsonReq(t, srv.URL, `{"vector": [1], "space": "text_lexical_v1"}`, ""), 400, "unknown dense space"},
		{"nothing to search with", jsonReq(t, srv.URL, `{}`, ""), 400, "exactly one"},
		{"two queries", jsonReq(t, srv.URL, `{"text": "a", "like": "b"}`, ""), 400, "exactly one"},
		{"text without a word", jsonReq(t, srv.URL, `{"text": "!!! ???"}`, ""), 400, "has no word"},
		{"malformed JSON", jsonReq(t, srv.URL, `{"text": `, ""), 400, "JSON"},
		{"unknown field", jsonReq(t, srv.URL, `{"txt": "a"}`, ""), 400, `unknown field "txt"`},
		{"limit too large", jsonReq(t, srv.URL, `{"text": "a", "limit": 1000}`, ""), 400, "limit"},
		{"min_score over 1", jsonReq(t, srv.URL, `{"text": "a", "min_score": 1.5}`, ""), 400, "min_score"},
		{"zero vector", jsonReq(t, srv.URL, vectorBody(0), ""), 400, "no direction"},
		{"denormal vector", jsonReq(t, srv.URL, vectorBody(1e-40), ""), 400, "no direction"},
		{"trailing data", jsonReq(t, srv.URL, `{"text": "a"} {"text": "b"}`, ""), 400, "data after"},
		{"NaN threshold", uploadReq(t, srv.URL, f.png, map[string]string{"mode": "near_duplicates", "threshold": "NaN"}), 400, "threshold"},
		{"infinite min_score", uploadReq(t, srv.URL, f.png, map[string]string{"min_score": "Inf"}), 400, "min_score"},
		{"min_score not a number", uploadReq(t, srv.URL, f.png, map[string]string{"min_score": "high"}), 400, "min_score"},
		{"JSON body too large", jsonReq(t, srv.URL, long, ""), 413, "limit"},
		{"unknown video", jsonReq(t, srv.URL, `{"like": "nope"}`, ""), 404, "not indexed"},
		{"no query file", uploadReq(t, srv.URL, "", map[string]string{"limit": "3"}), 400, "no query file"},
		{"bad mode", uploadReq(t, srv.URL, f.png, map[string]string{"mode": "fuzzy"}), 400, "mode"},
		{"not a video", uploadReq(t, srv.URL, junk, nil), 422, "invalid input"},
		{"upload too large", uploadReq(t, srv.URL, big, nil), 413, "limit"},
	}
	for _, c := range cases {
		r := do(t, c.req)
		if r.code != c.code || !strings.Contains(r.err, c.msg) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, r.code, r.err, c.code, c.msg)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/search", strings.NewReader("hello"))
	req.Header.Set("Content-Type", "text/plain")
	if r := do(t, req); r.code != 415 {
		t.Errorf("text/plain: %d", r.code)
	}
}

func TestAPIToken(t *testing.T) {
	f := newAPIFixture(t)
	srv := f.serve(t, "s3cret", 0)
	if r := do(t, jsonReq(t, srv.URL, `{"text": "surfing"}`, "")); r.code != 401 {
		t.Errorf("no token: %d", r.code)
	}
	if r := do(t, jsonReq(t, srv.URL, `{"text": "surfing"}`, "wrong")); r.code != 401 {
		t.Errorf("wrong token: %d", r.code)
	}
	if r := do(t, jsonReq(t, srv.URL, `{"text": "surfing"}`, "s3cret")); r.code != 200 || first(r) != "beach" {
		t.Errorf("right token: %d %s", r.code, r.body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s without a token: %d, want 200 (probes and the page stay open)", path, res.StatusCode)
		}
	}
}
