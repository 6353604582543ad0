// Command makeclips writes the standard sample clips (and a re-encoded query
// copy of clip3) into a folder, for `make demo` and for trying mediavec by
// hand. It needs the ffmpeg CLI.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mediavec/mediavec/internal/clips"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: makeclips DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var clip3 string
	for _, s := range clips.Standard() {
		p, err := clips.Make(dir, s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if s.Name == "clip3" {
			clip3 = p
		}
		fmt.Println(p)
	}
	q := filepath.Join(dir, "query-clip3-half.mp4")
	if err := clips.Reencode(clip3, q, 0.5, "120k"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
