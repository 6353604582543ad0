// Package realclips makes short clips from real media that Debian packages
// ship (opencv-doc's videos and photographs, scikit-image's sample
// images), with the titles a person would give them, and the edits people
// make when they repost a clip. The calibration benchmark, its test and
// `make demo` use them; nothing here is in git but the recipes.
package realclips

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mediavec/mediavec/internal/testmedia"
)

// Source is one piece of real content in the calibration set: a
// Debian-packaged video, or a photograph or painting made into a short
// clip with a slow zoom, with the title a person would give it and a
// query that says the same in other words.
type Source struct {
	Name  string
	Path  string  // the real medium
	Still bool    // a photograph made into a clip
	From  float64 // a video's first second used
	Title string
	Query string // a text query for it, in other words than the title
	Words string // a text query of words from the title, as people type them
	Voice bool   // the title spoken over it (espeak-ng), as a narrated upload
}

// Sources are the calibration set's contents, from Debian's opencv-doc
// and scikit-image's sample images (scripts/setup installs both). The last
// few are never indexed: their queries have no match, as a query about
// something the platform does not hold.
func Sources() []Source {
	cv := func(n string) string { return filepath.Join(testmedia.OpenCV, n) }
	sk := func(n string) string { return filepath.Join(testmedia.SKImage(), n) }
	return []Source{
		{Name: "vtest", Path: cv("vtest.avi"), Title: "People walking across a university campus", Query: "pedestrians strolling past a lawn", Words: "people walking campus"},
		{Name: "megamind", Path: cv("Megamind.avi"), Title: "Animated couple talking at a candlelit restaurant", Query: "cartoon characters on a dinner date", Words: "animated couple restaurant"},
		{Name: "tree", Path: cv("tree.avi"), Title: "A tree swaying in the wind outside a window", Query: "leafy branches moving in the breeze", Words: "tree swaying wind"},
		{Name: "messi", Path: cv("messi5.jpg"), Still: true, Voice: true, Title: "Football player dribbling past defenders", Query: "soccer star running with the ball", Words: "football player dribbling"},
		{Name: "fruits", Path: cv("fruits.jpg"), Still: true, Title: "A bowl of fresh fruit", Query: "healthy produce on the kitchen counter", Words: "bowl of fruit"},
		{Name: "palace", Path: cv("home.jpg"), Still: true, Voice: true, Title: "Birds flying over an old palace", Query: "pigeons circling a historic monument", Words: "birds over palace"},
		{Name: "hotel", Path: cv("building.jpg"), Still: true, Title: "Modern hotel building with a glass entrance", Query: "multi-storey accommodation facade", Words: "hotel building"},
		{Name: "starry", Path: cv("starry_night.jpg"), Still: true, Voice: true, Title: "Van Gogh's The Starry Night painting", Query: "swirling night sky masterpiece", Words: "starry night van gogh"},
		{Name: "mandrill", Path: cv("baboon.jpg"), Still: true, Title: "Close-up of a mandrill's colourful face", Query: "primate with a red and blue nose", Words: "mandrill face"},
		{Name: "butterfly", Path: cv("butterfly.jpg"), Still: true, Voice: true, Title: "Black and white butterfly resting on a leaf", Query: "swallowtail insect on green foliage", Words: "butterfly on a leaf"},
		{Name: "aerial", Path: cv("aero1.jpg"), Still: true, Title: "Aerial view of a city beside a river", Query: "drone footage over town and water", Words: "aerial view of a city"},
		{Name: "car", Path: cv("licenseplate_motion.jpg"), Still: true, Voice: true, Title: "Silver car driving away in the rain", Query: "sedan leaving on a wet road", Words: "car in the rain"},
		{Name: "candy", Path: cv("smarties.png"), Still: true, Title: "Colourful chocolate candies on a white table", Query: "sweets scattered in many hues", Words: "chocolate candies"},
		{Name: "basketball", Path: cv("basketball1.png"), Still: true, Voice: true, Title: "Basketball practice in a school gym", Query: "players shooting hoops indoors", Words: "basketball practice"},
		{Name: "dog", Path: cv("chicky_512.png"), Still: true, Title: "A happy little dog with its tongue out", Query: "cute puppy panting", Words: "happy dog"},
		{Name: "fish", Path: cv("HappyFish.jpg"), Still: true, Voice: true, Title: "Cartoon drawing of a smiling fish", Query: "colourful illustrated goldfish with bubbles", Words: "cartoon fish"},
		{Name: "astronaut", Path: sk("astronaut.png"), Still: true, Title: "Portrait of an astronaut in a spacesuit", Query: "NASA crew member photo", Words: "astronaut portrait"},
		{Name: "cameraman", Path: sk("camera.png"), Still: true, Voice: true, Title: "Photographer looking through a camera on a tripod", Query: "man filming outdoors with vintage equipment", Words: "photographer with a tripod"},
		{Name: "cat", Path: sk("chelsea.png"), Still: true, Title: "A tabby cat looking up", Query: "curious kitten gazing upwards", Words: "tabby cat"},
		{Name: "coffee", Path: sk("coffee.png"), Still: true, Voice: true, Title: "A cup of coffee on a saucer", Query: "hot espresso drink", Words: "cup of coffee"},
		{Name: "horse", Path: sk("horse.png"), Still: true, Title: "Silhouette of a galloping horse", Query: "black stallion shape running", Words: "galloping horse"},
		{Name: "motorcycle", Path: sk("motorcycle_left.png"), Still: true, Voice: true, Title: "Red sports motorcycle parked in a garage", Query: "motorbike in a workshop", Words: "red motorcycle"},
		{Name: "rocket", Path: sk("rocket.jpg"), Still: true, Title: "Rocket on the launch pad at dusk", Query: "spacecraft ready for liftoff", Words: "rocket launch pad"},
		{Name: "galaxies", Path: sk("hubble_deep_field.jpg"), Still: true, Voice: true, Title: "Thousands of distant galaxies in deep space", Query: "telescope image of the early universe", Words: "distant galaxies"},
		// Never indexed.
		{Name: "moon", Path: sk("moon.png"), Still: true, Title: "The cratered surface of the moon", Query: "lunar landscape close up", Words: "moon craters"},
		{Name: "coins", Path: sk("coins.png"), Still: true, Voice: true, Title: "Ancient silver coins laid out in rows", Query: "old currency collection", Words: "silver coins"},
		{Name: "suzanne", Path: cv("Blender_Suzanne1.jpg"), Still: true, Title: "3D render of a monkey head", Query: "computer graphics chimp model", Words: "monkey head render"},
		{Name: "desk", Path: cv("stuff.jpg"), Still: true, Voice: true, Title: "A pencil, a ball and a lighter on a desk", Query: "office objects on a tabletop", Words: "pencil on a desk"},
	}
}

// Unindexed is how many of Sources, at the end, are never indexed.
const Unindexed = 4

// UnrelatedText are text queries about nothing in the set.
var UnrelatedText = []string{"recipe for chocolate cake", "how to change a flat tyre", "mountain biking downhill race", "stock market news today"}

// Edit is one repost edit of a clip, as ffmpeg arguments around the
// input: video filters, audio filters and extra output options.
type Edit struct {
	Name   string
	vf, af string
	out    []string
}

var Edits = []Edit{
	{Name: "half size, low bitrate", vf: "scale=iw/2:-2", out: []string{"-crf", "35"}},
	{Name: "10% crop", vf: "crop=iw*0.9:ih*0.9,scale=trunc(iw/0.9/2)*2:trunc(ih/0.9/2)*2"},
	{Name: "text overlay", vf: "drawtext=text='@repost  #fyp':fontcolor=white:fontsize=h/10:box=1:boxcolor=black@0.5:x=(w-text_w)/2:y=h*0.75"},
	{Name: "first 2 s cut", out: []string{"-ss", "2"}},
	{Name: "1.1x speed", vf: "setpts=PTS/1.1", af: "atempo=1.1"},
	{Name: "grayscale, brighter", vf: "hue=s=0,eq=brightness=0.06"},
}

// Clip makes a source's clip: a video's first seconds re-encoded, or a
// still with a slow zoom, 640×360, with the title spoken when Voice is set.
func Clip(ctx context.Context, src Source, dir string) (string, error) {
	out := filepath.Join(dir, src.Name+".mp4")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := os.Stat(src.Path); err != nil {
		return "", fmt.Errorf("%w (run scripts/setup: it installs the real media)", err)
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-y"}
	const seconds = "6"
	frame := "scale=640:360:force_original_aspect_ratio=increase,crop=640:360,setsar=1"
	if src.Still {
		args = append(args, "-loop", "1", "-framerate", "25", "-i", src.Path)
		frame = "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,setsar=1," +
			"zoompan=z='min(zoom+0.0012,1.18)':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s=640x360:fps=25"
	} else {
		args = append(args, "-ss", fmt.Sprint(src.From), "-i", src.Path)
	}
	audio := !src.Still && hasAudio(ctx, src.Path)
	if src.Voice {
		wav := filepath.Join(dir, src.Name+".wav")
		if out, err := exec.CommandContext(ctx, "espeak-ng", "-w", wav, src.Title).CombinedOutput(); err != nil {
			return "", fmt.Errorf("espeak-ng (scripts/setup installs it): %v: %s", err, out)
		}
		args = append(args, "-i", wav, "-map", "0:v", "-map", "1:a", "-af", "apad")
		audio = true
	}
	args = append(args, "-t", seconds, "-vf", frame+",format=yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-r", "25")
	if audio {
		args = append(args, "-c:a", "aac", "-ar", "44100")
	} else {
		args = append(args, "-an")
	}
	args = append(args, out)
	if b, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("make %s: %v: %s", src.Name, err, b)
	}
	return out, nil
}

func hasAudio(ctx context.Context, path string) bool {
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0", path).Output()
	return err == nil && len(out) > 0
}

// Repost applies an edit to a clip.
func Repost(ctx context.Context, clip string, e Edit, out string) error {
	args := []string{"-hide_banner", "-loglevel", "error", "-y"}
	var post []string
	for i := 0; i < len(e.out); i++ {
		if e.out[i] == "-ss" { // an input seek: the first seconds cut
			args = append(args, "-ss", e.out[i+1])
			i++
			continue
		}
		post = append(post, e.out[i])
	}
	args = append(args, "-i", clip)
	if e.vf != "" {
		args = append(args, "-vf", e.vf)
	}
	if e.af != "" {
		args = append(args, "-af", e.af)
	}
	args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
	args = append(args, post...)
	args = append(args, out)
	if b, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("repost %s (%s): %v: %s", filepath.Base(clip), e.Name, err, b)
	}
	return nil
}

// Frame writes a JPEG of a clip's frame at 2.5 s, re-compressed, and
// cropped by a tenth when crop is set: a screenshot shared as a query.
func Frame(ctx context.Context, clip string, crop bool, out string) error {
	vf := "null"
	if crop {
		vf = "crop=iw*0.9:ih*0.9"
	}
	b, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", "2.5", "-i", clip,
		"-frames:v", "1", "-vf", vf, "-q:v", "8", out).CombinedOutput()
	if err != nil {
		return fmt.Errorf("frame of %s: %v: %s", filepath.Base(clip), err, b)
	}
	return nil
}

// DemoNames are the sources `make demo` indexes.
var DemoNames = []string{"vtest", "megamind", "tree", "messi", "fruits", "palace", "starry", "mandrill", "astronaut", "cat", "coffee", "horse", "rocket", "galaxies"}

// The demo's queries, under DIR/queries: vtest re-encoded at half size
// and a low bitrate, a cropped screenshot of the cat, and words that
// describe the animated clip without naming it.
const (
	DemoCopy   = "queries/vtest-copy.mp4"
	DemoImage  = "queries/cat-screenshot.jpg"
	DemoPhrase = "cartoon characters on a dinner date"
)

// MakeDemo writes the demo's clips under dir/media, dir/titles.tsv (each
// clip's path and title, tab-separated) and the queries; a clip already
// there is kept.
func MakeDemo(ctx context.Context, dir string) error {
	media := filepath.Join(dir, "media")
	if err := os.MkdirAll(filepath.Join(dir, "queries"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(media, 0o755); err != nil {
		return err
	}
	byName := map[string]Source{}
	for _, s := range Sources() {
		byName[s.Name] = s
	}
	var titles []byte
	clips := map[string]string{}
	for _, n := range DemoNames {
		src, ok := byName[n]
		if !ok {
			return fmt.Errorf("no source %q", n)
		}
		p, err := Clip(ctx, src, media)
		if err != nil {
			return err
		}
		clips[n] = p
		titles = fmt.Appendf(titles, "%s\t%s\n", p, src.Title)
	}
	if err := os.WriteFile(filepath.Join(dir, "titles.tsv"), titles, 0o644); err != nil {
		return err
	}
	if err := Repost(ctx, clips["vtest"], Edits[0], filepath.Join(dir, DemoCopy)); err != nil {
		return err
	}
	return Frame(ctx, clips["cat"], true, filepath.Join(dir, DemoImage))
}
