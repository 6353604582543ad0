// Package decode turns a video source into plain data with FFmpeg (go-astiav):
// what the container holds (Info), frames sampled at a fixed interval and
// scaled to the size an encoder asks for, and the audio track resampled to
// mono float32.
//
// decode owns the input-safety rules: which sources may be opened, the
// FFmpeg protocol and demuxer whitelists, and the per-job limits (bytes,
// duration, pixels per frame, wall time). Every failure is an *Error whose
// Kind says whether the input is bad (never worth retrying) or the failure
// was transient.
//
// decode imports no other mediavec package; its output types are plain data.
package decode
