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
	"strings"
	"text/tabwriter"

	"github.com/mediavec/mediavec/search"
)

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("search", "search (--video PATH | --like VIDEO_ID) [flags]", stderr)
	api := apiFlag(fs)
	video := fs.String("video", "", "search with this video file")
	like := fs.String("like", "", "search for videos like this indexed video")
	limit := fs.Int("limit", 10, "number of videos to return")
	spaces := fs.String("spaces", "", "comma-separated spaces to search (default: all)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*video == "") == (*like == "") {
		return fmt.Errorf("%w: give exactly one of --video or --like", errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	base := strings.TrimRight(*api, "/")
	var req *http.Request
	var err error
	if *video != "" {
		req, err = videoSearchRequest(ctx, base, *video, *limit, *spaces)
	} else {
		body, _ := json.Marshal(search.LikeRequest{Like: *like, Limit: *limit, Spaces: splitList(*spaces)})
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

func videoSearchRequest(ctx context.Context, base, path string, limit int, spaces string) (*http.Request, error) {
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
			if err := mw.WriteField("limit", fmt.Sprint(limit)); err != nil {
				return err
			}
			if spaces != "" {
				if err := mw.WriteField("spaces", spaces); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("video", filepath.Base(path))
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
		fmt.Fprintln(w, "no results")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tVIDEO\tSCORE\tSPACES\tBEST MATCHES (video ↔ query)")
	for i, r := range resp.Results {
		var spaces []string
		for _, s := range sortedKeys(r.Spaces) {
			spaces = append(spaces, fmt.Sprintf("%s=%.3f", s, r.Spaces[s]))
		}
		var matches []string
		for _, m := range bestPerSpace(r.Matches) {
			matches = append(matches, fmt.Sprintf("%s %.1f–%.1fs ↔ %.1f–%.1fs (%.3f)", m.Space, m.TStart, m.TEnd, m.QueryTStart, m.QueryTEnd, m.Score))
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f\t%s\t%s\n", i+1, r.VideoID, r.Score, strings.Join(spaces, " "), strings.Join(matches, "; "))
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

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
