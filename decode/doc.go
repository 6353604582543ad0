// Package decode turns a video source into plain data with FFmpeg (go-astiav):
// what the container holds (Info, streams, rotation), frames chosen by a
// sampling policy (fps=N, keyframes, scenes) and converted to every size and
// pixel layout the encoders ask for from one decode, the audio track
// resampled to mono float32, and the text it carries (metadata and subtitle
// cues).
//
// decode owns the input-safety rules: which sources may be opened (paths
// under roots, http(s) URLs under an address policy, readers), a custom
// IOContext so FFmpeg never opens anything by name, the demuxer whitelist,
// and the per-job limits (bytes, duration, pixels per frame, frames, wall
// time). Every failure is an *Error whose Kind says whether the input is bad
// (never worth retrying) or the failure was transient.
//
// decode imports no other mediavec package; its output types are plain data.
package decode
