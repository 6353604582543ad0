package api

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/lists"
	"github.com/mediavec/mediavec/internal/vecmath"
	"github.com/mediavec/mediavec/search"
)

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
	// Safe leaves out the videos judged unsafe.
	Safe bool `json:"safe,omitempty"`
	// MinScore is the floor, in [0, 1]: absent, the calibration's
	// default; 0 returns every result.
	MinScore *float64 `json:"min_score,omitempty"`
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
		resp search.Response
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
	case errors.Is(err, errBusy):
		errCode = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "2")
	case errors.As(err, &de) && decode.Permanent(err):
		errCode = http.StatusUnprocessableEntity
	case errors.Is(err, search.ErrNotFound):
		errCode = http.StatusNotFound
	case errors.Is(err, search.ErrEmptyQuery), errors.Is(err, errBadRequest),
		errors.Is(err, index.ErrBadVector), errors.Is(err, index.ErrBadQuery):
		errCode = http.StatusBadRequest
	default:
		a.Logger.Error("search failed", "err", err)
	}
	writeError(w, errCode, err)
}

func (a *API) searchJSON(w http.ResponseWriter, r *http.Request) (search.Response, error) {
	var req SearchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return search.Response{}, err
	}
	set := 0
	for _, b := range []bool{req.Like != "", strings.TrimSpace(req.Text) != "", req.Vector != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return search.Response{}, badRequest(`give exactly one of "like", "text" and "vector"`)
	}
	if req.Limit < 0 || req.Limit > search.MaxLimit {
		return search.Response{}, badRequest("limit must be between 1 and %d", search.MaxLimit)
	}
	if err := a.checkSpaces(req.Spaces); err != nil {
		return search.Response{}, err
	}
	if m := req.MinScore; m != nil && !(*m >= 0 && *m <= 1) {
		return search.Response{}, badRequest("min_score must be a number in [0, 1]")
	}
	opts := search.Options{Limit: req.Limit, Spaces: req.Spaces, Filter: req.Filter.filter(), Safe: req.Safe, MinScore: req.MinScore}
	switch {
	case req.Like != "":
		return a.Search.Like(r.Context(), req.Like, opts)
	case req.Vector != nil:
		info, ok := a.spaceInfo(req.Space)
		if !ok || info.Sparse {
			return search.Response{}, badRequest("unknown dense space %q; have %v", req.Space, a.denseSpaces())
		}
		if len(req.Vector) != info.Dim {
			return search.Response{}, badRequest("space %s has %d dimensions, the vector %d", req.Space, info.Dim, len(req.Vector))
		}
		if norm := vecmath.Norm(req.Vector); !(norm >= minQueryNorm) || math.IsInf(norm, 0) {
			return search.Response{}, badRequest("the vector's length is %g: a zero or vanishing vector has no direction to search in", norm)
		}
		return a.Search.Vector(r.Context(), req.Space, req.Vector, opts)
	default:
		return a.Search.Text(r.Context(), req.Text, opts)
	}
}

// searchUpload saves the uploaded query file to a temporary file (an mp4
// may need seeking) and searches with it. Fields: file (or video, image),
// mode (similar or near_duplicates), limit, spaces, labels, threshold,
// safe, min_score.
func (a *API) searchUpload(w http.ResponseWriter, r *http.Request) (search.Response, error) {
	r.Body = http.MaxBytesReader(w, r.Body, a.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return search.Response{}, badRequest("%v", err)
	}
	var (
		opts      search.Options
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
			return search.Response{}, fmt.Errorf("%w: read upload: %w", errBadRequest, err)
		}
		switch part.FormName() {
		case "file", "video", "image":
			if upload != nil {
				return search.Response{}, badRequest("more than one query file")
			}
			upload, err = os.CreateTemp("", "mediavec-query-*"+filepath.Ext(part.FileName()))
			if err != nil {
				return search.Response{}, err
			}
			if size, err = io.Copy(upload, part); err != nil {
				return search.Response{}, fmt.Errorf("%w: read upload: %w", errBadRequest, err)
			}
		case "mode":
			mode = field(part)
			if mode != "similar" && mode != "near_duplicates" {
				return search.Response{}, badRequest("mode must be similar or near_duplicates, not %q", mode)
			}
		case "limit":
			n, err := strconv.Atoi(field(part))
			if err != nil || n < 1 || n > search.MaxLimit {
				return search.Response{}, badRequest("limit must be an integer from 1 to %d", search.MaxLimit)
			}
			opts.Limit = n
		case "threshold":
			f, err := strconv.ParseFloat(field(part), 64)
			if err != nil || !(f > 0 && f <= 1) { // NaN fails both
				return search.Response{}, badRequest("threshold must be a number in (0, 1]")
			}
			threshold = f
		case "spaces":
			opts.Spaces = lists.Split(field(part))
			if err := a.checkSpaces(opts.Spaces); err != nil {
				return search.Response{}, err
			}
		case "min_score":
			f, err := parseMinScore(field(part))
			if err != nil {
				return search.Response{}, err
			}
			opts.MinScore = &f
		case "safe":
			safe, err := strconv.ParseBool(field(part))
			if err != nil {
				return search.Response{}, badRequest("safe must be true or false")
			}
			opts.Safe = safe
		case "labels":
			opts.Filter.Labels = lists.Split(field(part))
		default:
			return search.Response{}, badRequest("unknown form field %q", part.FormName())
		}
	}
	if upload == nil || size == 0 {
		return search.Response{}, fmt.Errorf("%w: no query file (a form field \"file\" with a video or an image)", search.ErrEmptyQuery)
	}
	// Read the upload as a stream, not by path: the source roots are for
	// jobs, and the temporary file is outside them.
	if _, err := upload.Seek(0, io.SeekStart); err != nil {
		return search.Response{}, err
	}
	release, err := a.gate.enter(r.Context())
	if err != nil {
		return search.Response{}, err
	}
	defer release()
	// Each decode at once gets its share of the cores: fewer decoder
	// threads, fewer full-size frames held.
	threads := max(1, runtime.NumCPU()/cap(a.gate.slots))
	opts.DecodeThreads = threads
	if mode == "near_duplicates" {
		return a.Search.NearDuplicates(r.Context(), upload, "uploaded query", search.NearDupOptions{Threshold: threshold, Limit: opts.Limit, Filter: opts.Filter, Safe: opts.Safe, DecodeThreads: threads})
	}
	return a.Search.Media(r.Context(), upload, "uploaded query", opts)
}

// minQueryNorm is the shortest query vector searched: shorter ones (zero,
// or denormal floats) have no direction a cosine can use.
const minQueryNorm = 1e-6

func parseMinScore(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, badRequest("min_score must be a number in [0, 1]")
	}
	return f, nil
}

func (a *API) spaceInfo(name string) (analyze.SpaceInfo, bool) {
	for _, s := range a.Search.Spaces() {
		if s.Name == name {
			return s, true
		}
	}
	return analyze.SpaceInfo{}, false
}

func (a *API) denseSpaces() []string {
	var out []string
	for _, s := range a.Search.Spaces() {
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
			for _, si := range a.Search.Spaces() {
				names = append(names, si.Name)
			}
			return badRequest("unknown space %q; have %v", s, names)
		}
	}
	return nil
}
