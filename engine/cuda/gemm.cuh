/* gemm.cuh — the CUDA backend's matrix products: Y[M, N] = X[M, K] · W[N, K]^T (+ beta·Y), row-major,
 * through cuBLASLt with fp32 accumulation (bf16/fp16 on tensor cores; fp32 stays fp32, never TF32).
 *
 * One plan per weight shape (N, K) keeps the matrix layouts and the algorithm. ko_gemm_tune times the
 * candidates cuBLASLt's heuristic offers for one M and keeps the fastest whose output is bit-for-bit
 * the heuristic's first choice's on random inputs, so tuning changes the speed, never a result (only
 * algorithms without split-K are considered: their sums run over K in one sequence). Other M use the
 * tuned algorithm when it applies to them and M is at least half the tuned M, else the heuristic's. */
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

extern "C" {
#include "common/ko.h"
}

struct ko_gemm;

int ko_gemm_create(ko_gemm **g, cudaStream_t st, cudaDataType_t dt, size_t ws_bytes, ko_err *e);
void ko_gemm_destroy(ko_gemm *g);
int ko_gemm_run(ko_gemm *g, const void *W, const void *X, void *Y, int M, int N, int K, float beta, ko_err *e);
/* Tunes the plan of (N, K) at M rows. X and Y are scratch (overwritten with random data and results);
 * W is read only. With verbose, prints one line: candidates, how many give the same bits, times. */
int ko_gemm_tune(ko_gemm *g, const void *W, void *X, void *Y, int M, int N, int K, const char *what, bool verbose, ko_err *e);
