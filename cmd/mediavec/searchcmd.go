package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mediavec/mediavec/api"
	"github.com/mediavec/mediavec/internal/lists"
	"github.com/mediavec/mediavec/search"
)

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("search", "search (--video PATH | --image PATH | --text WORDS | --like VIDEO_ID) [flags]", stderr)
	apiURL := apiFlag(fs)
	video := fs.String("video", "", "search with this video file")
	img := fs.String("image", "", "search with this image file (png, jpeg, webp, bmp)")
	text := fs.String("text", "", "search titles, metadata and subtitles with these words")
	like := fs.String("like", "", "search for videos like this indexed video")
	nearDups := fs.Bool("near-dups", false, "with --video: find copies (reframed, picture-in-picture, flipped, cropped, re-encoded, sped up, spliced) and reused soundtracks instead of similar videos")
	threshold := fs.Float64("threshold", 0, fmt.Sprintf("with --near-dups: lowest alignment score reported (default %.2f)", search.DefaultNearDupThreshold))
	limit := fs.Int("limit", search.DefaultLimit, "number of videos to return")
	spaces := fs.String("spaces", "", "comma-separated spaces to search (default: all)")
	labels := fs.String("labels", "", "comma-separated labels every matched segment must carry")
	safe := fs.Bool("safe", false, "leave out the videos judged unsafe (content safety; off by default)")
	var minScore optionalFloat
	fs.Var(&minScore, "min-score", fmt.Sprintf("lowest score shown, 0–1: the calibrated probability of a match (default: the server's floor, %.2f as shipped; 0 shows every result)", search.Shipped().MinScore))
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := 0
	for _, v := range []string{*video, *img, *text, *like} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return fmt.Errorf("%w: give exactly one of --video, --image, --text or --like", errUsage)
	}
	if *nearDups && *video == "" && *img == "" {
		return fmt.Errorf("%w: --near-dups needs --video or --image", errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if minScore.set && (minScore.v < 0 || minScore.v > 1) {
		return fmt.Errorf("%w: --min-score %v is not in [0, 1]", errUsage, minScore.v)
	}
	base := strings.TrimRight(*apiURL, "/")
	var req *http.Request
	var err error
	switch {
	case *video != "" || *img != "":
		path := *video + *img
		fields := map[string]string{"limit": fmt.Sprint(*limit), "spaces": *spaces, "labels": *labels, "safe": fmt.Sprint(*safe)}
		if minScore.set {
			fields["min_score"] = fmt.Sprint(minScore.v)
		}
		if *nearDups {
			fields["mode"] = "near_duplicates"
			if *threshold > 0 {
				fields["threshold"] = fmt.Sprint(*threshold)
			}
		}
		req, err = uploadSearchRequest(ctx, base, path, fields)
	default:
		sr := api.SearchRequest{Like: *like, Text: *text, Limit: *limit, Spaces: lists.Split(*spaces), Safe: *safe}
		if minScore.set {
			sr.MinScore = &minScore.v
		}
		if *labels != "" {
			sr.Filter = &api.FilterFields{Labels: lists.Split(*labels)}
		}
		body, _ := json.Marshal(sr)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/search", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return err
	}
	var resp search.Response
	if err := apiDo(req, &resp); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	printResults(stdout, resp)
	return nil
}

// uploadSearchRequest streams a query file and form fields (empty ones
// left out) as multipart/form-data.
func uploadSearchRequest(ctx context.Context, base, path string, fields map[string]string) (*http.Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	// Stream the file: a query video can be large.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		defer f.Close()
		err := func() error {
			for _, k := range sortedKeys(fields) {
				if fields[k] == "" {
					continue
				}
				if err := mw.WriteField(k, fields[k]); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("file", filepath.Base(path))
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/search", pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req, nil
}

func printResults(w io.Writer, resp search.Response) {
	if len(resp.Results) == 0 {
		switch {
		case resp.Kind == search.KindNearDuplicates:
			fmt.Fprintf(w, "no copies (none aligns at %.2f or more)\n", resp.MinScore)
		case resp.Below > 0:
			fmt.Fprintf(w, "no close match (%d under the floor %.2f; --min-score 0 shows them)\n", resp.Below, resp.MinScore)
		default:
			fmt.Fprintln(w, "no close match")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tVIDEO\tSCORE\tSPACES\tLABELS\tSAFETY\tBEST MATCHES (video ↔ query)")
	for i, r := range resp.Results {
		var spaces []string
		for _, s := range sortedKeys(r.Spaces) {
			spaces = append(spaces, fmt.Sprintf("%s=%.3f", s, r.Spaces[s]))
		}
		var matches []string
		for _, m := range bestPerSpace(r.Matches) {
			matches = append(matches, fmt.Sprintf("%s %.1f–%.1fs ↔ %.1f–%.1fs (%.3f)", m.Space, m.TStart, m.TEnd, m.QueryTStart, m.QueryTEnd, m.Score))
		}
		if a := r.AudioReuse; a != nil {
			matches = append([]string{fmt.Sprintf("same soundtrack %.1f–%.1fs ↔ %.1f–%.1fs (%.3f)", a.Start, a.End, a.QueryStart, a.QueryEnd, a.Score)}, matches...)
		}
		if a := r.Alignment; a != nil {
			edit := ""
			if a.Mirrored {
				edit += ", mirrored"
			}
			if b := a.QueryBox; b != nil {
				edit += fmt.Sprintf(", shown in %.0f×%.0f%% of the query's frame at %.0f,%.0f%%", 100*b.W, 100*b.H, 100*b.X, 100*b.Y)
			}
			if b := a.Box; b != nil {
				edit += fmt.Sprintf(", cropped to %.0f×%.0f%% at %.0f,%.0f%%", 100*b.W, 100*b.H, 100*b.X, 100*b.Y)
			}
			matches = append([]string{fmt.Sprintf("copy %.1f–%.1fs ↔ %.1f–%.1fs, speed %.2f×%s", a.Start, a.End, a.QueryStart, a.QueryEnd, a.Speed, edit)}, matches...)
		}
		labels := "-"
		if len(r.Labels) > 0 {
			// The video's label summary, most frames first: its top few.
			labels = strings.Join(r.Labels[:min(len(r.Labels), 4)], ",")
		}
		safety := "-" // not classified
		if r.Safety != nil {
			safety = "safe"
			if r.Safety.Unsafe {
				safety = "UNSAFE"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f\t%s\t%s\t%s\t%s\n", i+1, r.VideoID, r.Score, strings.Join(spaces, " "), labels, safety, strings.Join(matches, "; "))
	}
	tw.Flush()
}

// bestPerSpace keeps the first (best) match of each space.
func bestPerSpace(ms []search.Match) []search.Match {
	seen := map[string]bool{}
	var out []search.Match
	for _, m := range ms {
		if !seen[m.Space] {
			seen[m.Space] = true
			out = append(out, m)
		}
	}
	return out
}

// optionalFloat is a float flag that knows whether it was given.
type optionalFloat struct {
	v   float64
	set bool
}

func (f *optionalFloat) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatFloat(f.v, 'g', -1, 64)
}

func (f *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}
