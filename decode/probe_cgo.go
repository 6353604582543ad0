package decode

// #cgo pkg-config: libavformat libavutil
// #include <libavformat/avformat.h>
// #include <libavutil/dict.h>
// #include <libavutil/mem.h>
//
// // Like avformat_find_stream_info, but every decoder it opens to probe is
// // told the largest picture it may allocate.
// static int mediavec_find_stream_info(AVFormatContext *fc, int64_t max_pixels) {
//     unsigned n = fc->nb_streams;
//     AVDictionary **opts = n ? av_calloc(n, sizeof(*opts)) : NULL;
//     if (n && !opts) return AVERROR(ENOMEM);
//     for (unsigned i = 0; i < n; i++) av_dict_set_int(&opts[i], "max_pixels", max_pixels, 0);
//     int ret = avformat_find_stream_info(fc, opts);
//     for (unsigned i = 0; i < n; i++) av_dict_free(&opts[i]);
//     av_freep(&opts);
//     return ret;
// }
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// findStreamInfo probes the streams with a pixel limit on every probing
// decoder: a header declaring a huge picture would otherwise make FFmpeg
// allocate and initialise it before any check of ours runs. go-astiav's
// FindStreamInfo cannot pass per-stream options, and v0.16 has no accessor
// for the AVFormatContext pointer, so this reads its one field (the
// version is pinned in go.mod; the corpus and fuzz tests exercise it).
func findStreamInfo(fc *astiav.FormatContext, maxPixels int) error {
	c := (*struct{ c *C.AVFormatContext })(unsafe.Pointer(fc)).c
	if ret := C.mediavec_find_stream_info(c, C.int64_t(maxPixels)); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}
