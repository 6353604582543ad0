package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/videos"
)

// SubmitRequest is the body of POST /v1/videos.
type SubmitRequest = videos.Submission

// SubmitResponse is the body of a 202 from POST /v1/videos.
type SubmitResponse struct {
	VideoID string `json:"video_id"`
	JobID   string `json:"job_id"`
	State   string `json:"state"`
}

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, requestErrorStatus(err), err)
		return
	}
	job, err := a.Videos.Submit(r.Context(), req)
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
	st, err := a.Videos.Status(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, queue.ErrUnknownVideo):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

// delete removes a video (videos.Service.Delete): 404 when nothing of it
// is left, 409 while its job is queued or running.
func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	removed, err := a.Videos.Delete(r.Context(), id)
	switch {
	case errors.Is(err, videos.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, videos.ErrInProgress):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, videos.ErrThumbnails):
		writeError(w, http.StatusInternalServerError, err)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"video_id": id, "state": "deleted", "points": removed})
	}
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
