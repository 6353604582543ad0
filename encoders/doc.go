// Package encoders turns decoded media into vectors: the model manifest, the
// ONNX Runtime environment and sessions, and the built-in encoders.
//
// Each encoder defines one embedding space, named (encoder, version), for
// example "frame_dct_v1" or "audio_speech_v1". That name is the named vector
// in the index, so changing what an encoder computes means a new version.
//
// encoders imports no other mediavec package; it takes plain slices in and
// gives plain slices out.
package encoders
