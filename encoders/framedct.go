package encoders

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

const (
	SpaceFrameDCT = "frame_dct_v1"
	// FrameDCTInput is the side of the grey square frame_dct_v1 reads.
	FrameDCTInput = 64
	dctBlock      = 16
	// FrameDCTDim is the vector size: the 16×16 low-frequency block less
	// the DC term, which only says how bright the frame is.
	FrameDCTDim = dctBlock*dctBlock - 1
)

// FrameDCT is the built-in frame_dct_v1 encoder, a PDQ-style perceptual
// descriptor: the 64×64 grey frame's 2-D DCT-II, its 16×16 lowest
// frequencies without the DC term, L2-normalised. Low frequencies survive
// re-encoding and rescaling, which is what near-duplicate detection needs.
// It has no weights. A FrameDCT is not safe for concurrent use; make one per
// goroutine (they are cheap).
type FrameDCT struct {
	dct      *fourier.DCT
	rows     []float64 // 64×64 after the row transform
	col, out []float64
}

// NewFrameDCT returns an encoder for 64×64 grey frames.
func NewFrameDCT() *FrameDCT {
	n := FrameDCTInput
	return &FrameDCT{
		dct:  fourier.NewDCT(n),
		rows: make([]float64, n*n),
		col:  make([]float64, n),
		out:  make([]float64, n),
	}
}

// Embed returns the descriptor of a 64×64 grey image (row-major bytes).
func (e *FrameDCT) Embed(gray []byte) ([]float32, error) {
	n := FrameDCTInput
	if len(gray) != n*n {
		return nil, &Error{Model: SpaceFrameDCT, Op: "embed", Err: fmt.Errorf("want %d grey bytes (%dx%d), got %d", n*n, n, n, len(gray))}
	}
	row := e.col
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			row[x] = float64(gray[y*n+x])
		}
		e.dct.Transform(e.rows[y*n:(y+1)*n], row)
	}
	vec := make([]float32, 0, FrameDCTDim)
	var norm float64
	coeffs := make([]float64, dctBlock*dctBlock)
	// Column transforms, only for the low-frequency columns we keep.
	for x := 0; x < dctBlock; x++ {
		for y := 0; y < n; y++ {
			e.col[y] = e.rows[y*n+x]
		}
		e.dct.Transform(e.out, e.col)
		for v := 0; v < dctBlock; v++ {
			coeffs[v*dctBlock+x] = e.out[v]
		}
	}
	for i, c := range coeffs {
		if i == 0 {
			continue
		}
		vec = append(vec, float32(c))
		norm += c * c
	}
	if norm == 0 {
		// A flat frame has no structure to match on; a zero vector scores 0
		// against everything instead of matching every other flat frame.
		return vec, nil
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range vec {
		vec[i] *= inv
	}
	return vec, nil
}
