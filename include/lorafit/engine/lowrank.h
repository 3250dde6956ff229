/* lowrank.h - the spectrum of a LoRA update scale * A @ B without forming
 * it: A [in, r] and B [r, out] (the engine's layouts) reduce, by QR of A and
 * of B^T, to an r x r core R_A R_B^T whose singular values are those of
 * A @ B (the orthonormal factors do not change them), found by one-sided
 * Jacobi rotations. Everything in double; r <= LOWRANK_MAX_RANK. */
#ifndef LORAFIT_LOWRANK_H
#define LORAFIT_LOWRANK_H

#include <stdbool.h>

#define LOWRANK_MAX_RANK 256

/* The r singular values of scale * A @ B, largest first, into sigma[r]
 * (false when r is outside 1..LOWRANK_MAX_RANK or memory runs out). */
bool lowrank_singular_values(const float *A, const float *B, int in, int r, int out, double scale, double *sigma);

/* ||scale * A @ B||_F from the r x r Gram matrices: sqrt(trace((A^T A)(B B^T))) * |scale|. */
double lowrank_frobenius(const float *A, const float *B, int in, int r, int out, double scale);

/* The singular values of the n x n row-major matrix M (overwritten), largest first. */
void jacobi_singular_values(double *M, int n, double *sigma);

#endif
