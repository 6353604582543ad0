package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/testmedia"
)

// ocrShareVideos are opencv-doc's videos, none with text of its own:
// each is benchmarked as it is and with captions burned in.
var ocrShareVideos = []string{"vtest.avi", "Megamind.avi", "tree.avi"}

// ocrShareCaptions are burned into each captioned clip one after the
// other, as a short video's captions come: half English, half in two of
// the largest markets' languages (Tesseract reads every line that is not
// plain English).
var ocrShareCaptions = []string{"Best moments of the week", "Receita fácil de pão de queijo", "Wait for the ending", "Resep nasi goreng enak"}

// ocrShareRuns is how often each clip is analysed under each
// configuration, the two interleaved; the median run is reported.
const ocrShareRuns = 5

// OCRShareReport is what OCRShare measured: the on-screen text stage's
// share of the analysis CPU time, by clip kind and configuration.
type OCRShareReport struct {
	// Captioned and Plain are the shares on clips with captions and
	// without text, [0] with PP-OCR's recogniser alone (the previous
	// configuration), [1] with Tesseract beside it (the default).
	Captioned, Plain [2]float64
}

// Growth is how much Tesseract grows the stage's share on captioned clips
// and on clips without text (1 is no growth).
func (r OCRShareReport) Growth() (captioned, plain float64) {
	return r.Captioned[1] / r.Captioned[0], r.Plain[1] / r.Plain[0]
}

// OCRShare measures, on real video from opencv-doc re-encoded to 720p
// H.264 and the same video with captions burned in, the share of a job's
// analysis CPU time (decode and every stage with every default space, as
// the worker runs them, each alone) that goes to on-screen text, with
// PP-OCR's recogniser alone and with Tesseract beside it: two analyzers
// alike but for that, loaded here, in a process doing nothing else. Each
// clip runs under both, interleaved, several times.
func OCRShare(ctx context.Context, cfg PipelineConfig, w io.Writer) (OCRShareReport, error) {
	cfg.defaults()
	dir, err := os.MkdirTemp(cfg.Dir, "mediavec-bench-ocr-*")
	if err != nil {
		return OCRShareReport{}, err
	}
	defer os.RemoveAll(dir)
	var captioned, plain []string
	for i, v := range ocrShareVideos {
		src := filepath.Join(testmedia.OpenCV, v)
		p, err := shareClip(ctx, src, filepath.Join(dir, fmt.Sprintf("plain%d.mp4", i)), nil, cfg.Seconds)
		if err != nil {
			return OCRShareReport{}, err
		}
		plain = append(plain, p)
		if p, err = shareClip(ctx, src, filepath.Join(dir, fmt.Sprintf("captioned%d.mp4", i)), ocrShareCaptions, cfg.Seconds); err != nil {
			return OCRShareReport{}, err
		}
		captioned = append(captioned, p)
	}
	var analyzers [2]*analyze.Analyzer
	for i, ocr := range []encoders.OCRConfig{{NoTesseract: true}, {}} {
		a, unload, err := app.LoadAnalyzer(app.Config{ModelsDir: cfg.ModelsDir, ORTLib: cfg.ORTLib, OCR: ocr})
		if err != nil {
			return OCRShareReport{}, err
		}
		defer unload()
		analyzers[i] = a
	}
	opts := analyze.Options{Thumbnails: true, Safety: true} // as the worker asks

	// share runs every clip of a kind once under analyzer a and returns
	// the on-screen text stage's share of the CPU time.
	share := func(a *analyze.Analyzer, clips []string) (float64, error) {
		var ocr, all time.Duration
		o := opts
		o.Around = func(stage string, run func() error) error {
			c0 := cpuTime()
			err := run()
			d := cpuTime() - c0
			all += d
			if stage == "ocr" {
				ocr += d
			}
			return err
		}
		for _, c := range clips {
			if _, err := a.Source(ctx, c, o); err != nil {
				return 0, fmt.Errorf("%s: %w", c, err)
			}
		}
		return ocr.Seconds() / all.Seconds(), nil
	}
	var runs [2][2][]float64 // [kind][config] per run
	for run := range ocrShareRuns {
		for k, clips := range [][]string{captioned, plain} {
			for i := range 2 {
				cfgIdx := (i + run) % 2 // alternate which goes first
				s, err := share(analyzers[cfgIdx], clips)
				if err != nil {
					return OCRShareReport{}, err
				}
				runs[k][cfgIdx] = append(runs[k][cfgIdx], s)
			}
		}
	}
	var r OCRShareReport
	for c := range 2 {
		r.Captioned[c], r.Plain[c] = median(runs[0][c]), median(runs[1][c])
	}
	gc, gp := r.Growth()
	fmt.Fprintf(w, "on-screen text's share of a job's analysis CPU (opencv-doc's %s at %d s, 720p H.264, captions %q; median of %d interleaved runs):\n",
		strings.Join(ocrShareVideos, ", "), cfg.Seconds, ocrShareCaptions, ocrShareRuns)
	fmt.Fprintf(w, "%-26s %14s %22s %8s\n", "CLIPS", "PP-OCR ALONE", "PP-OCR + TESSERACT", "GROWTH")
	fmt.Fprintf(w, "%-26s %13.1f%% %21.1f%% %+7.1f%% (goal ≤ +20%%)\n", fmt.Sprintf("with captions (%d)", len(captioned)), 100*r.Captioned[0], 100*r.Captioned[1], 100*(gc-1))
	fmt.Fprintf(w, "%-26s %13.1f%% %21.1f%% %+7.1f%% (goal: none)\n", fmt.Sprintf("without text (%d)", len(plain)), 100*r.Plain[0], 100*r.Plain[1], 100*(gp-1))
	return r, nil
}

// shareClip re-encodes seconds of src to 1280×720 H.264 (letterboxed),
// with captions burned in one after the other when given.
func shareClip(ctx context.Context, src, out string, captions []string, seconds int) (string, error) {
	vf := "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"
	step := float64(seconds) / float64(max(1, len(captions)))
	for i, c := range captions {
		vf += fmt.Sprintf(",drawtext=fontfile=%s:fontsize=48:text='%s':fontcolor=white:borderw=4:bordercolor=black:x=(w-tw)/2:y=h-th-80:enable='gte(t,%g)*lt(t,%g)'",
			captionFont, c, float64(i)*step, float64(i+1)*step)
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", src, "-t", fmt.Sprint(seconds),
		"-vf", vf, "-an", "-r", "30", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make %s (scripts/setup installs opencv-doc): %v: %s", filepath.Base(out), err, b)
	}
	return out, nil
}

// captionFont is a font of Debian's fonts-dejavu-core.
const captionFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
