// Command makedemo writes the media `make demo` indexes and searches with:
// short clips of real photographs, paintings and videos from Debian's
// opencv-doc and scikit-image (scripts/setup installs them), a list of
// their titles, and three queries — a re-encoded copy, a screenshot and a
// phrase. It needs the ffmpeg CLI and espeak-ng.
//
//	go run ./internal/realclips/makedemo DIR
//
// writes DIR/media/NAME.mp4, DIR/titles.tsv (path, tab, title) and
// DIR/queries/.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mediavec/mediavec/internal/realclips"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: makedemo DIR")
		os.Exit(2)
	}
	if err := realclips.MakeDemo(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "makedemo:", err)
		os.Exit(1)
	}
	fmt.Println(filepath.Join(os.Args[1], "titles.tsv"))
}
