//go:build amd64 && !purego

#include "textflag.h"

// The body check, 16 (SSE2) or 32 (AVX2) bytes a step: for each i in
// 1..len(p)-1, p[i] is LF exactly when p[i-1] is CR. A block compares
// v = p[i:i+16] with LF and prev = p[i-1:i+15] with CR; the two masks
// differ at a bare CR or LF. The last block is the one ending at
// len(p), which may overlap the one before it, so nothing outside p is
// read. Every v is ORed into an accumulator whose sign bits tell a byte
// >= 0x80 in p[1:]. The caller checks p[0], p[len(p)-1] and lengths
// below 17 (33 for AVX2).

// func scanSSE2(p []byte) (ok, high bool)
TEXT ·scanSSE2(SB), NOSPLIT, $0-26
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X6
	PUNPCKLQDQ X6, X6
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7
	PXOR X5, X5
	LEAQ -16(SI)(BX*1), DX // start of the last block
	LEAQ -32(SI)(BX*1), R8 // start of the last double block
	INCQ SI

loop32:
	CMPQ SI, R8
	JA   loop16
	MOVOU (SI), X0
	MOVOU -1(SI), X1
	MOVOU 16(SI), X2
	MOVOU 15(SI), X3
	POR   X0, X5
	POR   X2, X5
	PCMPEQB X6, X0
	PCMPEQB X7, X1
	PCMPEQB X6, X2
	PCMPEQB X7, X3
	PXOR  X1, X0
	PXOR  X3, X2
	POR   X2, X0
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ   bad
	ADDQ  $32, SI
	JMP   loop32

loop16:
	CMPQ SI, DX
	JA   last
	MOVOU (SI), X0
	MOVOU -1(SI), X1
	POR   X0, X5
	PCMPEQB X6, X0
	PCMPEQB X7, X1
	PXOR  X1, X0
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ   bad
	ADDQ  $16, SI
	JMP   loop16

last:
	MOVOU (DX), X0
	MOVOU -1(DX), X1
	POR   X0, X5
	PCMPEQB X6, X0
	PCMPEQB X7, X1
	PXOR  X1, X0
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ   bad
	PMOVMSKB X5, AX
	TESTL AX, AX
	SETNE high+25(FP)
	MOVB  $1, ok+24(FP)
	RET

bad:
	MOVB $0, ok+24(FP)
	MOVB $0, high+25(FP)
	RET

// func scanAVX2(p []byte) (ok, high bool)
TEXT ·scanAVX2(SB), NOSPLIT, $0-26
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X6
	VPBROADCASTQ X6, Y6
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X7
	VPBROADCASTQ X7, Y7
	VPXOR Y5, Y5, Y5
	LEAQ -32(SI)(BX*1), DX // start of the last block
	LEAQ -64(SI)(BX*1), R8 // start of the last double block
	INCQ SI

avxloop64:
	CMPQ SI, R8
	JA   avxloop32
	VMOVDQU (SI), Y0
	VMOVDQU -1(SI), Y1
	VMOVDQU 32(SI), Y2
	VMOVDQU 31(SI), Y3
	VPOR    Y0, Y5, Y5
	VPOR    Y2, Y5, Y5
	VPCMPEQB Y6, Y0, Y0
	VPCMPEQB Y7, Y1, Y1
	VPCMPEQB Y6, Y2, Y2
	VPCMPEQB Y7, Y3, Y3
	VPXOR   Y1, Y0, Y0
	VPXOR   Y3, Y2, Y2
	VPOR    Y2, Y0, Y0
	VPTEST  Y0, Y0
	JNZ     avxbad
	ADDQ    $64, SI
	JMP     avxloop64

avxloop32:
	CMPQ SI, DX
	JA   avxlast
	VMOVDQU (SI), Y0
	VMOVDQU -1(SI), Y1
	VPOR    Y0, Y5, Y5
	VPCMPEQB Y6, Y0, Y0
	VPCMPEQB Y7, Y1, Y1
	VPXOR   Y1, Y0, Y0
	VPTEST  Y0, Y0
	JNZ     avxbad
	ADDQ    $32, SI
	JMP     avxloop32

avxlast:
	VMOVDQU (DX), Y0
	VMOVDQU -1(DX), Y1
	VPOR    Y0, Y5, Y5
	VPCMPEQB Y6, Y0, Y0
	VPCMPEQB Y7, Y1, Y1
	VPXOR   Y1, Y0, Y0
	VPTEST  Y0, Y0
	JNZ     avxbad
	VPMOVMSKB Y5, AX
	VZEROUPPER
	TESTL AX, AX
	SETNE high+25(FP)
	MOVB  $1, ok+24(FP)
	RET

avxbad:
	VZEROUPPER
	MOVB $0, ok+24(FP)
	MOVB $0, high+25(FP)
	RET
