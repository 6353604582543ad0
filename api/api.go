// Package api is mediavec's HTTP API and search page, over two services:
// search (queries) and videos (submission, status, deletion).
package api

import (
	"cmp"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mediavec/mediavec/search"
	"github.com/mediavec/mediavec/thumbs"
	"github.com/mediavec/mediavec/videos"
)

// API is the HTTP API:
//
//	GET  /                         the search page
//	POST /v1/videos                submit a video (JSON SubmitRequest) → 202
//	GET  /v1/videos/{id}           the video's status
//	DELETE /v1/videos/{id}         remove an indexed or failed video
//	GET  /v1/videos/{id}/thumbs/{ms}  the JPEG of the frame at ms milliseconds
//	POST /v1/search                multipart with a "file" (video or image),
//	                               or JSON SearchRequest (like, text, vector)
//	GET  /healthz                  the process is alive
//	GET  /readyz                   the process can serve (Ready returns nil)
//	GET  /metrics                  Prometheus metrics, when Metrics is set
//
// With Token set, every /v1/ route needs "Authorization: Bearer TOKEN".
type API struct {
	Search *search.Searcher
	Videos *videos.Service
	// Thumbs serves frame thumbnails; nil answers 404.
	Thumbs *thumbs.Store
	// Ready reports whether every dependency is up; nil means always ready.
	Ready func() error
	// Token, when set, is the bearer token every /v1/ request must carry.
	Token string
	// Metrics, when set, serves GET /metrics (no token: scrapers and
	// probes stay outside the API's auth).
	Metrics http.Handler
	// MaxUpload is the largest query file accepted, in bytes. Defaults to
	// DefaultMaxUpload.
	MaxUpload int64
	Logger    *slog.Logger
}

// DefaultMaxUpload is the default API.MaxUpload: 256 MiB.
const DefaultMaxUpload = 256 << 20

// maxJSONBody caps JSON request bodies: a query vector of a few thousand
// floats fits many times over.
const maxJSONBody = 1 << 20

//go:embed page
var page embed.FS

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	a.MaxUpload = cmp.Or(a.MaxUpload, DefaultMaxUpload)
	a.Logger = cmp.Or(a.Logger, slog.Default())
	mux := http.NewServeMux()
	// Without the videos service (a read-only deployment) the video routes
	// are not served.
	if a.Videos != nil {
		mux.HandleFunc("POST /v1/videos", a.auth(a.submit))
		mux.HandleFunc("GET /v1/videos/{id}", a.auth(a.status))
		mux.HandleFunc("DELETE /v1/videos/{id}", a.auth(a.delete))
	}
	mux.HandleFunc("GET /v1/videos/{id}/thumbs/{file}", a.auth(a.thumb))
	mux.HandleFunc("POST /v1/search", a.auth(a.search))
	mux.HandleFunc("GET /v1/spaces", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"spaces": a.Search.Spaces()})
	}))
	if a.Metrics != nil {
		mux.Handle("GET /metrics", a.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if a.Ready != nil {
			if err := a.Ready(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := page.ReadFile("page/index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'")
		_, _ = w.Write(b)
	})
	return mux
}

// auth requires the bearer token when one is configured. The comparison
// takes the same time whatever the token, so it leaks nothing.
func (a *API) auth(h http.HandlerFunc) http.HandlerFunc {
	if a.Token == "" {
		return h
	}
	want := []byte("Bearer " + a.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mediavec"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
			return
		}
		h(w, r)
	}
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return badRequest("the body must be a JSON object of the documented fields: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
