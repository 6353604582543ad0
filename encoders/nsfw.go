package encoders

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mediavec/mediavec/internal/vecmath"
)

// Content safety: nsfwjs's MobileNetV2-Mid (npm nsfwjs@4.4.0, MIT), a TF.js
// graph model shipped as JavaScript modules, unpacked by scripts/setup and
// converted once by `mediavec models import-tfjs --for safety_nsfwjs_v1`.
// One session call gives, per frame, the five class probabilities
// (safety_nsfwjs_v1) and the pooled 1792-d feature vector before the
// classifier (frame_mobilenet_v1, a candidate frame embedding).
const (
	ModelSafety         = "safety_nsfwjs_v1"
	SpaceFrameMobileNet = "frame_mobilenet_v1"

	NSFWFile     = "nsfw.onnx"
	NSFWInput    = 224  // the model's square RGB input
	MobileNetDim = 1792 // MobileNetV2 at depth 1.4: the pooled feature width

	nsfwInput = "input"
	nsfwProbs = "Identity"
	// NSFWFeatures is the graph's pooled feature map, exposed by the
	// importer as the output "features".
	NSFWFeatures = "StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/feature_vector/SpatialSqueeze"
	nsfwFeatures = "features"
)

// NSFWSHA256 is the sha256 of nsfw.onnx as this converter makes it from the
// pinned package.
const NSFWSHA256 = "dc172aef914a1a64ff24c2d4071b28bcb4fe3ea72f420f10029d7fe5d810dc0e"

// NSFWClasses are the classifier's classes, in the order of its output
// (nsfwjs's NSFW_CLASSES).
var NSFWClasses = [5]string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}

// The classes' indices.
const (
	ClassDrawing = iota
	ClassHentai
	ClassNeutral
	ClassPorn
	ClassSexy
)

// SafetyModel runs the converted nsfwjs model. It is safe for concurrent
// use: concurrent jobs call the session side by side.
type SafetyModel struct {
	sess     *ort.DynamicAdvancedSession
	maxBatch int
}

// SafetyConfig sets how frames go through the model.
type SafetyConfig struct {
	// MaxBatch is the most frames in one session call. Defaults to 1: on
	// the CPU one frame a call is as fast per frame (see `mediavec bench
	// encoders`); a GPU wants more.
	MaxBatch int
}

// LoadSafety opens modelsDir's nsfw.onnx.
func LoadSafety(modelsDir string, sc SafetyConfig, cfg SessionConfig) (*SafetyModel, error) {
	if sc.MaxBatch < 0 {
		return nil, fmt.Errorf("safety: MaxBatch %d is negative", sc.MaxBatch)
	}
	path := filepath.Join(modelsDir, NSFWFile)
	s, err := newSession(path, []string{nsfwInput}, []string{nsfwProbs, nsfwFeatures}, cfg)
	if err != nil {
		return nil, &Error{Model: ModelSafety, Op: "load " + path, Err: err}
	}
	return &SafetyModel{sess: s, maxBatch: cmp.Or(sc.MaxBatch, 1)}, nil
}

// Close releases the session.
func (m *SafetyModel) Close() error { return m.sess.Destroy() }

// FrameSafety is what the model makes of one frame.
type FrameSafety struct {
	// Probs are the class probabilities, in NSFWClasses order.
	Probs [5]float32
	// Features is the pooled feature vector, L2-normalised
	// (frame_mobilenet_v1).
	Features []float32
}

// Frames classifies RGB images of any size, prepared exactly as nsfwjs's
// classify() prepares an image: values over 255, then, unless the image is
// already 224×224, a bilinear resize with aligned corners.
func (m *SafetyModel) Frames(ctx context.Context, imgs []Image) ([]FrameSafety, error) {
	out := make([]FrameSafety, 0, len(imgs))
	for first := 0; first < len(imgs); first += m.maxBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := imgs[first:min(first+m.maxBatch, len(imgs))]
		res, err := m.run(batch)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (m *SafetyModel) run(imgs []Image) ([]FrameSafety, error) {
	const s = NSFWInput
	x := make([]float32, len(imgs)*s*s*3)
	for i, im := range imgs {
		if im.Width <= 0 || im.Height <= 0 || len(im.RGB) < im.Width*im.Height*3 {
			return nil, &Error{Model: ModelSafety, Op: "input", Err: fmt.Errorf("image %d: %d bytes for %dx%d RGB", i, len(im.RGB), im.Width, im.Height)}
		}
		nsfwPixels(im, x[i*s*s*3:(i+1)*s*s*3])
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(imgs)), s, s, 3), x)
	if err != nil {
		return nil, &Error{Model: ModelSafety, Op: "input", Err: err}
	}
	defer in.Destroy()
	outs := []ort.Value{nil, nil}
	if err := m.sess.Run([]ort.Value{in}, outs); err != nil {
		return nil, &Error{Model: ModelSafety, Op: "run", Err: err}
	}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	probs, ok1 := outs[0].(*ort.Tensor[float32])
	feats, ok2 := outs[1].(*ort.Tensor[float32])
	if !ok1 || !ok2 {
		return nil, &Error{Model: ModelSafety, Op: "run", Err: fmt.Errorf("outputs are %T and %T", outs[0], outs[1])}
	}
	p, f := probs.GetData(), feats.GetData()
	if len(p) != len(imgs)*len(NSFWClasses) || len(f) != len(imgs)*MobileNetDim {
		return nil, &Error{Model: ModelSafety, Op: "run", Err: fmt.Errorf("output sizes %d and %d for %d frames", len(p), len(f), len(imgs))}
	}
	res := make([]FrameSafety, len(imgs))
	for i := range res {
		copy(res[i].Probs[:], p[i*len(NSFWClasses):])
		res[i].Features = vecmath.Normalized(f[i*MobileNetDim : (i+1)*MobileNetDim])
	}
	return res, nil
}

// nsfwPixels writes one image as the model's input, 224×224×3 float32, to
// out: RGB over 255, resized as tf.image.resizeBilinear(alignCorners=true)
// resizes, in float64 from float32 values, each result rounded to float32 —
// what @tensorflow/tfjs's CPU backend computes.
func nsfwPixels(im Image, out []float32) {
	const s = NSFWInput
	if im.Width == s && im.Height == s {
		for i := range out {
			out[i] = float32(im.RGB[i]) / 255
		}
		return
	}
	src := make([]float32, im.Width*im.Height*3)
	for i := range src {
		src[i] = float32(im.RGB[i]) / 255
	}
	// With aligned corners the outer pixels of both grids coincide.
	hScale := float64(im.Height-1) / float64(s-1)
	wScale := float64(im.Width-1) / float64(s-1)
	for r := range s {
		sy := float64(r) * hScale
		y0 := int(math.Floor(sy))
		y1 := min(im.Height-1, int(math.Ceil(sy)))
		fy := sy - float64(y0)
		for c := range s {
			sx := float64(c) * wScale
			x0 := int(math.Floor(sx))
			x1 := min(im.Width-1, int(math.Ceil(sx)))
			fx := sx - float64(x0)
			for ch := range 3 {
				tl := float64(src[(y0*im.Width+x0)*3+ch])
				tr := float64(src[(y0*im.Width+x1)*3+ch])
				bl := float64(src[(y1*im.Width+x0)*3+ch])
				br := float64(src[(y1*im.Width+x1)*3+ch])
				top := tl + (tr-tl)*fx
				bottom := bl + (br-bl)*fx
				out[(r*s+c)*3+ch] = float32(top + (bottom-top)*fy)
			}
		}
	}
}
