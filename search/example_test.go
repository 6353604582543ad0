package search_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/search"
	"github.com/mediavec/mediavec/worker"
)

// Index two videos as the worker does, then search by words and by a
// re-encoded copy of one of them. (A process gets its analyzer and index
// from internal/app; this builds them by hand to show the parts.)
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "search-example-*")
	defer os.RemoveAll(dir)
	a, err := analyze.New(analyze.Config{}, analyze.Models{}) // the built-in spaces need no model
	if err != nil {
		log.Fatal(err)
	}
	ix, err := embedded.Open(dir + "/index")
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()
	segs, vids := worker.Schemas(a.Spaces())
	if err := index.EnsureGeneration(ctx, ix, 1, segs, vids); err != nil {
		log.Fatal(err)
	}
	spaces := []string{encoders.SpaceFrameDCT, encoders.SpaceTextLexical}
	for _, v := range []struct{ id, video, title string }{
		{"zoom", "mandelbrot", "Fractal zoom in slow motion"},
		{"bars", "smptehdbars", "Colour bars"},
	} {
		path, err := clips.Make(dir, clips.Spec{Name: v.id, Video: v.video, Seconds: 4})
		if err != nil {
			log.Fatal(err)
		}
		res, err := a.Source(ctx, path, analyze.Options{Spaces: spaces, Title: v.title})
		if err != nil {
			log.Fatal(err)
		}
		job := queue.Job{VideoID: v.id, Source: queue.FileURL(path), Text: &queue.JobText{Title: v.title}}
		seg, video := worker.Points(job, res, time.Now())
		if err := ix.ReplaceVideo(ctx, index.Segments, v.id, seg); err != nil {
			log.Fatal(err)
		}
		if err := ix.ReplaceVideo(ctx, index.Videos, v.id, []index.Point{video}); err != nil {
			log.Fatal(err)
		}
	}
	s := search.NewSearcher(a, ix)

	byWords, err := s.Text(ctx, "slow zoom", search.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("words:", byWords.Results[0].VideoID, byWords.Results[0].Matches[0].Text)

	copyPath := dir + "/copy.mp4"
	if err := clips.Reencode(dir+"/zoom.mp4", copyPath, 0.5, "150k"); err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(copyPath)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	byVideo, err := s.Media(ctx, f, "copy.mp4", search.Options{Spaces: []string{encoders.SpaceFrameDCT}})
	if err != nil {
		log.Fatal(err)
	}
	top := byVideo.Results[0]
	fmt.Printf("video: %s, frame similarity above 0.9: %v\n", top.VideoID, top.Spaces[encoders.SpaceFrameDCT] > 0.9)
	// Output:
	// words: zoom Fractal zoom in slow motion
	// video: zoom, frame similarity above 0.9: true
}
