#include "textflag.h"

// func dotsInt8AVX2(q *int8, codes *int8, pdim int, n int, out *int32)
//
// out[r] = Σ_i q[i]·codes[r·pdim+i] for r < n. pdim is a positive multiple
// of 32. Each step widens 16 int8 to int16 (VPMOVSXBW), multiplies and adds
// pairs into int32 (VPMADDWD): no overflow, since |q|,|c| ≤ 127 and a row
// sums at most pdim·127² < 2³¹ for pdim < 133,000.
TEXT ·dotsInt8AVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), R8
	MOVQ codes+8(FP), SI
	MOVQ pdim+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ out+32(FP), DI
	TESTQ R10, R10
	JZ   done

row:
	MOVQ  R8, BX
	MOVQ  R9, CX
	VPXOR Y0, Y0, Y0
	VPXOR Y4, Y4, Y4

inner:
	VPMOVSXBW (BX), Y1
	VPMOVSXBW (SI), Y2
	VPMADDWD  Y1, Y2, Y3
	VPADDD    Y3, Y0, Y0
	VPMOVSXBW 16(BX), Y5
	VPMOVSXBW 16(SI), Y6
	VPMADDWD  Y5, Y6, Y7
	VPADDD    Y7, Y4, Y4
	ADDQ      $32, BX
	ADDQ      $32, SI
	SUBQ      $32, CX
	JNZ       inner

	VPADDD       Y4, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4E, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xB1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, AX
	MOVL         AX, (DI)
	ADDQ         $4, DI
	DECQ         R10
	JNZ          row

done:
	VZEROUPPER
	RET
