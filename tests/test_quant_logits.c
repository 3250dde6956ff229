/* test_quant_logits.c - next-token logits of a random GPT-2 with its block
 * Linears in nf4 and int8, against fp32 (the decoder's prefill, 64 tokens).
 *
 * Printed: max |dz| and the RMS of dz relative to the RMS spread of the
 * fp32 logits (z - mean z), and whether the argmax agrees. Asserted on a
 * 4-layer, width-128 model: relative RMS below 0.25 for nf4 and 0.03 for
 * int8. Why those bounds: each matrix's own relative error is about 0.09
 * (nf4) and 0.006 (int8) on Gaussian weights (cli_quantize.sh checks it),
 * and with 16 matrices whose independent errors add in quadrature on the
 * residual stream the logits may see up to ~2.5x that; the bounds leave
 * room for that and fail on any wiring mistake (a wrong tile or nibble
 * order gives errors of order 1). With more layers the bounds grow as
 * sqrt(n_layer / 4), the quadrature sum over more matrices.
 * LORAFIT_QUANT_LOGITS_CONFIG=gpt2-small runs the same on a random
 * gpt2-small (about a minute) and prints the figures the README quotes. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/decode.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/engine/random_weights.h"

enum { T = 64 };

static bool logits_of(const Gpt2Weights *w, const int32_t *ids, float *z) {
    Gpt2Model m;
    Decoder d;
    LfError err = {0};
    LoraConfig lc = lora_config_default();
    REQUIRE(gpt2_build(&m, w, NULL, 0, &lc, 2, 1, 1, 0, &err), "%s", err.msg);
    REQUIRE(decoder_init(&d, &m, 1, T, &err), "%s", err.msg);
    bool ok = decoder_prefill(&d, 0, ids, T, z, &err);
    CHECK(ok, "prefill: %s", err.msg);
    decoder_free(&d);
    gpt2_free(&m);
    return ok;
}

static int argmax(const float *z, int n) {
    int k = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[k]) k = i;
    return k;
}

int main(void) {
    const char *preset = getenv("LORAFIT_QUANT_LOGITS_CONFIG");
    Gpt2Config cfg;
    LfError err = {0};
    if (preset) REQUIRE(gpt2_config_preset(preset, &cfg, &err), "%s", err.msg);
    else cfg = (Gpt2Config){.n_layer = 4, .n_embd = 128, .n_head = 4, .vocab_size = 512, .n_ctx = 128, .qkv_bias = true};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 11, &err);
    REQUIRE(w, "%s", err.msg);
    const int V = cfg.vocab_size;
    int32_t ids[T];
    for (int t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919 + 13) % V);
    float *z = malloc(sizeof(float) * V), *zq = malloc(sizeof(float) * V);
    REQUIRE(z && zq, "memory");
    REQUIRE(logits_of(w, ids, z), "fp32 logits");
    double mean = 0, spread = 0;
    for (int i = 0; i < V; i++) mean += z[i];
    mean /= V;
    for (int i = 0; i < V; i++) spread += (z[i] - mean) * (z[i] - mean);
    spread = sqrt(spread / V);
    const QuantDtype dtypes[] = {QUANT_NF4, QUANT_INT8};
    const double bound[] = {0.25, 0.03};
    for (int k = 0; k < 2; k++) {
        QuantWeights qw;
        REQUIRE(quant_weights_build(&qw, w, dtypes[k], &err), "%s", err.msg);
        REQUIRE(logits_of(&qw.w, ids, zq), "%s logits", quant_dtype_name(dtypes[k]));
        double maxd = 0, sq = 0;
        for (int i = 0; i < V; i++) {
            double d = fabs((double)zq[i] - z[i]);
            maxd = d > maxd ? d : maxd;
            sq += d * d;
        }
        double rel = sqrt(sq / V) / spread;
        printf("%s %s: logits spread (RMS of z - mean) %.4f; max |dz| %.4f; RMS dz / spread %.4f; argmax %s\n",
               preset ? preset : "4x128", quant_dtype_name(dtypes[k]), spread, maxd, rel,
               argmax(z, V) == argmax(zq, V) ? "agrees" : "differs");
        double b = bound[k] * sqrt(cfg.n_layer / 4.0);
        CHECK(rel < b, "%s: relative RMS %.4f above %.3f", quant_dtype_name(dtypes[k]), rel, b);
        quant_weights_free(&qw);
    }
    free(z);
    free(zq);
    gpt2_weights_random_free(w);
    return check_done();
}
