// Package analyze is the one decode-and-encode path of mediavec: an upload in
// the worker and a query video in search both go through Source, so a query
// is embedded exactly as the videos it is compared with.
//
// An analysis is a set of stages (stage.go), one per modality or model,
// chosen from the spaces asked for: the source is decoded once for all of
// them, they run side by side, and their outputs are merged into one
// Result.
package analyze

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// Config sets sampling and the stages' limits. Each zero field takes the
// default named beside it.
type Config struct {
	// Decode is passed to decode; its Frames, NoAudio, NoVideo and NoText
	// are set to what the stages of each analysis need.
	Decode decode.Config
	// AudioSegment is the length of one audio segment; the speech
	// embeddings inside it are pooled into one vector. Defaults to
	// DefaultAudioSegment.
	AudioSegment time.Duration
	// SpeechEvery embeds a speech window every SpeechEvery steps of the
	// speech model (80 ms each): the windows are 760 ms long and a
	// segment pools all of its own, so every other one (the default,
	// DefaultSpeechEvery) pools to nearly the same vector at half the
	// cost (bench pipeline prints the cosine). Thorough makes it 1.
	SpeechEvery int
	// OCREvery reads on-screen text on every OCREvery-th sampled frame
	// (2: every other one). Defaults to DefaultOCREvery.
	OCREvery int
	// OCRWidth is the width frames are read at; the height keeps the
	// aspect ratio. Defaults to DefaultOCRWidth.
	OCRWidth int
	// MaxOCRFrames caps the frames read per video. Defaults to
	// DefaultMaxOCRFrames.
	MaxOCRFrames int
	// MaxObjectFrames caps the frames CenterNet sees per video, spread
	// over the whole video (each is a 512×512 RGB image in memory).
	// Defaults to DefaultMaxObjectFrames.
	MaxObjectFrames int
	// LabelMinScore is the detection score from which an object counts
	// as seen in a frame. Defaults to DefaultLabelMinScore.
	LabelMinScore float32
	// LabelSure, LabelMeanScore and LabelMinFrames say which labels are
	// believable in a video, and only those are kept anywhere (the frame
	// segments' payload, the video's label summary, the timed text): its
	// best frame scores at least LabelSure, its frames where it is seen
	// average at least LabelMeanScore, and it is seen in at least
	// LabelMinFrames frames (or every frame of a shorter video). Default
	// to DefaultLabelSure, DefaultLabelMeanScore, DefaultLabelMinFrames.
	LabelSure      float32
	LabelMeanScore float32
	LabelMinFrames int
	// HeavyChange and HeavyMaxGap choose the frames the costly frame
	// models (CenterNet, the safety model) see: a sampled frame that
	// differs from the last one they saw by at least HeavyChange (the
	// mean absolute difference of 32×32 grey thumbnails, in [0, 1]), or
	// that comes HeavyMaxGap after it (decode.FrameSpec Change and
	// MaxGap). What they see in a frame holds for the frames up to the
	// next: labels, safety classes, frame_centernet_v1's time ranges.
	// Default to DefaultHeavyChange and DefaultHeavyMaxGap.
	HeavyChange float64
	HeavyMaxGap time.Duration
	// Thorough turns off the savings that change results, for a
	// benchmark's baseline or anyone who wants every frame seen: the
	// decoder decodes every frame in full (decode.Config.FullDecode), the
	// costly frame models see every sampled frame, and OCR runs its
	// detector at full size on every frame it reads.
	Thorough bool
	// UnsafeThreshold is the probability of explicit content — P(Porn) +
	// P(Hentai) — from which a frame counts as explicit. Defaults to
	// DefaultUnsafeThreshold.
	UnsafeThreshold float64
	// UnsafeShare is the share of a video's classified frames that must
	// be explicit (and at least one) for the video to be unsafe. Defaults
	// to DefaultUnsafeShare.
	UnsafeShare float64
}

// The defaults of Config.
const (
	DefaultAudioSegment = 2 * time.Second
	DefaultSpeechEvery  = 3
	DefaultOCREvery     = 2
	DefaultOCRWidth     = 640
	DefaultMaxOCRFrames = 60
	// DefaultMaxObjectFrames is every frame of a two-minute video at fps=1.
	DefaultMaxObjectFrames = 120
	DefaultLabelMinScore   = 0.25
	// A label is believable when the detector is at least even-odds sure
	// of it in one frame, does not merely flicker at the detection floor
	// (0.25–0.35) around that frame, and persists past one frame: on
	// opencv-doc's and scikit-image's real media these keep the objects a
	// person sees and drop the detector's confusions; on generated test
	// patterns nothing (see docs/models.md).
	DefaultLabelSure      = 0.5
	DefaultLabelMeanScore = 0.4
	DefaultLabelMinFrames = 2
	// DefaultUnsafeThreshold and DefaultUnsafeShare make a video unsafe
	// when a tenth of its frames or more are more likely explicit than not.
	DefaultUnsafeThreshold = 0.5
	DefaultUnsafeShare     = 0.1
	// A frame that moved this little from the last one the costly models
	// saw shows them nothing new (see docs/models.md for the measure on
	// real media), and none goes unseen longer than HeavyMaxGap.
	DefaultHeavyChange = 0.03
	DefaultHeavyMaxGap = 4 * time.Second
)

func (c Config) withDefaults() Config {
	c.AudioSegment = cmp.Or(c.AudioSegment, DefaultAudioSegment)
	c.OCREvery = cmp.Or(c.OCREvery, DefaultOCREvery)
	c.OCRWidth = cmp.Or(c.OCRWidth, DefaultOCRWidth)
	c.MaxOCRFrames = cmp.Or(c.MaxOCRFrames, DefaultMaxOCRFrames)
	c.MaxObjectFrames = cmp.Or(c.MaxObjectFrames, DefaultMaxObjectFrames)
	c.LabelMinScore = cmp.Or(c.LabelMinScore, DefaultLabelMinScore)
	c.LabelSure = cmp.Or(c.LabelSure, DefaultLabelSure)
	c.LabelMeanScore = cmp.Or(c.LabelMeanScore, DefaultLabelMeanScore)
	c.LabelMinFrames = cmp.Or(c.LabelMinFrames, DefaultLabelMinFrames)
	c.UnsafeThreshold = cmp.Or(c.UnsafeThreshold, DefaultUnsafeThreshold)
	c.UnsafeShare = cmp.Or(c.UnsafeShare, DefaultUnsafeShare)
	c.HeavyChange = cmp.Or(c.HeavyChange, DefaultHeavyChange)
	c.HeavyMaxGap = cmp.Or(c.HeavyMaxGap, DefaultHeavyMaxGap)
	c.SpeechEvery = cmp.Or(c.SpeechEvery, DefaultSpeechEvery)
	if c.Thorough {
		c.HeavyChange, c.HeavyMaxGap, c.SpeechEvery = 0, 0, 1
		c.Decode.FullDecode = true
	}
	return c
}

// textGateSide is the size OCR's text gate looks at frames (textGate):
// none when Thorough.
func (c Config) textGateSide() int {
	if c.Thorough {
		return 0
	}
	return 320
}

// Validate checks the configuration, naming the first bad field.
func (c Config) Validate() error {
	switch {
	case c.AudioSegment < 0:
		return fmt.Errorf("analyze: AudioSegment %s is negative", c.AudioSegment)
	case c.SpeechEvery < 0:
		return fmt.Errorf("analyze: SpeechEvery %d is negative", c.SpeechEvery)
	case c.OCREvery < 0:
		return fmt.Errorf("analyze: OCREvery %d is negative", c.OCREvery)
	case c.OCRWidth < 0 || c.OCRWidth > 4096:
		return fmt.Errorf("analyze: OCRWidth %d is not in 0..4096", c.OCRWidth)
	case c.MaxOCRFrames < 0:
		return fmt.Errorf("analyze: MaxOCRFrames %d is negative", c.MaxOCRFrames)
	case c.MaxObjectFrames < 0:
		return fmt.Errorf("analyze: MaxObjectFrames %d is negative", c.MaxObjectFrames)
	case c.LabelMinScore < 0 || c.LabelMinScore > 1:
		return fmt.Errorf("analyze: LabelMinScore %v is not in [0, 1]", c.LabelMinScore)
	case c.LabelSure < 0 || c.LabelSure > 1 || c.LabelMeanScore < 0 || c.LabelMeanScore > 1:
		return fmt.Errorf("analyze: LabelSure %v and LabelMeanScore %v must be in [0, 1]", c.LabelSure, c.LabelMeanScore)
	case c.LabelMinFrames < 0:
		return fmt.Errorf("analyze: LabelMinFrames %d is negative", c.LabelMinFrames)
	case c.UnsafeThreshold < 0 || c.UnsafeThreshold > 2 || c.UnsafeThreshold != c.UnsafeThreshold:
		return fmt.Errorf("analyze: UnsafeThreshold %v is not in [0, 2]", c.UnsafeThreshold)
	case c.HeavyChange < 0 || c.HeavyChange > 1 || c.HeavyChange != c.HeavyChange || c.HeavyMaxGap < 0:
		return fmt.Errorf("analyze: HeavyChange %v is not in [0, 1] or HeavyMaxGap %s is negative", c.HeavyChange, c.HeavyMaxGap)
	case c.UnsafeShare < 0 || c.UnsafeShare > 1 || c.UnsafeShare != c.UnsafeShare:
		return fmt.Errorf("analyze: UnsafeShare %v is not in [0, 1]", c.UnsafeShare)
	}
	if err := c.Decode.Validate(); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// Models are the loaded models an Analyzer uses; a nil one is not used.
type Models struct {
	Speech *encoders.Speech // audio_speech_v1
	VAD    *encoders.VAD    // the speech share of each audio segment
	OCR    *encoders.OCR    // on-screen text, into the text spaces
	// CLIP models each add a frame space ("clip_NAME") that text queries
	// can search too.
	CLIP []*encoders.CLIPModel
	// CenterNet gives frame_centernet_v1 and the COCO object labels of
	// frames (objects_centernet_v1), which also become text.
	CenterNet *encoders.CenterNet
	// Sentences gives text_use_v1, the video's text by meaning.
	Sentences *encoders.SentenceEncoder
	// Safety gives content safety (safety_nsfwjs_v1) and
	// frame_mobilenet_v1.
	Safety *encoders.SafetyModel
}

// SpaceInfo describes one space: what the index needs to hold it.
type SpaceInfo struct {
	Name     string
	Modality string // frame, audio or text
	Dim      int    // dense dimension; 0 for a sparse space
	Sparse   bool
	// Optional spaces are computed only when asked for by name: not by an
	// analysis without Spaces, nor by the worker's jobs. The index holds
	// them all the same.
	Optional bool `json:",omitempty"`
}

// ErrUnknownSpace is returned for an analysis that asks for a space no
// stage computes: the request is wrong, and asking again cannot help.
var ErrUnknownSpace = errors.New("unknown space")

// Analyzer embeds videos. It is safe for concurrent use.
type Analyzer struct {
	cfg    Config
	stages []Stage
	text   encoders.TextLexical
}

// New returns an Analyzer over the given models: one stage per modality
// and model, registered here in the order their outputs are merged and
// their spaces listed. Every built-in stage is registered whether or not
// its model is loaded, so the spaces (and the index schemas made from
// them) do not depend on what a process loaded; a job that asks for a
// space whose model is not loaded fails with a model error.
func New(cfg Config, m Models) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &Analyzer{cfg: cfg}
	a.stages = []Stage{
		frameDCTStage{},
		&speechStage{speech: m.Speech, vad: m.VAD, segment: cfg.AudioSegment, every: cfg.SpeechEvery},
		audioPrintStage{},
		&ocrStage{ocr: m.OCR, every: cfg.OCREvery, width: cfg.OCRWidth, maxFrames: cfg.MaxOCRFrames, gateSide: cfg.textGateSide()},
		lexicalStage{},
		semanticStage{m.Sentences},
		&objectsStage{model: m.CenterNet, maxFrames: cfg.MaxObjectFrames, change: cfg.HeavyChange, maxGap: cfg.HeavyMaxGap, rule: labelRule{
			minScore: cfg.LabelMinScore, sure: cfg.LabelSure, meanScore: cfg.LabelMeanScore, minFrames: cfg.LabelMinFrames,
		}},
		&safetyStage{model: m.Safety, maxFrames: cfg.MaxObjectFrames, change: cfg.HeavyChange, maxGap: cfg.HeavyMaxGap, unsafeThreshold: cfg.UnsafeThreshold, unsafeShare: cfg.UnsafeShare},
	}
	for _, c := range m.CLIP {
		a.stages = append(a.stages, clipStage{c})
	}
	a.stages = append(a.stages, thumbnailStage{})
	return a, nil
}

// BuiltinSpaces lists the spaces of the shipped stages, in order: those of
// an Analyzer without user-supplied CLIP models.
func BuiltinSpaces() []SpaceInfo {
	a, _ := New(Config{}, Models{}) // the zero Config is valid
	return a.Spaces()
}

// Spaces lists every space this analyzer knows, loaded or not, in the
// order of its stages (the CLIP ones last).
func (a *Analyzer) Spaces() []SpaceInfo {
	var out []SpaceInfo
	for _, st := range a.stages {
		out = append(out, st.Spaces()...)
	}
	return out
}

// Space returns one space's description.
func (a *Analyzer) Space(name string) (SpaceInfo, bool) {
	_, info, ok := a.stageOf(name)
	return info, ok
}

// stageOf returns the stage that computes space.
func (a *Analyzer) stageOf(space string) (Stage, SpaceInfo, bool) {
	for _, st := range a.stages {
		for _, s := range st.Spaces() {
			if s.Name == space {
				return st, s, true
			}
		}
	}
	return nil, SpaceInfo{}, false
}

// Loaded lists the spaces this analyzer can compute: Spaces, less those
// whose model is not loaded.
func (a *Analyzer) Loaded() []string { return a.loaded(true) }

// Defaults lists the spaces an analysis without Spaces computes: Loaded,
// less the optional ones.
func (a *Analyzer) Defaults() []string { return a.loaded(false) }

func (a *Analyzer) loaded(optional bool) []string {
	var out []string
	for _, st := range a.stages {
		if !st.Loaded() {
			continue
		}
		for _, s := range st.Spaces() {
			if optional || !s.Optional {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// Options shape one analysis. The zero value computes every loaded space.
type Options struct {
	// Spaces to compute; the analyzer's Defaults when empty.
	Spaces []string
	// Title, Caption and Hashtags are the caller's text about the video
	// (the job's): each a text segment spanning the whole video, the
	// hashtags together.
	Title    string
	Caption  string
	Hashtags []string
	// DecodeThreads, when set, is the video decoder's threads for this
	// analysis in place of the configuration's: a query decoded beside
	// others gets its share of the cores (and of the memory each decoder
	// thread's frames take).
	DecodeThreads int
	// Thumbnails asks for a JPEG of every sampled frame.
	Thumbnails bool
	// CopyQuery analyses a copy query: frame_dct_v1 also describes parts
	// of every sampled frame (Segment.Views: the picture inside bars or a
	// fill, picture-in-picture windows), and audio_print_v1 makes a window
	// at every sub-fingerprint, not every stride, so one lines up with any
	// indexed window.
	CopyQuery bool
	// Safety asks for the content-safety classification (when its model
	// is loaded): class probabilities on frame segments, Result.Safety.
	Safety bool
	// Duplicate, when set, is asked with the source's content hash right
	// after decoding, before any stage runs: when it names another video
	// (an exact re-upload of one already indexed), the analysis stops there
	// and Result.DuplicateOf says which.
	Duplicate func(ctx context.Context, contentSHA256 string) (videoID string, err error)
	// Budget, when above 0, is the most the analysis may cost, in
	// CPU-seconds per minute of video: when its estimate is over, the
	// costly frame models (CenterNet, OCR, the safety model) see fewer
	// frames (fitBudget), and Result.Budget says what was skipped.
	Budget float64
	// Around, when set, runs the decode and then every stage through it,
	// one after another rather than side by side, each under its name
	// ("decode", then the stages' names): a benchmark measures what each
	// part of the analysis costs alone.
	Around func(stage string, run func() error) error
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
	// Confidence is the OCR's confidence in on-screen text
	// (TextUnit.Confidence).
	Confidence float32
	// Words time the words of on-screen text that came on screen a word
	// or a phrase at a time (TextUnit.Words).
	Words  []TimedWord
	Speech float32  // audio segments: the share that is speech (VAD)
	Labels []string // frame segments: the objects seen (objects_centernet_v1)
	// Safety holds a frame segment's content-safety class probabilities,
	// in encoders.NSFWClasses order.
	Safety []float32
	// Views are frame_dct_v1's descriptors of parts of the frame, when
	// Options.CopyQuery asked (encoders.FrameDCT.Views).
	Views []encoders.FrameView
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
	Thumbs map[int64][]byte
	// Timings is the wall time of each part: "decode", every stage that
	// ran by its name, and "encode" for all the stages together.
	Timings map[string]time.Duration
	// Cut counts, by stage, the texts longer than its model reads, which
	// were embedded cut at its limit.
	Cut map[string]int
	// Safety is the content-safety summary, when it was asked for and its
	// model is loaded.
	Safety *Safety
	// Budget is what Options.Budget did, when one was set.
	Budget *Budget
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
// see decode.Open) and embeds it. Errors are *decode.Error for bad input,
// *encoders.Error for model failures and ErrUnknownSpace for a space no
// stage computes.
func (a *Analyzer) Source(ctx context.Context, source string, opts Options) (*Result, error) {
	return a.analyze(ctx, opts, func(cfg decode.Config) (*decode.Media, error) { return decode.Open(ctx, source, cfg) })
}

// Reader is Source for a video or still image read from r (seekable for mp4
// files with their index at the end); name appears in errors.
func (a *Analyzer) Reader(ctx context.Context, r io.Reader, name string, opts Options) (*Result, error) {
	return a.analyze(ctx, opts, func(cfg decode.Config) (*decode.Media, error) { return decode.Reader(ctx, r, name, cfg) })
}

// TextVectors embeds a text query in every dense space a text query
// searches (the stages that are TextQueriers: the sentence encoder, CLIP
// text towers), for search beside the lexical space.
func (a *Analyzer) TextVectors(ctx context.Context, text string) (map[string][]float32, error) {
	out := map[string][]float32{}
	for _, st := range a.stages {
		q, ok := st.(TextQuerier)
		if !ok || !st.Loaded() {
			continue
		}
		v, err := q.QueryText(ctx, text)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, stageError(st, err)
		}
		if v != nil {
			out[st.Spaces()[0].Name] = v
		}
	}
	return out, nil
}

// Text embeds a text query in the lexical space.
func (a *Analyzer) Text(text string) encoders.Sparse { return a.text.Embed(text) }
