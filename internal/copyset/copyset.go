// Package copyset makes the copy-detection evaluation set: real content
// from Debian packages (opencv-doc's videos and photographs,
// scikit-image's, Pingus's music) as 720p sources with soundtracks, each
// reposted the ways people repost on short-video apps, negatives that
// share a street, a tree or a synthetic voice with the sources without
// being copies, and trend-sound pairs (a source's soundtrack under other
// pictures). Only the recipes are in git; the clips are made with the
// ffmpeg CLI.
package copyset

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mediavec/mediavec/internal/realclips"
	"github.com/mediavec/mediavec/internal/testmedia"
)

// Seconds is a source clip's length.
const Seconds = 8

// Music is Pingus's music folder (Debian pingus-data): tracker modules
// FFmpeg plays through libopenmpt.
const Music = "/usr/share/games/pingus/data/music"

// tracks are the Pingus modules at least 23 s long, each a different
// piece: one per source, never shared. rough_journey.it is not among
// them: its channels are in opposite phase, and the mono mix every
// fingerprint is taken from is silence.
var tracks = []string{"gd-cancn.it", "gd-giirm.s3m", "gd-ite.it", "gd-matth.it", "gd-myla.it", "goin_march.it",
	"pingus-1.it", "pingus-2.it", "pingus-3.it", "pingus-4.it", "pingus-5.it", "pingus-6.it",
	"pingus-7.it", "pingus-8.it", "pingus-9.it", "sorcerer.it", "the_big_march_in_space.it"}

// Clip is one piece of content: a video's seconds from From, or a still
// with a slow zoom, with a soundtrack (a video's own audio, a music
// track, or its title spoken by espeak-ng).
type Clip struct {
	Name     string
	Path     string // the real medium
	Still    bool
	From     float64
	Portrait bool   // made 720×1280 instead of 1280×720
	Music    string // a Pingus track under it, from MusicFrom
	Voice    string // words espeak-ng speaks over it (when no Music)
	Own      bool   // the video's own soundtrack
}

// Sources are the indexed content: calibration's 24 indexed sources (three
// real videos, the rest photographs and paintings), six of them portrait,
// each with a soundtrack of its own.
func Sources() []Clip {
	all := realclips.Sources()
	all = all[:len(all)-realclips.Unindexed]
	portrait := map[string]bool{"rocket": true, "dog": true, "astronaut": true, "cat": true, "coffee": true, "butterfly": true}
	var out []Clip
	t := 0
	for _, s := range all {
		c := Clip{Name: s.Name, Path: s.Path, Still: s.Still, From: s.From, Portrait: portrait[s.Name]}
		switch {
		case s.Name == "megamind":
			c.Own = true
		case t < len(tracks):
			c.Music = tracks[t]
			t++
		default:
			// Title, paraphrase and keywords: seconds of speech, a
			// soundtrack long enough to fingerprint.
			c.Voice = s.Title + ". " + s.Query + ". " + s.Words + "."
		}
		out = append(out, c)
	}
	return out
}

// Negatives are content that is not indexed: other photographs, the
// calibration set's unindexed sources, and the same street and tree as
// two sources at other moments (a shared background, not a copy), each
// with a narration in the same synthetic voice as some sources.
func Negatives() []Clip {
	cv := func(n string) string { return filepath.Join(testmedia.OpenCV, n) }
	sk := func(n string) string { return filepath.Join(testmedia.SKImage(), n) }
	var out []Clip
	for _, s := range realclips.Sources()[len(realclips.Sources())-realclips.Unindexed:] {
		out = append(out, Clip{Name: s.Name, Path: s.Path, Still: true, Voice: s.Title})
	}
	out = append(out,
		Clip{Name: "street-22s", Path: cv("vtest.avi"), From: 22, Voice: "The same campus path later in the day"},
		Clip{Name: "street-45s", Path: cv("vtest.avi"), From: 45, Voice: "Students walk to their next lecture"},
		Clip{Name: "street-66s", Path: cv("vtest.avi"), From: 66, Voice: "More people crossing the square"},
		Clip{Name: "tree-15s", Path: cv("tree.avi"), From: 15, Voice: "The wind picks up outside the window"},
	)
	photos := []struct{ name, path, words string }{
		{"apple", cv("apple.jpg"), "A red apple on a white background"},
		{"orange", cv("orange.jpg"), "A ripe orange ready to peel"},
		{"aloe", cv("aloeL.jpg"), "An aloe plant in a pot"},
		{"leuven", cv("leuvenA.jpg"), "Old town houses in Leuven"},
		{"graffiti", cv("graf1.png"), "Graffiti on a city wall"},
		{"board", cv("board.jpg"), "A game board on a table"},
		{"boxes", cv("box_in_scene.png"), "A box among other things on a shelf"},
		{"squirrel", cv("squirrel_cls.jpg"), "A squirrel eating a nut"},
		{"ela", cv("ela_original.jpg"), "A photograph to check for edits"},
		{"suzanne2", cv("Blender_Suzanne2.jpg"), "Another render of the monkey head"},
		{"cards", cv("cards.png"), "Playing cards spread on a table"},
		{"whale", cv("rubberwhale1.png"), "A rubber whale toy on a desk"},
		{"brick", sk("brick.png"), "A red brick wall up close"},
		{"grass", sk("grass.png"), "Green grass in the sun"},
		{"retina", sk("retina.jpg"), "A scan of the back of an eye"},
		{"clock", sk("clock_motion.png"), "A clock on the wall"},
	}
	for _, p := range photos {
		out = append(out, Clip{Name: p.name, Path: p.path, Still: true, Voice: p.words})
	}
	return out
}

// Edit is one way of reposting a clip.
type Edit struct {
	Name string
	// make writes the edited copy of src (a source clip) to out; other is
	// a different clip (a negative, for picture-in-picture backgrounds; a
	// source, for splices) and i the source's number, which varies sizes
	// and positions across the set.
	make func(ctx context.Context, src Clip, srcPath, other, out string, i int) error
}

const font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

// encode is the output options of an edited copy: h264 as apps re-encode,
// the audio kept.
var encode = []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"}

// filtered returns an edit that runs a video filter over the clip (fill
// in %W×%H for the clip's size).
func filtered(name string, vf func(w, h, i int) string, extra ...string) Edit {
	return Edit{Name: name, make: func(ctx context.Context, src Clip, in, _, out string, i int) error {
		w, h := src.size()
		args := []string{"-i", in, "-vf", vf(w, h, i) + ",format=yuv420p"}
		args = append(args, extra...)
		if len(extra) == 0 {
			args = append(args, encode...)
		}
		return ffmpeg(ctx, append(args, out)...)
	}}
}

// Edits are the repost edits of the evaluation set.
var Edits = []Edit{
	// 16:9 into 9:16 (or 9:16 into 16:9) centred over a blurred, zoomed
	// copy of itself, the most common repost of all.
	{Name: "reframe-blur", make: func(ctx context.Context, src Clip, in, _, out string, i int) error {
		W, H := 720, 1280
		if src.Portrait {
			W, H = 1280, 720
		}
		fg := fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease", W, H)
		bg := fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=increase,crop=%d:%d,boxblur=24:2", W, H, W, H)
		return ffmpeg(ctx, append([]string{"-i", in, "-filter_complex",
			fmt.Sprintf("[0:v]split[a][b];[a]%s[bg];[b]%s[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2,setsar=1,format=yuv420p[v]", bg, fg),
			"-map", "[v]", "-map", "0:a?"}, append(encode, out)...)...)
	}},
	filtered("reframe-black", func(w, h, i int) string {
		W, H := 720, 1280
		if h > w {
			W, H = 1280, 720
		}
		return fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2:black,setsar=1", W, H, W, H)
	}),
	// Bars top and bottom (a 4:3 frame) or, for portrait clips, at the
	// sides of a 3:4 one.
	filtered("letterbox", func(w, h, i int) string {
		if h > w {
			return "pad=ih*3/4:ih:(ow-iw)/2:0:black,setsar=1"
		}
		return "pad=iw:iw*3/4:0:(oh-ih)/2:black,setsar=1"
	}),
	// The original at 40–60 % of the frame over other content.
	{Name: "pip", make: func(ctx context.Context, src Clip, in, other, out string, i int) error {
		w, h := src.size()
		scale := []float64{0.4, 0.5, 0.6}[i%3]
		pos := []string{"W*0.04:H*0.05", "W-w-W*0.04:H*0.05", "(W-w)/2:(H-h)/2", "W*0.04:H-h-H*0.05", "W-w-W*0.04:H-h-H*0.05"}[i%5]
		return ffmpeg(ctx, append([]string{"-i", other, "-i", in, "-filter_complex",
			fmt.Sprintf("[0:v]scale=%d:%d,setsar=1[bg];[1:v]scale=trunc(%d*%g/2)*2:-2,setsar=1[fg];[bg][fg]overlay=%s:shortest=1,format=yuv420p[v]", w, h, w, scale, pos),
			"-map", "[v]", "-map", "1:a?", "-t", fmt.Sprint(Seconds)}, append(encode, out)...)...)
	}},
	// A caption banner (12 % of the frame) and a sticker (about 6 %).
	{Name: "banner", make: func(ctx context.Context, src Clip, in, _, out string, i int) error {
		w, h := src.size()
		y := []string{"0", "ih*0.88"}[i%2]
		sticker := []string{"symbols/shapes/star.png", "plants/flowers/rose.png", "plants/flowers/daffodil.png"}[i%3]
		side := int(float64(min(w, h)) * 0.24)
		return ffmpeg(ctx, append([]string{"-i", in, "-i", filepath.Join(testmedia.Stamps, sticker), "-filter_complex",
			fmt.Sprintf("[0:v]drawbox=x=0:y=%s:w=iw:h=ih*0.12:color=0xF2C200@1:t=fill,"+
				"drawtext=fontfile=%s:text='wait for it 😂 #fyp':fontcolor=black:fontsize=h*0.06:x=(w-text_w)/2:y=%s+h*0.03[a];"+
				"[1:v]scale=%d:%d:force_original_aspect_ratio=decrease[s];[a][s]overlay=W-w-W*0.05:H*0.3,format=yuv420p[v]", y, font, strings.ReplaceAll(y, "ih", "h"), side, side),
			"-map", "[v]", "-map", "0:a?"}, append(encode, out)...)...)
	}},
	// A semi-transparent logo in a corner and a handle.
	{Name: "logo", make: func(ctx context.Context, src Clip, in, _, out string, i int) error {
		w, _ := src.size()
		return ffmpeg(ctx, append([]string{"-i", in, "-i", filepath.Join(testmedia.OpenCV, "opencv-logo.png"), "-filter_complex",
			fmt.Sprintf("[1:v]scale=%d:-2,format=rgba,colorchannelmixer=aa=0.7[l];[0:v][l]overlay=W-w-W*0.03:H*0.04,"+
				"drawtext=fontfile=%s:text='@clipz.daily':fontcolor=white@0.8:fontsize=h*0.045:x=w*0.03:y=h-h*0.08,format=yuv420p[v]", w/8, font),
			"-map", "[v]", "-map", "0:a?"}, append(encode, out)...)...)
	}},
	filtered("hflip", func(w, h, i int) string { return "hflip" }),
	// Up to 30 % cropped away (a 70–80 % window, centred or off-centre)
	// and zoomed back to the frame.
	filtered("crop-zoom", func(w, h, i int) string {
		f := []float64{0.7, 0.75, 0.8}[i%3]
		x := []string{"(iw-ow)/2", "0", "iw-ow", "(iw-ow)/3"}[i%4]
		y := []string{"(ih-oh)/2", "(ih-oh)/2", "0", "ih-oh"}[i%4]
		return fmt.Sprintf("crop=iw*%g:ih*%g:%s:%s,scale=%d:%d,setsar=1", f, f, x, y, w, h)
	}),
	{Name: "speed-0.8", make: speed(0.8)},
	{Name: "speed-1.25", make: speed(1.25)},
	filtered("fps-15", func(w, h, i int) string { return "fps=15" }),
	filtered("grade", func(w, h, i int) string {
		return "eq=contrast=1.25:saturation=1.6:gamma=0.9,colorbalance=rs=0.15:gs=0.05:bs=-0.2:rh=0.1:bh=-0.1"
	}),
	filtered("grayscale", func(w, h, i int) string { return "hue=s=0" }),
	filtered("sepia", func(w, h, i int) string {
		return "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131"
	}),
	filtered("hevc-300k", func(w, h, i int) string { return "scale=-2:480" },
		"-c:v", "libx265", "-preset", "ultrafast", "-b:v", "300k", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "64k"),
	filtered("vp9-250k", func(w, h, i int) string { return "scale=-2:480" },
		"-c:v", "libvpx-vp9", "-b:v", "250k", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "48k"),
	// Three seconds from the middle of the clip.
	{Name: "excerpt-3s", make: func(ctx context.Context, src Clip, in, _, out string, i int) error {
		return ffmpeg(ctx, append([]string{"-ss", "3", "-t", "3", "-i", in}, append(encode, out)...)...)
	}},
	// Three seconds of this clip, then three of another source: both are
	// to be found, each with its time range.
	{Name: "splice", make: func(ctx context.Context, src Clip, in, other, out string, i int) error {
		fit := "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2:black,setsar=1,fps=25,format=yuv420p"
		return ffmpeg(ctx, append([]string{"-ss", "1", "-t", "3", "-i", in, "-ss", "2", "-t", "3", "-i", other, "-filter_complex",
			fmt.Sprintf("[0:v]%s[a];[1:v]%s[b];[0:a]aresample=44100,aformat=channel_layouts=stereo[x];[1:a]aresample=44100,aformat=channel_layouts=stereo[y];[a][x][b][y]concat=n=2:v=1:a=1[v][s]", fit, fit),
			"-map", "[v]", "-map", "[s]"}, append(encode, out)...)...)
	}},
}

// SpliceSecond is where a splice's second clip starts, in the copy.
const SpliceSecond = 3.0

func speed(f float64) func(ctx context.Context, src Clip, in, _, out string, i int) error {
	return func(ctx context.Context, src Clip, in, _, out string, i int) error {
		return ffmpeg(ctx, append([]string{"-i", in, "-vf", fmt.Sprintf("setpts=PTS/%g", f), "-af", fmt.Sprintf("atempo=%g", f)}, append(encode, out)...)...)
	}
}

// size is the clip's frame size.
func (c Clip) size() (int, int) {
	if c.Portrait {
		return 720, 1280
	}
	return 1280, 720
}

// Make writes the clip as dir/NAME.mp4 (kept when it is already there).
func Make(ctx context.Context, c Clip, dir string) (string, error) {
	out := filepath.Join(dir, c.Name+".mp4")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := os.Stat(c.Path); err != nil {
		return "", fmt.Errorf("%w (run scripts/setup: it installs the real media)", err)
	}
	w, h := c.size()
	var args []string
	frame := fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=increase,crop=%d:%d,setsar=1", w, h, w, h)
	if c.Still {
		args = append(args, "-loop", "1", "-framerate", "25", "-i", c.Path)
		frame += fmt.Sprintf(",zoompan=z='min(zoom+0.0008,1.15)':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s=%dx%d:fps=25", w, h)
	} else {
		args = append(args, "-ss", fmt.Sprint(c.From), "-i", c.Path)
	}
	switch {
	case c.Own:
		args = append(args, "-map", "0:v", "-map", "0:a")
	case c.Music != "":
		args = append(args, "-ss", "4", "-i", filepath.Join(Music, c.Music), "-map", "0:v", "-map", "1:a")
	default:
		wav := filepath.Join(dir, c.Name+".wav")
		if b, err := exec.CommandContext(ctx, "espeak-ng", "-w", wav, c.Voice).CombinedOutput(); err != nil {
			return "", fmt.Errorf("espeak-ng (scripts/setup installs it): %v: %s", err, b)
		}
		args = append(args, "-i", wav, "-map", "0:v", "-map", "1:a", "-af", "apad")
	}
	args = append(args, "-t", fmt.Sprint(Seconds), "-vf", frame+",format=yuv420p", "-r", "25")
	args = append(args, encode...)
	tmp := partial(out)
	args = append(args, "-ar", "44100", tmp)
	if err := ffmpeg(ctx, args...); err != nil {
		return "", fmt.Errorf("make %s: %w", c.Name, err)
	}
	return out, os.Rename(tmp, out)
}

// partial is where a clip is written before it is renamed into place, so
// a run cut short leaves no half clip that the next run would keep.
func partial(out string) string {
	return filepath.Join(filepath.Dir(out), ".partial-"+filepath.Base(out))
}

// Repost writes the edit of a source clip (made by Make) to out.
func Repost(ctx context.Context, e Edit, src Clip, srcPath, other, out string, i int) error {
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	if err := e.make(ctx, src, srcPath, other, partial(out), i); err != nil {
		return fmt.Errorf("repost %s (%s): %w", src.Name, e.Name, err)
	}
	return os.Rename(partial(out), out)
}

// TrendSound writes a clip of picture's frames under sound's soundtrack,
// from 1.5 s into it: the same sound, other pictures.
func TrendSound(ctx context.Context, picture, sound, out string) error {
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	if err := ffmpeg(ctx, append([]string{"-i", picture, "-ss", "1.5", "-i", sound, "-map", "0:v", "-map", "1:a", "-t", "6"}, append(encode, partial(out))...)...); err != nil {
		return err
	}
	return os.Rename(partial(out), out)
}

func ffmpeg(ctx context.Context, args ...string) error {
	args = append([]string{"-hide_banner", "-loglevel", "error", "-y", "-threads", "1"}, args...)
	if b, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg %s: %v: %s", strings.Join(args, " "), err, b)
	}
	return nil
}
