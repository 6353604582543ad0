package decode

// #cgo pkg-config: libavutil
// #include <libavutil/frame.h>
// static const float *mediavec_frame_plane0(const AVFrame *f) { return (const float *)f->data[0]; }
// static int mediavec_frame_nb_samples(const AVFrame *f) { return f->nb_samples; }
// static int64_t mediavec_frame_best_effort(const AVFrame *f) { return f->best_effort_timestamp; }
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// appendMonoFloat appends the samples of an interleaved mono float32 frame to
// dst. go-astiav v0.16 has no accessor for audio sample bytes, so this reads
// data[0] directly; the filter graph guarantees the layout (flt, mono).
func appendMonoFloat(dst []float32, f *astiav.Frame) []float32 {
	cf := (*C.AVFrame)(f.UnsafePointer())
	n := int(C.mediavec_frame_nb_samples(cf))
	if n <= 0 {
		return dst
	}
	p := C.mediavec_frame_plane0(cf)
	return append(dst, unsafe.Slice((*float32)(unsafe.Pointer(p)), n)...)
}

// frameTimestamp is the frame's best-effort presentation timestamp: its pts,
// or FFmpeg's guess from packet timing when the pts is missing (some AVI,
// raw streams).
func frameTimestamp(f *astiav.Frame) int64 {
	if pts := f.Pts(); pts != astiav.NoPtsValue {
		return pts
	}
	return int64(C.mediavec_frame_best_effort((*C.AVFrame)(f.UnsafePointer())))
}
