package search

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
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
	Searcher *Searcher
	JS       jetstream.JetStream
	Statuses *queue.Statuses
	// Index is where DELETE /v1/videos/{id} removes a video's points.
	Index index.Index
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
	// 256 MiB.
	MaxUpload int64
	Logger    *slog.Logger
}

// maxJSONBody caps JSON request bodies: a query vector of a few thousand
// floats fits many times over.
const maxJSONBody = 1 << 20

//go:embed page
var page embed.FS

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	if a.MaxUpload <= 0 {
		a.MaxUpload = 256 << 20
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/videos", a.auth(a.submit))
	mux.HandleFunc("GET /v1/videos/{id}", a.auth(a.status))
	mux.HandleFunc("DELETE /v1/videos/{id}", a.auth(a.delete))
	mux.HandleFunc("GET /v1/videos/{id}/thumbs/{file}", a.auth(a.thumb))
	mux.HandleFunc("POST /v1/search", a.auth(a.search))
	mux.HandleFunc("GET /v1/spaces", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"spaces": a.Searcher.Spaces()})
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

// SubmitRequest is the body of POST /v1/videos.
type SubmitRequest struct {
	VideoID   string   `json:"video_id"`
	Source    string   `json:"source"` // file://, http(s):// URL, or an absolute path
	Title     string   `json:"title,omitempty"`
	Spaces    []string `json:"spaces,omitempty"`
	Reprocess bool     `json:"reprocess,omitempty"`
	Backfill  bool     `json:"backfill,omitempty"`
}

// SubmitResponse is the body of a 202 from POST /v1/videos.
type SubmitResponse struct {
	VideoID string `json:"video_id"`
	JobID   string `json:"job_id"`
	State   string `json:"state"`
}

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := a.checkSpaces(req.Spaces); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	src := req.Source
	if strings.HasPrefix(src, "/") {
		src = queue.FileURL(filepath.Clean(src))
	}
	job := queue.Job{VideoID: req.VideoID, Source: src, Spaces: req.Spaces, Reprocess: req.Reprocess}
	if req.Title != "" {
		job.Text = &queue.JobText{Title: req.Title}
	}
	job, err := queue.Submit(r.Context(), a.JS, a.Statuses, job, req.Backfill)
	switch {
	case errors.Is(err, queue.ErrInvalidJob):
		writeError(w, http.StatusBadRequest, err)
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusAccepted, SubmitResponse{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateQueued})
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.Statuses.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, queue.ErrUnknownVideo):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

// delete removes a video: its points in every generation of both
// collections (a rollout's old generation included, so the video cannot
// come back with an alias switch), its thumbnails and its status. A video
// whose status has expired is still deleted. A video still queued or
// processing is refused (409): its job would write it back.
func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := a.Statuses.Get(r.Context(), id)
	unknown := errors.Is(err, queue.ErrUnknownVideo)
	switch {
	case unknown:
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
		return
	case st.State == queue.StateQueued || st.State == queue.StateProcessing:
		writeError(w, http.StatusConflict, fmt.Errorf("video %s is %s; delete it once it is indexed or failed", id, st.State))
		return
	}
	cols, err := a.Index.Collections(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	removed := 0
	for _, coll := range cols {
		if !strings.HasPrefix(coll, index.Segments+"_g") && !strings.HasPrefix(coll, index.Videos+"_g") {
			continue
		}
		n, err := a.Index.Count(r.Context(), coll, index.Filter{VideoIDs: []string{id}})
		if err == nil && n > 0 {
			err = a.Index.DeleteVideo(r.Context(), coll, id)
			removed += n
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
	}
	if removed == 0 && unknown {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: %s", ErrNotFound, id))
		return
	}
	if a.Thumbs != nil {
		if err := a.Thumbs.Delete(id); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
	}
	if err := a.Statuses.Delete(r.Context(), id); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"video_id": id, "state": "deleted", "points": removed})
}

func (a *API) thumb(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.ParseInt(strings.TrimSuffix(r.PathValue("file"), ".jpg"), 10, 64)
	if err != nil || !strings.HasSuffix(r.PathValue("file"), ".jpg") {
		writeError(w, http.StatusBadRequest, errors.New("a thumbnail is named MILLISECONDS.jpg"))
		return
	}
	if a.Thumbs == nil {
		writeError(w, http.StatusNotFound, errors.New("no thumbnails are kept"))
		return
	}
	p, ok := a.Thumbs.Path(r.PathValue("id"), ms)
	if !ok {
		writeError(w, http.StatusNotFound, errors.New("no such thumbnail"))
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=300")
	http.ServeFile(w, r, p)
}

// SearchRequest is the JSON body of POST /v1/search. Exactly one of Like,
// Text and Vector is set.
type SearchRequest struct {
	// Like is a video id: more like this indexed video.
	Like string `json:"like,omitempty"`
	// Text searches titles, metadata and subtitles.
	Text string `json:"text,omitempty"`
	// Vector searches one space's segments with a vector the caller
	// computed; Space names it.
	Vector []float32 `json:"vector,omitempty"`
	Space  string    `json:"space,omitempty"`

	Limit  int           `json:"limit,omitempty"`
	Spaces []string      `json:"spaces,omitempty"`
	Filter *FilterFields `json:"filter,omitempty"`
}

// FilterFields is a payload filter in a request.
type FilterFields struct {
	VideoIDs        []string `json:"video_ids,omitempty"`
	ExcludeVideoIDs []string `json:"exclude_video_ids,omitempty"`
	Labels          []string `json:"labels,omitempty"`
	TStartFrom      *float64 `json:"t_start_from,omitempty"`
	TStartTo        *float64 `json:"t_start_to,omitempty"`
}

func (f *FilterFields) filter() index.Filter {
	if f == nil {
		return index.Filter{}
	}
	return index.Filter{VideoIDs: f.VideoIDs, ExcludeVideoIDs: f.ExcludeVideoIDs, Labels: f.Labels, TStartFrom: f.TStartFrom, TStartTo: f.TStartTo}
}

// errBadRequest marks errors that are the caller's fault (a 400).
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var (
		resp Response
		err  error
	)
	switch mt {
	case "application/json":
		resp, err = a.searchJSON(w, r)
	case "multipart/form-data":
		resp, err = a.searchUpload(w, r)
	default:
		writeError(w, http.StatusUnsupportedMediaType, errors.New(`send multipart/form-data with a "file" (a video or an image), or JSON {"like": VIDEO_ID} | {"text": WORDS} | {"vector": [...], "space": SPACE}`))
		return
	}
	var (
		de      *decode.Error
		tooBig  *http.MaxBytesError
		errCode = http.StatusInternalServerError
	)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, resp)
		return
	case errors.As(err, &tooBig):
		errCode = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("the upload is larger than the %d-byte limit", tooBig.Limit)
	case errors.As(err, &de) && decode.Permanent(err):
		errCode = http.StatusUnprocessableEntity
	case errors.Is(err, ErrNotFound):
		errCode = http.StatusNotFound
	case errors.Is(err, ErrEmptyQuery), errors.Is(err, errBadRequest),
		errors.Is(err, index.ErrBadVector), errors.Is(err, index.ErrBadQuery):
		errCode = http.StatusBadRequest
	default:
		a.Logger.Error("search failed", "err", err)
	}
	writeError(w, errCode, err)
}

func (a *API) searchJSON(w http.ResponseWriter, r *http.Request) (Response, error) {
	var req SearchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return Response{}, err
	}
	set := 0
	for _, b := range []bool{req.Like != "", strings.TrimSpace(req.Text) != "", req.Vector != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return Response{}, badRequest(`give exactly one of "like", "text" and "vector"`)
	}
	if req.Limit < 0 || req.Limit > MaxLimit {
		return Response{}, badRequest("limit must be between 1 and %d", MaxLimit)
	}
	if err := a.checkSpaces(req.Spaces); err != nil {
		return Response{}, err
	}
	opts := Options{Limit: req.Limit, Spaces: req.Spaces, Filter: req.Filter.filter()}
	switch {
	case req.Like != "":
		return a.Searcher.Like(r.Context(), req.Like, opts)
	case req.Vector != nil:
		info, ok := a.spaceInfo(req.Space)
		if !ok || info.Sparse {
			return Response{}, badRequest("unknown dense space %q; have %v", req.Space, a.denseSpaces())
		}
		if len(req.Vector) != info.Dim {
			return Response{}, badRequest("space %s has %d dimensions, the vector %d", req.Space, info.Dim, len(req.Vector))
		}
		return a.Searcher.Vector(r.Context(), req.Space, req.Vector, opts)
	default:
		return a.Searcher.Text(r.Context(), req.Text, opts)
	}
}

// searchUpload saves the uploaded query file to a temporary file (an mp4
// may need seeking) and searches with it. Fields: file (or video, image),
// mode (similar or near_duplicates), limit, spaces, labels, threshold.
func (a *API) searchUpload(w http.ResponseWriter, r *http.Request) (Response, error) {
	r.Body = http.MaxBytesReader(w, r.Body, a.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return Response{}, badRequest("%v", err)
	}
	var (
		opts      Options
		mode      = "similar"
		threshold float64
		upload    *os.File
		size      int64
	)
	defer func() {
		if upload != nil {
			upload.Close()
			os.Remove(upload.Name())
		}
	}()
	field := func(part io.Reader) string {
		b, _ := io.ReadAll(io.LimitReader(part, 4096))
		return strings.TrimSpace(string(b))
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Response{}, fmt.Errorf("%w: read upload: %w", errBadRequest, err)
		}
		switch part.FormName() {
		case "file", "video", "image":
			if upload != nil {
				return Response{}, badRequest("more than one query file")
			}
			upload, err = os.CreateTemp("", "mediavec-query-*"+filepath.Ext(part.FileName()))
			if err != nil {
				return Response{}, err
			}
			if size, err = io.Copy(upload, part); err != nil {
				return Response{}, fmt.Errorf("%w: read upload: %w", errBadRequest, err)
			}
		case "mode":
			mode = field(part)
			if mode != "similar" && mode != "near_duplicates" {
				return Response{}, badRequest("mode must be similar or near_duplicates, not %q", mode)
			}
		case "limit":
			n, err := strconv.Atoi(field(part))
			if err != nil || n < 1 || n > MaxLimit {
				return Response{}, badRequest("limit must be an integer from 1 to %d", MaxLimit)
			}
			opts.Limit = n
		case "threshold":
			f, err := strconv.ParseFloat(field(part), 64)
			if err != nil || f <= 0 || f > 1 {
				return Response{}, badRequest("threshold must be a number in (0, 1]")
			}
			threshold = f
		case "spaces":
			opts.Spaces = splitList(field(part))
			if err := a.checkSpaces(opts.Spaces); err != nil {
				return Response{}, err
			}
		case "labels":
			opts.Filter.Labels = splitList(field(part))
		default:
			return Response{}, badRequest("unknown form field %q", part.FormName())
		}
	}
	if upload == nil || size == 0 {
		return Response{}, fmt.Errorf("%w: no query file (a form field \"file\" with a video or an image)", ErrEmptyQuery)
	}
	// Read the upload as a stream, not by path: the source roots are for
	// jobs, and the temporary file is outside them.
	if _, err := upload.Seek(0, io.SeekStart); err != nil {
		return Response{}, err
	}
	if mode == "near_duplicates" {
		return a.Searcher.NearDuplicates(r.Context(), upload, "uploaded query", NearDupOptions{Threshold: threshold, Limit: opts.Limit, Filter: opts.Filter})
	}
	return a.Searcher.Media(r.Context(), upload, "uploaded query", opts)
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

func (a *API) spaceInfo(name string) (analyze.SpaceInfo, bool) {
	for _, s := range a.Searcher.Spaces() {
		if s.Name == name {
			return s, true
		}
	}
	return analyze.SpaceInfo{}, false
}

func (a *API) denseSpaces() []string {
	var out []string
	for _, s := range a.Searcher.Spaces() {
		if !s.Sparse {
			out = append(out, s.Name)
		}
	}
	return out
}

func (a *API) checkSpaces(spaces []string) error {
	for _, s := range spaces {
		if _, ok := a.spaceInfo(s); !ok {
			var names []string
			for _, si := range a.Searcher.Spaces() {
				names = append(names, si.Name)
			}
			return badRequest("unknown space %q; have %v", s, names)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
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
