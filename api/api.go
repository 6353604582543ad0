// Package api is mediavec's HTTP API and search page, over two services:
// search (queries) and videos (submission, status, deletion).
package api

import (
	"cmp"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
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
	// AllowedHosts are the host names (beyond IP literals and localhost)
	// requests may address the API by: "*" for any, ".example.com" for a
	// domain and its subdomains. Anything else answers 421, so a DNS
	// rebinding page cannot reach the API.
	AllowedHosts []string
	// MaxQueryDecodes is how many uploaded query files are decoded at
	// once, and MaxQueuedQueries how many more wait for a turn; others
	// get 429 with Retry-After. Default DefaultMaxQueryDecodes and
	// DefaultMaxQueuedQueries.
	MaxQueryDecodes, MaxQueuedQueries int
	Logger                            *slog.Logger

	gate *queryGate
}

// Defaults of the query gate: two decodes, as many as a 2-core machine
// runs well, each of at most decode.DefaultMaxPixels per frame (see
// docs/api.md for the memory this bounds).
const (
	DefaultMaxQueryDecodes  = 2
	DefaultMaxQueuedQueries = 8
)

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
	a.gate = newQueryGate(cmp.Or(a.MaxQueryDecodes, DefaultMaxQueryDecodes), cmp.Or(a.MaxQueuedQueries, DefaultMaxQueuedQueries))
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
	return a.guard(mux)
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

// errUnsupportedType marks a body of a content type the route does not
// take (a 415): a browser can send text/plain or a form across origins
// without asking, never application/json.
var errUnsupportedType = errors.New("unsupported content type")

// decodeJSON reads an application/json body of at most maxJSONBody bytes
// holding exactly one object of v's fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%w: send the body as application/json, not %q", errUnsupportedType, r.Header.Get("Content-Type"))
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, next := dec.Token(); next != io.EOF {
			err = errors.New("data after the JSON object")
			var tooBig *http.MaxBytesError
			if errors.As(next, &tooBig) {
				err = next
			}
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("the body is larger than the %d-byte limit: %w", tooBig.Limit, err)
		}
		return badRequest("the body must be one JSON object of the documented fields: %v", err)
	}
	return nil
}

// requestErrorStatus is the status for an error in reading a request:
// 413, 415 or 400; 0 when err is not one.
func requestErrorStatus(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errUnsupportedType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	}
	return 0
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
