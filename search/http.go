package search

import (
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

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/queue"
)

// API is the HTTP API:
//
//	POST /v1/videos       submit a video (JSON SubmitRequest) → 202
//	GET  /v1/videos/{id}  the video's status
//	POST /v1/search       multipart with a "video" file, or JSON {"like": id}
//	GET  /healthz         the process is alive
//	GET  /readyz          the process can serve (Ready returns nil)
type API struct {
	Searcher *Searcher
	JS       jetstream.JetStream
	Statuses *queue.Statuses
	// Ready reports whether every dependency is up; nil means always ready.
	Ready func() error
	// MaxUpload is the largest query video accepted, in bytes. Defaults to
	// 256 MiB.
	MaxUpload int64
	Logger    *slog.Logger
}

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	if a.MaxUpload <= 0 {
		a.MaxUpload = 256 << 20
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/videos", a.submit)
	mux.HandleFunc("GET /v1/videos/{id}", a.status)
	mux.HandleFunc("POST /v1/search", a.search)
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
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "mediavec API: POST /v1/videos, GET /v1/videos/{id}, POST /v1/search, GET /healthz, GET /readyz")
	})
	return mux
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
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body must be JSON: %w", err))
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

// LikeRequest is the JSON body of a more-like-this POST /v1/search.
type LikeRequest struct {
	Like   string   `json:"like"`
	Limit  int      `json:"limit,omitempty"`
	Spaces []string `json:"spaces,omitempty"`
}

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var (
		resp Response
		err  error
	)
	switch mt {
	case "application/json":
		var req LikeRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("body must be JSON: %w", err))
			return
		}
		if req.Like == "" {
			writeError(w, http.StatusBadRequest, errors.New(`JSON search needs "like": a video id; send a query video as multipart/form-data field "video"`))
			return
		}
		resp, err = a.Searcher.Like(r.Context(), req.Like, Options{Limit: req.Limit, Spaces: req.Spaces, ExcludeVideoID: req.Like})
	case "multipart/form-data":
		resp, err = a.searchUpload(w, r)
	default:
		writeError(w, http.StatusUnsupportedMediaType, errors.New("send multipart/form-data with a \"video\" file, or JSON {\"like\": VIDEO_ID}"))
		return
	}
	var de *decode.Error
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, resp)
	case errors.As(err, &de) && decode.Permanent(err):
		writeError(w, http.StatusUnprocessableEntity, err)
	case errors.Is(err, ErrEmptyQuery), errors.Is(err, errBadRequest):
		writeError(w, http.StatusBadRequest, err)
	default:
		a.Logger.Error("search failed", "err", err)
		writeError(w, http.StatusInternalServerError, err)
	}
}

var errBadRequest = errors.New("bad request")

// searchUpload saves the uploaded query video to a temporary file (an mp4
// may need seeking) and searches with it.
func (a *API) searchUpload(w http.ResponseWriter, r *http.Request) (Response, error) {
	r.Body = http.MaxBytesReader(w, r.Body, a.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return Response{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	var (
		opts   Options
		upload *os.File
	)
	defer func() {
		if upload != nil {
			upload.Close()
			os.Remove(upload.Name())
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Response{}, fmt.Errorf("%w: read upload: %v", errBadRequest, err)
		}
		switch part.FormName() {
		case "video":
			if upload != nil {
				return Response{}, fmt.Errorf("%w: more than one \"video\" file", errBadRequest)
			}
			upload, err = os.CreateTemp("", "mediavec-query-*"+filepath.Ext(part.FileName()))
			if err != nil {
				return Response{}, err
			}
			if _, err := io.Copy(upload, part); err != nil {
				return Response{}, fmt.Errorf("%w: read upload: %v", errBadRequest, err)
			}
		case "limit":
			b, _ := io.ReadAll(io.LimitReader(part, 32))
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || n < 1 {
				return Response{}, fmt.Errorf("%w: limit must be a positive integer", errBadRequest)
			}
			opts.Limit = n
		case "spaces":
			b, _ := io.ReadAll(io.LimitReader(part, 1024))
			for _, s := range strings.Split(string(b), ",") {
				if s = strings.TrimSpace(s); s != "" {
					opts.Spaces = append(opts.Spaces, s)
				}
			}
		}
	}
	if upload == nil {
		return Response{}, fmt.Errorf("%w: no \"video\" file in the form", errBadRequest)
	}
	// Read the upload as a stream, not by path: the source roots are for
	// jobs, and the temporary file is outside them.
	if _, err := upload.Seek(0, io.SeekStart); err != nil {
		return Response{}, err
	}
	return a.Searcher.VideoReader(r.Context(), upload, "uploaded query video", opts)
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
