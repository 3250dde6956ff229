/* lowrank.c - see include/lorafit/engine/lowrank.h */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/lowrank.h"

/* Modified Gram-Schmidt on the r columns of X (rows n, element (i, j) at
 * X[i * sr + j * sc]): writes R [r, r] (upper triangular) so that X = Q R.
 * Q is not needed: only R enters the core. A column in the span of the
 * previous ones gets a zero row in R. */
static bool qr_r(const float *X, int n, int r, size_t sr, size_t sc, double *R) {
    double *Q = malloc((size_t)n * r * sizeof *Q);
    if (!Q) return false;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < r; j++) Q[(size_t)j * n + i] = X[i * sr + j * sc];
    memset(R, 0, (size_t)r * r * sizeof *R);
    for (int j = 0; j < r; j++) {
        double *q = Q + (size_t)j * n;
        for (int k = 0; k < j; k++) {
            const double *p = Q + (size_t)k * n;
            double d = 0;
            for (int i = 0; i < n; i++) d += p[i] * q[i];
            R[k * r + j] = d;
            for (int i = 0; i < n; i++) q[i] -= d * p[i];
        }
        double norm = 0;
        for (int i = 0; i < n; i++) norm += q[i] * q[i];
        norm = sqrt(norm);
        R[j * r + j] = norm;
        for (int i = 0; i < n; i++) q[i] = norm > 0 ? q[i] / norm : 0;
    }
    free(Q);
    return true;
}

static int by_descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

void jacobi_singular_values(double *M, int n, double *sigma) {
    /* Hestenes: rotate column pairs until all are orthogonal; the column norms are then the singular values. */
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0;
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++) {
                double a = 0, b = 0, c = 0;
                for (int i = 0; i < n; i++) {
                    double x = M[i * n + p], y = M[i * n + q];
                    a += x * x, b += y * y, c += x * y;
                }
                if (c == 0 || fabs(c) <= 1e-15 * sqrt(a * b)) continue;
                off = fmax(off, fabs(c) / sqrt(a * b));
                double zeta = (b - a) / (2 * c);
                double t = (zeta >= 0 ? 1 : -1) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                double cs = 1 / sqrt(1 + t * t), sn = cs * t;
                for (int i = 0; i < n; i++) {
                    double x = M[i * n + p], y = M[i * n + q];
                    M[i * n + p] = cs * x - sn * y;
                    M[i * n + q] = sn * x + cs * y;
                }
            }
        if (off <= 1e-15) break;
    }
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += M[i * n + j] * M[i * n + j];
        sigma[j] = sqrt(s);
    }
    qsort(sigma, (size_t)n, sizeof *sigma, by_descending);
}

bool lowrank_singular_values(const float *A, const float *B, int in, int r, int out, double scale, double *sigma) {
    if (r < 1 || r > LOWRANK_MAX_RANK) return false;
    double *Ra = malloc((size_t)r * r * sizeof *Ra), *Rb = malloc((size_t)r * r * sizeof *Rb);
    double *core = malloc((size_t)r * r * sizeof *core);
    bool ok = Ra && Rb && core && qr_r(A, in, r, (size_t)r, 1, Ra) && qr_r(B, out, r, 1, (size_t)out, Rb);
    if (ok) { /* A @ B = Qa Ra (Qb Rb)^T = Qa (Ra Rb^T) Qb^T */
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int k = 0; k < r; k++) s += Ra[i * r + k] * Rb[j * r + k];
                core[i * r + j] = s * fabs(scale);
            }
        jacobi_singular_values(core, r, sigma);
    }
    free(Ra);
    free(Rb);
    free(core);
    return ok;
}

double lowrank_frobenius(const float *A, const float *B, int in, int r, int out, double scale) {
    /* ||A B||_F^2 = sum_jk (A^T A)_jk (B B^T)_kj */
    double total = 0;
    for (int j = 0; j < r; j++)
        for (int k = 0; k < r; k++) {
            double ga = 0, gb = 0;
            for (int i = 0; i < in; i++) ga += (double)A[(size_t)i * r + j] * A[(size_t)i * r + k];
            for (int o = 0; o < out; o++) gb += (double)B[(size_t)j * out + o] * B[(size_t)k * out + o];
            total += ga * gb;
        }
    return sqrt(fmax(total, 0)) * fabs(scale);
}
