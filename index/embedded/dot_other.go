//go:build !amd64

package embedded

const haveAVX2 = false

func dotsInt8(q, codes []int8, pdim int, out []int32) { dotsInt8Go(q, codes, pdim, out) }
