// Package analyze is the one decode-and-encode path of mediavec: an upload in
// the worker and a query video in search both go through Source, so a query
// is embedded exactly as the videos it is compared with.
package analyze

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// Config sets sampling and which spaces to compute.
type Config struct {
	// Decode is passed to decode; its Frames are set to what the frame
	// encoders need, and NoAudio/NoVideo to the spaces asked for.
	Decode decode.Config
	// AudioSegment is the length of one audio segment; the speech
	// embeddings inside it are pooled into one vector. Defaults to 2s.
	AudioSegment time.Duration
	// OCREvery reads on-screen text on every OCREvery-th sampled frame
	// (2: every other one). Defaults to 2.
	OCREvery int
	// OCRWidth is the width frames are read at; the height keeps the
	// aspect ratio. Defaults to 640.
	OCRWidth int
	// MaxOCRFrames caps the frames read per video. Defaults to 60.
	MaxOCRFrames int
	// MaxObjectFrames caps the frames CenterNet sees per video, spread
	// over the whole video (each is a 512×512 RGB image in memory).
	// Defaults to 120: every frame of a two-minute video at fps=1.
	MaxObjectFrames int
	// LabelMinScore is the detection score from which an object becomes
	// a label of its frame: in the segment payload, the video's label
	// summary and the timed text. Defaults to 0.25.
	LabelMinScore float32
}

// Models are the loaded models an Analyzer uses; a nil one is not used.
type Models struct {
	Speech *encoders.Speech // audio_speech_v1
	VAD    *encoders.VAD    // the speech share of each audio segment
	OCR    *encoders.OCR    // on-screen text, into text_lexical_v1
	// CLIP models each add a frame space ("clip_NAME") that text queries
	// can search too.
	CLIP []*encoders.CLIPModel
	// CenterNet gives frame_centernet_v1 and the COCO object labels of
	// frames (objects_centernet_v1), which also become text.
	CenterNet *encoders.CenterNet
}

// SpaceInfo describes one space: what the index needs to hold it.
type SpaceInfo struct {
	Name     string
	Modality string // frame, audio or text
	Dim      int    // dense dimension; 0 for a sparse space
	Sparse   bool
}

// BuiltinSpaces lists the spaces of the shipped models, in order; an
// Analyzer adds one per CLIP-family model it is given (Analyzer.Spaces).
var BuiltinSpaces = []SpaceInfo{
	{Name: encoders.SpaceFrameDCT, Modality: "frame", Dim: encoders.FrameDCTDim},
	{Name: encoders.SpaceAudioSpeech, Modality: "audio", Dim: encoders.SpeechDim},
	{Name: encoders.SpaceTextLexical, Modality: "text", Sparse: true},
	{Name: encoders.SpaceFrameCenterNet, Modality: "frame", Dim: encoders.CenterNetDim},
}

// Analyzer embeds videos. It is safe for concurrent use.
type Analyzer struct {
	cfg    Config
	speech *encoders.Speech
	vad    *encoders.VAD
	ocr    *encoders.OCR
	objs   *encoders.CenterNet
	clip   map[string]*encoders.CLIPModel // by space
	spaces []SpaceInfo
	text   encoders.TextLexical
}

// New returns an Analyzer over the given models. Without Speech, jobs that
// ask for audio_speech_v1 fail with a model error; without VAD or OCR,
// segments carry no speech share and no on-screen text.
func New(cfg Config, m Models) *Analyzer {
	if cfg.AudioSegment <= 0 {
		cfg.AudioSegment = 2 * time.Second
	}
	if cfg.OCREvery <= 0 {
		cfg.OCREvery = 2
	}
	if cfg.OCRWidth <= 0 {
		cfg.OCRWidth = 640
	}
	if cfg.MaxOCRFrames <= 0 {
		cfg.MaxOCRFrames = 60
	}
	if cfg.MaxObjectFrames <= 0 {
		cfg.MaxObjectFrames = 120
	}
	if cfg.LabelMinScore <= 0 {
		cfg.LabelMinScore = 0.25
	}
	a := &Analyzer{cfg: cfg, speech: m.Speech, vad: m.VAD, ocr: m.OCR, objs: m.CenterNet, clip: map[string]*encoders.CLIPModel{}}
	a.spaces = slices.Clone(BuiltinSpaces)
	for _, c := range m.CLIP {
		a.clip[c.Space()] = c
		a.spaces = append(a.spaces, SpaceInfo{Name: c.Space(), Modality: "frame", Dim: c.Dim()})
	}
	return a
}

// Spaces lists every space this analyzer knows, the CLIP ones last.
func (a *Analyzer) Spaces() []SpaceInfo { return slices.Clone(a.spaces) }

// Space returns one space's description.
func (a *Analyzer) Space(name string) (SpaceInfo, bool) {
	for _, s := range a.spaces {
		if s.Name == name {
			return s, true
		}
	}
	return SpaceInfo{}, false
}

// ThumbKey names the thumbnail of the frame sampled at t seconds (a frame
// segment's t_start): t in milliseconds, rounded. Clients compute the same
// from a match's t_start: Math.round(t_start * 1000).
func ThumbKey(t float64) int64 { return int64(math.Round(t * 1000)) }

// ThumbWidth is the width of the JPEG thumbnails of sampled frames; the
// height keeps the video's aspect ratio.
const ThumbWidth = 192

// Options shape one analysis. The zero value computes every space.
type Options struct {
	// Spaces to compute; all that are loaded when empty.
	Spaces []string
	// Title is the caller's title for the video: a text segment spanning
	// the whole video.
	Title string
	// Thumbnails asks for a JPEG of every sampled frame.
	Thumbnails bool
	// Duplicate, when set, is asked with the source's content hash right
	// after decoding, before any encoder runs: when it names another video
	// (an exact re-upload of one already indexed), the analysis stops there
	// and Result.DuplicateOf says which.
	Duplicate func(ctx context.Context, contentSHA256 string) (videoID string, err error)
}

// Segment is one embedded time window of a video in one space.
type Segment struct {
	Space    string
	Modality string
	Ordinal  int // position within the space, from 0
	Start    time.Duration
	End      time.Duration
	Vector   []float32        // dense spaces
	Sparse   *encoders.Sparse // sparse spaces
	Text     string           // text segments: the text embedded
	Speech   float32          // audio segments: the share that is speech (VAD)
	Labels   []string         // frame segments: the objects seen (objects_centernet_v1)
}

// ObjectCount summarises one object label over a video.
type ObjectCount struct {
	Label    string  `json:"label"`
	Frames   int     `json:"frames"`    // frames where it was seen
	MaxScore float32 `json:"max_score"` // its best detection score
}

// Result is a video's segments and, per space, the pooled video vector.
type Result struct {
	Info     decode.Info
	Segments []Segment
	Pooled   map[string][]float32
	// PooledSparse is the video-level vector of each sparse space: every
	// text segment's terms together.
	PooledSparse map[string]encoders.Sparse
	// ContentSHA256 is the source's hash, when Options.Duplicate asked.
	ContentSHA256 string
	// DuplicateOf is the video this one repeats exactly; when set, nothing
	// was embedded.
	DuplicateOf string
	// Objects is the video's label summary: every object label seen in a
	// frame CenterNet looked at, most frames first.
	Objects []ObjectCount
	// Thumbs holds a JPEG of every sampled frame by its time in
	// milliseconds (a frame segment's start), when asked for.
	Thumbs  map[int64][]byte
	Timings map[string]time.Duration // per stage: decode, encode
}

// Count returns the number of segments per space.
func (r *Result) Count() map[string]int {
	m := map[string]int{}
	for _, s := range r.Segments {
		m[s.Space]++
	}
	return m
}

// Source decodes the video at source (a path, file:// or http(s):// URL;
// see decode.Open) and embeds it. Errors are *decode.Error for bad input and
// *encoders.Error for model failures.
func (a *Analyzer) Source(ctx context.Context, source string, opts Options) (*Result, error) {
	return a.analyze(ctx, opts, func(cfg decode.Config) (*decode.Media, error) { return decode.Open(ctx, source, cfg) })
}

// Reader is Source for a video or still image read from r (seekable for mp4
// files with their index at the end); name appears in errors.
func (a *Analyzer) Reader(ctx context.Context, r io.Reader, name string, opts Options) (*Result, error) {
	return a.analyze(ctx, opts, func(cfg decode.Config) (*decode.Media, error) { return decode.Reader(ctx, r, name, cfg) })
}

// Loaded lists the spaces this analyzer can compute: Spaces, less those
// whose model is not loaded. It is what an analysis without Spaces uses.
func (a *Analyzer) Loaded() []string {
	var out []string
	for _, s := range a.spaces {
		if s.Name == encoders.SpaceAudioSpeech && a.speech == nil {
			continue
		}
		if s.Name == encoders.SpaceFrameCenterNet && a.objs == nil {
			continue
		}
		out = append(out, s.Name)
	}
	return out
}

// TextVectors embeds a text query in every CLIP space (text tower), for
// search beside the lexical space.
func (a *Analyzer) TextVectors(ctx context.Context, text string) (map[string][]float32, error) {
	out := map[string][]float32{}
	for space, c := range a.clip {
		v, err := c.Texts(ctx, []string{text})
		if err != nil {
			return nil, err
		}
		out[space] = v[0]
	}
	return out, nil
}

// Text embeds a text query in the lexical space.
func (a *Analyzer) Text(text string) encoders.Sparse { return a.text.Embed(text) }

func (a *Analyzer) analyze(ctx context.Context, opts Options, decodeWith func(decode.Config) (*decode.Media, error)) (*Result, error) {
	spaces := opts.Spaces
	if len(spaces) == 0 {
		spaces = a.Loaded()
	}
	for _, s := range spaces {
		if _, ok := a.Space(s); !ok {
			return nil, &encoders.Error{Model: s, Op: "select", Err: fmt.Errorf("unknown space %q (have %v)", s, a.Loaded())}
		}
	}
	wantAudio := slices.Contains(spaces, encoders.SpaceAudioSpeech)
	if wantAudio && a.speech == nil {
		return nil, &encoders.Error{Model: encoders.SpaceAudioSpeech, Op: "select", Err: fmt.Errorf("not loaded")}
	}
	wantFrames := slices.Contains(spaces, encoders.SpaceFrameDCT)
	wantText := slices.Contains(spaces, encoders.SpaceTextLexical)
	wantOCR := wantText && a.ocr != nil
	wantCenterNet := slices.Contains(spaces, encoders.SpaceFrameCenterNet)
	if wantCenterNet && a.objs == nil {
		return nil, &encoders.Error{Model: encoders.SpaceFrameCenterNet, Op: "select", Err: fmt.Errorf("not loaded")}
	}
	// Objects are looked for when their embedding is asked for, or their
	// labels can become text.
	wantObjects := wantCenterNet || (wantText && a.objs != nil)
	var wantCLIP []string
	for _, s := range spaces {
		if a.clip[s] != nil {
			wantCLIP = append(wantCLIP, s)
		}
	}
	dcfg := a.cfg.Decode
	dcfg.NoAudio = !wantAudio
	dcfg.NoVideo = !wantFrames && !opts.Thumbnails && !wantOCR && len(wantCLIP) == 0 && !wantObjects
	dcfg.NoText = !wantText
	// One decode feeds every frame consumer: the frame encoder's image
	// always (OCR uses it too, to skip frames that did not change), a
	// thumbnail and an OCR image when asked for.
	dcfg.Frames = []decode.FrameSpec{{Width: encoders.FrameDCTInput, Height: encoders.FrameDCTInput, Format: decode.Gray}}
	thumbImage, ocrImage := -1, -1
	if opts.Thumbnails {
		thumbImage = len(dcfg.Frames)
		dcfg.Frames = append(dcfg.Frames, decode.FrameSpec{Width: ThumbWidth, Format: decode.RGB24})
	}
	if wantOCR {
		ocrImage = len(dcfg.Frames)
		// At most MaxOCRFrames images, spread over the whole video: the
		// memory of a job stays bounded whatever its length.
		dcfg.Frames = append(dcfg.Frames, decode.FrameSpec{Width: a.cfg.OCRWidth, Format: decode.RGB24, Every: a.cfg.OCREvery, MaxImages: a.cfg.MaxOCRFrames})
	}
	objImage := -1
	if wantObjects {
		// The whole frame squeezed to the model's square input (aspect
		// ratio not kept), as the reference implementation feeds it; at
		// most MaxObjectFrames of them, spread over the video.
		objImage = len(dcfg.Frames)
		dcfg.Frames = append(dcfg.Frames, decode.FrameSpec{Width: encoders.CenterNetInput, Height: encoders.CenterNetInput, Format: decode.RGB24, MaxImages: a.cfg.MaxObjectFrames})
	}
	clipImage := -1
	if len(wantCLIP) > 0 {
		// The shorter side at the model's input size: its own resize then
		// only crops.
		clipImage = len(dcfg.Frames)
		dcfg.Frames = append(dcfg.Frames, decode.FrameSpec{ShortSide: clipInput(a.clip, wantCLIP), Format: decode.RGB24})
	}

	dcfg.ContentHash = opts.Duplicate != nil
	t0 := time.Now()
	media, err := decodeWith(dcfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Info: media.Info, Pooled: map[string][]float32{}, PooledSparse: map[string]encoders.Sparse{},
		Timings: map[string]time.Duration{"decode": time.Since(t0)}, ContentSHA256: media.ContentSHA256}
	if opts.Duplicate != nil && media.ContentSHA256 != "" {
		dup, err := opts.Duplicate(ctx, media.ContentSHA256)
		if err != nil {
			return nil, err
		}
		if dup != "" {
			res.DuplicateOf = dup
			return res, nil
		}
	}
	// The encoders run side by side, one goroutine per kind of work, so a
	// job uses every core it can even when it runs alone; each writes its
	// own partial result, merged in a fixed order.
	t1 := time.Now()
	encCtx, cancelEnc := context.WithCancel(ctx)
	defer cancelEnc()
	part := func() *Result {
		return &Result{Info: res.Info, Pooled: map[string][]float32{}, PooledSparse: map[string]encoders.Sparse{}, Timings: map[string]time.Duration{}}
	}
	visual, thumbsRes, sound, words, objects := part(), part(), part(), part(), part()
	errs := make([]error, 5)
	var screen, seen []textUnit
	var wg sync.WaitGroup
	run := func(i int, fn func() error) {
		wg.Go(func() {
			if errs[i] = fn(); errs[i] != nil {
				cancelEnc()
			}
		})
	}
	run(0, func() error {
		if wantFrames {
			if err := a.frames(media, visual); err != nil {
				return err
			}
		}
		for _, space := range wantCLIP {
			if err := a.clipFrames(encCtx, space, media, clipImage, visual); err != nil {
				return err
			}
		}
		return nil
	})
	if opts.Thumbnails {
		run(1, func() error { return thumbnails(media, thumbImage, thumbsRes) })
	}
	if wantAudio {
		run(2, func() error { return a.audio(encCtx, media, sound) })
	}
	if wantOCR {
		run(3, func() error {
			t2 := time.Now()
			var err error
			if screen, err = a.onScreen(encCtx, media, ocrImage); err != nil {
				return err
			}
			words.Timings["ocr"] = time.Since(t2)
			return nil
		})
	}
	if wantObjects {
		run(4, func() error {
			t2 := time.Now()
			var err error
			if seen, err = a.objects(encCtx, media, objImage, wantCenterNet, objects); err != nil {
				return err
			}
			objects.Timings["objects"] = time.Since(t2)
			return nil
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if wantText {
		a.texts(media, opts.Title, append(screen, seen...), words)
	}
	if wantObjects {
		labelFrames(visual.Segments, objects.Segments)
	}
	for _, p := range []*Result{visual, objects, sound, words} {
		res.Segments = append(res.Segments, p.Segments...)
	}
	if !wantCenterNet {
		// Looked at for labels only: the frames carry no vector.
		res.Segments = slices.DeleteFunc(res.Segments, func(s Segment) bool { return s.Space == encoders.SpaceFrameCenterNet })
	}
	res.Objects = objects.Objects
	res.Thumbs = thumbsRes.Thumbs
	res.PooledSparse = words.PooledSparse
	for _, p := range []*Result{words, objects} {
		for k, d := range p.Timings {
			res.Timings[k] = d
		}
	}
	res.Timings["encode"] = time.Since(t1)
	for _, space := range spaces {
		var vecs [][]float32
		for _, s := range res.Segments {
			if s.Space == space && s.Vector != nil {
				vecs = append(vecs, s.Vector)
			}
		}
		if p := meanNormalized(vecs); p != nil {
			res.Pooled[space] = p
		}
	}
	return res, nil
}

// clipInput is the largest input size of the CLIP models asked for.
func clipInput(models map[string]*encoders.CLIPModel, spaces []string) int {
	n := 0
	for _, s := range spaces {
		n = max(n, models[s].Spec().ImageSize)
	}
	return n
}

// clipFrames embeds every sampled frame in a CLIP space; the frames of
// concurrent jobs share the model's session calls.
func (a *Analyzer) clipFrames(ctx context.Context, space string, m *decode.Media, image int, res *Result) error {
	imgs := make([]encoders.Image, len(m.Frames))
	for i, f := range m.Frames {
		im := f.Images[image]
		imgs[i] = encoders.Image{RGB: im.Data, Width: im.Spec.Width, Height: im.Spec.Height}
	}
	vecs, err := a.clip[space].Images(ctx, imgs)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // cancelled or timed out: not the model's fault
		}
		return &encoders.Error{Model: space, Op: "embed frames", Err: err}
	}
	for i, f := range m.Frames {
		end := m.Info.Duration
		if i+1 < len(m.Frames) {
			end = m.Frames[i+1].T
		}
		if end <= f.T {
			end = f.T + time.Second
		}
		res.Segments = append(res.Segments, Segment{Space: space, Modality: "frame", Ordinal: i, Start: f.T, End: end, Vector: vecs[i]})
	}
	return nil
}

// textUnit is one piece of text of a video and when it is there.
type textUnit struct {
	start, end time.Duration
	text       string
	modality   string // "text" (title, metadata, subtitles), "ocr" or "objects"
	// times is how often the text counts: an object label counts once per
	// sampled frame it was seen in, over its run of frames.
	times int
}

// texts makes a text segment of the title, of every cue (container
// metadata and subtitles) and of every on-screen text, and the video-level
// vector of all of them.
func (a *Analyzer) texts(m *decode.Media, title string, screen []textUnit, res *Result) {
	var units []textUnit
	if t := strings.TrimSpace(title); t != "" {
		units = append(units, textUnit{0, m.Info.Duration, t, "text", 1})
	}
	for _, c := range m.Text {
		if t := strings.TrimSpace(c.Text); t != "" {
			units = append(units, textUnit{c.Start, c.End, t, "text", 1})
		}
	}
	units = append(units, screen...)
	slices.SortStableFunc(units, func(x, y textUnit) int { return cmp.Compare(x.start, y.start) })
	var all []string
	for _, u := range units {
		sv := a.text.EmbedRepeated(u.text, u.times)
		if len(sv.Indices) == 0 {
			continue
		}
		end := u.end
		if end <= u.start {
			end = max(m.Info.Duration, u.start+time.Second)
		}
		res.Segments = append(res.Segments, Segment{
			Space: encoders.SpaceTextLexical, Modality: u.modality, Ordinal: len(all),
			Start: u.start, End: end, Sparse: &sv, Text: u.text,
		})
		all = append(all, u.text)
	}
	if len(all) > 0 {
		res.PooledSparse[encoders.SpaceTextLexical] = a.text.Embed(strings.Join(all, "\n"))
	}
}

// onScreen reads the text on the frames that carry an OCR image, skipping
// a frame that looks like the last one read (the same titles or captions
// held on screen), and merges a text held over several reads into one
// unit.
func (a *Analyzer) onScreen(ctx context.Context, m *decode.Media, image int) ([]textUnit, error) {
	var units []textUnit
	var last []byte // grey image of the last frame read
	reads := 0
	for i, f := range m.Frames {
		im := f.Images[image]
		if im.Data == nil {
			continue
		}
		end := m.Info.Duration
		for _, g := range m.Frames[i+1:] {
			if g.Images[image].Data != nil {
				end = g.T
				break
			}
		}
		if end <= f.T {
			end = f.T + time.Second
		}
		grey := f.Images[0].Data
		if last != nil && !changed(last, grey) {
			// Unchanged: what was read last holds on.
			if n := len(units); n > 0 && units[n-1].end == f.T {
				units[n-1].end = end
			}
			continue
		}
		if reads == a.cfg.MaxOCRFrames {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		reads++
		last = grey
		lines, err := a.ocr.Read(im.Data, im.Spec.Width, im.Spec.Height)
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, l := range lines {
			parts = append(parts, l.Text)
		}
		text := strings.Join(parts, "\n")
		if text == "" {
			continue
		}
		if n := len(units); n > 0 && units[n-1].end == f.T && units[n-1].text == text {
			units[n-1].end = end
			continue
		}
		units = append(units, textUnit{f.T, end, text, "ocr", 1})
	}
	return units, nil
}

// changed reports whether two 64×64 grey frames differ anywhere enough to
// hold different text: the largest mean absolute difference of their 8×8
// blocks is over 3 levels. A whole-frame mean would miss a caption that
// changes over a still background, which moves one block in twenty.
func changed(a, b []byte) bool {
	const side, block = encoders.FrameDCTInput, 8
	if len(a) != side*side || len(b) != side*side {
		return true
	}
	for by := 0; by < side; by += block {
		for bx := 0; bx < side; bx += block {
			sum := 0
			for y := by; y < by+block; y++ {
				for x := bx; x < bx+block; x++ {
					d := int(a[y*side+x]) - int(b[y*side+x])
					if d < 0 {
						d = -d
					}
					sum += d
				}
			}
			if sum > 3*block*block {
				return true
			}
		}
	}
	return false
}

// thumbnails encodes each sampled frame's thumbnail image as a JPEG.
func thumbnails(m *decode.Media, image int, res *Result) error {
	res.Thumbs = map[int64][]byte{}
	for _, f := range m.Frames {
		im := f.Images[image]
		b, err := encodeJPEG(im.Data, im.Spec.Width, im.Spec.Height)
		if err != nil {
			return &encoders.Error{Model: "thumbnail", Op: "jpeg", Err: err}
		}
		res.Thumbs[ThumbKey(f.T.Seconds())] = b
	}
	return nil
}

// encodeJPEG encodes packed RGB24 pixels.
func encodeJPEG(rgb []byte, w, h int) ([]byte, error) {
	if len(rgb) < w*h*3 {
		return nil, fmt.Errorf("%d bytes for %dx%d RGB", len(rgb), w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < w*h*3; i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = rgb[i], rgb[i+1], rgb[i+2], 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (a *Analyzer) frames(m *decode.Media, res *Result) error {
	enc := encoders.NewFrameDCT()
	for i, f := range m.Frames {
		v, err := enc.Embed(f.Images[0].Data)
		if err != nil {
			return err
		}
		// A frame stands for the time until the next sampled frame.
		end := m.Info.Duration
		if i+1 < len(m.Frames) {
			end = m.Frames[i+1].T
		}
		if end <= f.T {
			end = f.T + time.Second
		}
		res.Segments = append(res.Segments, Segment{
			Space: encoders.SpaceFrameDCT, Modality: "frame", Ordinal: i,
			Start: f.T, End: end, Vector: v,
		})
	}
	return nil
}

func (a *Analyzer) audio(ctx context.Context, m *decode.Media, res *Result) error {
	embs, err := a.speech.Embed(ctx, m.Audio.Samples)
	if err != nil {
		return err
	}
	var probs []encoders.SpeechProb
	if a.vad != nil {
		if probs, err = a.vad.Probabilities(ctx, m.Audio.Samples); err != nil {
			return err
		}
	}
	seg := a.cfg.AudioSegment
	audioEnd := time.Duration(float64(len(m.Audio.Samples)) / float64(encoders.SpeechRate) * float64(time.Second))
	// Pool the embeddings whose window starts inside each segment.
	var cur []([]float32)
	idx := -1
	flush := func() {
		if len(cur) == 0 {
			return
		}
		start := time.Duration(idx) * seg
		end := min(start+seg, audioEnd)
		s := Segment{
			Space: encoders.SpaceAudioSpeech, Modality: "audio", Ordinal: idx,
			Start: start, End: end, Vector: meanNormalized(cur),
		}
		if probs != nil {
			s.Speech = encoders.MeanProb(probs, start, end)
		}
		res.Segments = append(res.Segments, s)
		cur = cur[:0]
	}
	for _, e := range embs {
		k := int(e.Start / seg)
		if k != idx {
			flush()
			idx = k
		}
		cur = append(cur, e.Vector)
	}
	flush()
	return nil
}

// meanNormalized is the L2-normalised mean of the L2-normalised vectors.
func meanNormalized(vecs [][]float32) []float32 {
	if len(vecs) == 0 {
		return nil
	}
	out := make([]float32, len(vecs[0]))
	for _, v := range vecs {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if n == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(n))
		for i, x := range v {
			out[i] += x * inv
		}
	}
	var n float64
	for _, x := range out {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return out
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range out {
		out[i] *= inv
	}
	return out
}

// objects runs CenterNet on the frames that carry its image: one
// frame_centernet_v1 segment per frame, with the labels of the objects
// seen in it; the video's label summary; and, per label, a text unit for
// each run of consecutive frames it is seen in, counted once per frame, so
// that a text query finds the videos where an object is there longest.
func (a *Analyzer) objects(ctx context.Context, m *decode.Media, image int, embed bool, res *Result) ([]textUnit, error) {
	var imgs []encoders.Image
	var at []int // frame index of each image
	for i, f := range m.Frames {
		im := f.Images[image]
		if im.Data == nil {
			continue
		}
		imgs = append(imgs, encoders.Image{RGB: im.Data, Width: im.Spec.Width, Height: im.Spec.Height})
		at = append(at, i)
	}
	found, err := a.objs.Frames(ctx, imgs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // cancelled or timed out: not the model's fault
		}
		return nil, &encoders.Error{Model: encoders.ModelObjectsCenterNet, Op: "detect objects", Err: err}
	}
	counts := map[string]*ObjectCount{}
	var units []textUnit
	open := map[string]int{} // label → its unit in the run up to this frame
	for k, fo := range found {
		f := m.Frames[at[k]]
		end := m.Info.Duration
		if k+1 < len(at) {
			end = m.Frames[at[k+1]].T
		}
		if end <= f.T {
			end = f.T + time.Second
		}
		var labels []string
		for _, d := range fo.Detections {
			if d.Score < a.cfg.LabelMinScore {
				continue
			}
			c := counts[d.Label]
			if c == nil {
				c = &ObjectCount{Label: d.Label}
				counts[d.Label] = c
			}
			if !slices.Contains(labels, d.Label) {
				labels = append(labels, d.Label)
				c.Frames++
			}
			c.MaxScore = max(c.MaxScore, d.Score)
		}
		slices.Sort(labels)
		var vec []float32
		if embed {
			vec = fo.Embedding
		}
		res.Segments = append(res.Segments, Segment{
			Space: encoders.SpaceFrameCenterNet, Modality: "frame", Ordinal: k,
			Start: f.T, End: end, Vector: vec, Labels: labels,
		})
		for _, l := range labels {
			if i, ok := open[l]; ok && units[i].end == f.T {
				units[i].end = end
				units[i].times++
				continue
			}
			open[l] = len(units)
			units = append(units, textUnit{f.T, end, l, "objects", 1})
		}
	}
	for _, c := range counts {
		res.Objects = append(res.Objects, *c)
	}
	slices.SortFunc(res.Objects, func(x, y ObjectCount) int {
		return cmp.Or(cmp.Compare(y.Frames, x.Frames), cmp.Compare(y.MaxScore, x.MaxScore), strings.Compare(x.Label, y.Label))
	})
	return units, nil
}

// labelFrames gives each frame segment the labels of the object frame
// sampled at the same time.
func labelFrames(frames, objects []Segment) {
	at := map[time.Duration][]string{}
	for _, o := range objects {
		at[o.Start] = o.Labels
	}
	for i := range frames {
		if l, ok := at[frames[i].Start]; ok && frames[i].Modality == "frame" {
			frames[i].Labels = l
		}
	}
}

// Labels lists the labels of a label summary, in its order.
func Labels(objects []ObjectCount) []string {
	out := make([]string, len(objects))
	for i, o := range objects {
		out[i] = o.Label
	}
	return out
}
