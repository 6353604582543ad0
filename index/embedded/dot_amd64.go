package embedded

import "golang.org/x/sys/cpu"

//go:noescape
func dotsInt8AVX2(q *int8, codes *int8, pdim int, n int, out *int32)

var haveAVX2 = cpu.X86.HasAVX2

// dotsInt8 sets out[r] to the dot product of q with row r of codes (rows
// of pdim int8s, pdim a multiple of 32).
func dotsInt8(q, codes []int8, pdim int, out []int32) {
	if len(out) == 0 {
		return
	}
	if len(q) != pdim || pdim%32 != 0 || len(codes) < len(out)*pdim {
		panic("index: dotsInt8 misuse")
	}
	if haveAVX2 {
		dotsInt8AVX2(&q[0], &codes[0], pdim, len(out), &out[0])
		return
	}
	dotsInt8Go(q, codes, pdim, out)
}
