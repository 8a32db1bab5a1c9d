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

// scanData is scan for DATA, where a line starting with a dot ends the
// segment: the first i >= 1 with p[i-1] LF and p[i] '.' is found in the
// same blocks (a third and fourth compare), and the check and the sign
// bits then count only the bytes before it. Blocks are taken as in
// scanSSE2, the last one ending at len(p); bytes it shares with the one
// before were found clean and without a dot there, so seeing them twice
// changes nothing.

// func scanDataSSE2(p []byte) (n int, ok, high bool)
TEXT ·scanDataSSE2(SB), NOSPLIT, $0-34
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ SI, R9
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X6
	PUNPCKLQDQ X6, X6
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7
	MOVQ $0x2e2e2e2e2e2e2e2e, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8
	PXOR X5, X5
	LEAQ -16(SI)(BX*1), DX // start of the last block
	INCQ SI
	XORL R10, R10          // 1 in the last block

dloop:
	CMPQ SI, DX
	JBE  dblock
	MOVQ DX, SI
	MOVL $1, R10

dblock:
	MOVOU (SI), X0  // v
	MOVOU -1(SI), X1 // prev
	MOVO  X0, X2
	PCMPEQB X6, X2 // v == LF
	MOVO  X1, X3
	PCMPEQB X7, X3 // prev == CR
	PXOR  X3, X2   // bad
	MOVO  X0, X3
	PCMPEQB X8, X3 // v == '.'
	PCMPEQB X6, X1 // prev == LF
	PAND  X1, X3   // dot
	MOVO  X2, X4
	POR   X3, X4
	PMOVMSKB X4, AX
	TESTL AX, AX
	JNZ   dfound
	POR   X0, X5
	TESTL R10, R10
	JNZ   dnone
	ADDQ  $16, SI
	JMP   dloop

dfound:
	PMOVMSKB X3, CX // dots
	PMOVMSKB X2, AX // bare CRs and LFs
	PMOVMSKB X0, R12 // sign bits of v
	PMOVMSKB X5, R13 // sign bits of the blocks before
	TESTL CX, CX
	JZ    dbad
	BSFL  CX, CX  // the dot's place in the block
	MOVL  $1, R11
	SHLL  CX, R11
	DECL  R11     // the bytes before it
	TESTL R11, AX
	JNZ   dbad
	ANDL  R11, R12
	ORL   R13, R12
	SETNE high+33(FP)
	MOVB  $1, ok+32(FP)
	SUBQ  R9, SI
	ADDQ  CX, SI
	MOVQ  SI, n+24(FP)
	RET

dbad:
	MOVQ $0, n+24(FP)
	MOVB $0, ok+32(FP)
	MOVB $0, high+33(FP)
	RET

dnone:
	PMOVMSKB X5, AX
	TESTL AX, AX
	SETNE high+33(FP)
	MOVB  $1, ok+32(FP)
	MOVQ  BX, n+24(FP)
	RET

// func scanDataAVX2(p []byte) (n int, ok, high bool)
TEXT ·scanDataAVX2(SB), NOSPLIT, $0-34
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ SI, R9
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X6
	VPBROADCASTQ X6, Y6
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X7
	VPBROADCASTQ X7, Y7
	MOVQ $0x2e2e2e2e2e2e2e2e, AX
	MOVQ AX, X8
	VPBROADCASTQ X8, Y8
	VPXOR Y5, Y5, Y5
	LEAQ -32(SI)(BX*1), DX // start of the last block
	INCQ SI
	XORL R10, R10          // 1 in the last block

avxdloop:
	CMPQ SI, DX
	JBE  avxdblock
	MOVQ DX, SI
	MOVL $1, R10

avxdblock:
	VMOVDQU (SI), Y0  // v
	VMOVDQU -1(SI), Y1 // prev
	VPCMPEQB Y6, Y0, Y2 // v == LF
	VPCMPEQB Y7, Y1, Y3 // prev == CR
	VPXOR    Y3, Y2, Y2 // bad
	VPCMPEQB Y8, Y0, Y3 // v == '.'
	VPCMPEQB Y6, Y1, Y1 // prev == LF
	VPAND    Y1, Y3, Y3 // dot
	VPOR     Y3, Y2, Y4
	VPTEST   Y4, Y4
	JNZ      avxdfound
	VPOR     Y0, Y5, Y5
	TESTL    R10, R10
	JNZ      avxdnone
	ADDQ     $32, SI
	JMP      avxdloop

avxdfound:
	VPMOVMSKB Y3, CX  // dots
	VPMOVMSKB Y2, AX  // bare CRs and LFs
	VPMOVMSKB Y0, R12 // sign bits of v
	VPMOVMSKB Y5, R13 // sign bits of the blocks before
	VZEROUPPER
	TESTL CX, CX
	JZ    avxdbad
	BSFL  CX, CX  // the dot's place in the block
	MOVL  $1, R11
	SHLL  CX, R11
	DECL  R11     // the bytes before it
	TESTL R11, AX
	JNZ   avxdbad
	ANDL  R11, R12
	ORL   R13, R12
	SETNE high+33(FP)
	MOVB  $1, ok+32(FP)
	SUBQ  R9, SI
	ADDQ  CX, SI
	MOVQ  SI, n+24(FP)
	RET

avxdbad:
	MOVQ $0, n+24(FP)
	MOVB $0, ok+32(FP)
	MOVB $0, high+33(FP)
	RET

avxdnone:
	VPMOVMSKB Y5, AX
	VZEROUPPER
	TESTL AX, AX
	SETNE high+33(FP)
	MOVB  $1, ok+32(FP)
	MOVQ  BX, n+24(FP)
	RET
