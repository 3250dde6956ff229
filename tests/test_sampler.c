/* test_sampler.c - the sampler's distributions against hand computations:
 * temperature, top-k (ties at the cut kept), top-p (HF's rule: the
 * smallest set whose mass reaches p), the CTRL repetition penalty, greedy's
 * first-of-the-largest, and draws reproducible from the seed whose
 * frequencies follow the distribution. */
#include <string.h>

#include "check.h"
#include "lorafit/engine/sampler.h"

enum { V = 5 };

static void distribution(SamplerConfig c, const float *logits_in, const int32_t *hist, int n, float *probs) {
    Sampler s;
    LfError err = {0};
    REQUIRE(sampler_init(&s, &c, V, &err), "sampler_init: %s", err.msg);
    float logits[V];
    memcpy(logits, logits_in, sizeof logits);
    sampler_distribution(&s, logits, hist, n, probs);
    sampler_free(&s);
}

static void check_probs(const float *got, const double *want, const char *what) {
    for (int i = 0; i < V; i++)
        CHECK(fabs(got[i] - want[i]) < 1e-6, "%s: p[%d] = %.7f, want %.7f", what, i, got[i], want[i]);
}

static SamplerConfig sampling(double t) {
    SamplerConfig c = sampler_config_default();
    c.temperature = t;
    return c;
}

int main(void) {
    const float lg[V] = {1, 2, 3, 0, -1};
    float p[V];
    /* temperature 1 and 0.5: softmax of logits / T, written out */
    double z1 = exp(1) + exp(2) + exp(3) + exp(0) + exp(-1);
    double want1[V] = {exp(1) / z1, exp(2) / z1, exp(3) / z1, 1 / z1, exp(-1) / z1};
    distribution(sampling(1), lg, NULL, 0, p);
    check_probs(p, want1, "T=1");
    double z2 = exp(2) + exp(4) + exp(6) + 1 + exp(-2);
    double want2[V] = {exp(2) / z2, exp(4) / z2, exp(6) / z2, 1 / z2, exp(-2) / z2};
    distribution(sampling(0.5), lg, NULL, 0, p);
    check_probs(p, want2, "T=0.5");

    /* top-k 2: logits 3 and 2 stay: e^3 / (e^3 + e^2) = 1 / (1 + e^-1) = 0.7310586 */
    SamplerConfig c = sampling(1);
    c.top_k = 2;
    double wk[V] = {0, 0.2689414, 0.7310586, 0, 0};
    distribution(c, lg, NULL, 0, p);
    check_probs(p, wk, "top-k 2");
    /* ties at the cut are kept: k = 1 over {1, 2, 2, 0, -1} keeps both 2s */
    const float tie[V] = {1, 2, 2, 0, -1};
    c.top_k = 1;
    double wt[V] = {0, 0.5, 0.5, 0, 0};
    distribution(c, tie, NULL, 0, p);
    check_probs(p, wt, "top-k 1 with a tie");
    c.top_k = 99; /* more than V: no cut */
    distribution(c, lg, NULL, 0, p);
    check_probs(p, want1, "top-k above V");

    /* top-p over probabilities 0.1 0.5 0.3 0.05 0.05 */
    const float lp[V] = {logf(0.1f), logf(0.5f), logf(0.3f), logf(0.05f), logf(0.05f)};
    c = sampling(1);
    c.top_p = 0.75; /* 0.5 then 0.3 (0.5 before it < 0.75); 0.1 has 0.8 before it: cut */
    double wp1[V] = {0, 0.625, 0.375, 0, 0};
    distribution(c, lp, NULL, 0, p);
    check_probs(p, wp1, "top-p 0.75");
    c.top_p = 0.85; /* 0.1 has 0.8 before it: kept; the 0.05s have 0.9 */
    double wp2[V] = {0.1 / 0.9, 0.5 / 0.9, 0.3 / 0.9, 0, 0};
    distribution(c, lp, NULL, 0, p);
    check_probs(p, wp2, "top-p 0.85");
    c.top_p = 0.01; /* the most likely token always stays */
    double wp3[V] = {0, 1, 0, 0, 0};
    distribution(c, lp, NULL, 0, p);
    check_probs(p, wp3, "top-p 0.01");
    c.top_p = 0.75, c.top_k = 1; /* top-k first, then top-p over what is left */
    distribution(c, lp, NULL, 0, p);
    check_probs(p, wp3, "top-k 1 then top-p");

    /* repetition penalty 2 on tokens 0 and 1 (1 twice: penalised once):
     * 2 -> 1, -1 -> -2, the others unchanged */
    {
        SamplerConfig r = sampling(1);
        r.repetition_penalty = 2;
        Sampler s;
        LfError err = {0};
        REQUIRE(sampler_init(&s, &r, V, &err), "%s", err.msg);
        float x[V] = {2, -1, 0.5f, 3, 0};
        const int32_t hist[3] = {0, 1, 1};
        sampler_penalize(&s, x, hist, 3);
        const float want[V] = {1, -2, 0.5f, 3, 0};
        for (int i = 0; i < V; i++) CHECK(x[i] == want[i], "penalty: logit %d = %g, want %g", i, x[i], want[i]);
        /* and through the distribution: softmax of the penalised logits */
        float y[V] = {2, -1, 0.5f, 3, 0};
        sampler_distribution(&s, y, hist, 3, p);
        double z = exp(1) + exp(-2) + exp(0.5) + exp(3) + 1;
        double wr[V] = {exp(1) / z, exp(-2) / z, exp(0.5) / z, exp(3) / z, 1 / z};
        check_probs(p, wr, "penalised distribution");
        sampler_free(&s);
    }

    /* greedy: the first of the largest; the penalty applies to it too */
    {
        SamplerConfig g = sampler_config_default();
        Sampler s;
        LfError err = {0};
        REQUIRE(sampler_init(&s, &g, V, &err), "%s", err.msg);
        float x[V] = {1, 3, 3, 0, 2.9f};
        CHECK(sampler_pick(&s, x, NULL, 0) == 1, "greedy: the first of two largest logits");
        sampler_free(&s);
        g.repetition_penalty = 1.5;
        REQUIRE(sampler_init(&s, &g, V, &err), "%s", err.msg);
        float y[V] = {1, 3, 3, 0, 2.9f};
        const int32_t hist[2] = {1, 2}; /* 3 / 1.5 = 2 < 2.9 */
        CHECK(sampler_pick(&s, y, hist, 2) == 4, "greedy with a penalty picks token 4");
        sampler_free(&s);
    }

    /* draws: the same seed, the same tokens; frequencies follow top-k 2 */
    {
        SamplerConfig d = sampling(1);
        d.top_k = 2;
        d.seed = 7;
        Sampler a, b;
        LfError err = {0};
        REQUIRE(sampler_init(&a, &d, V, &err) && sampler_init(&b, &d, V, &err), "%s", err.msg);
        int count[V] = {0}, same = 1, n = 20000;
        int first[50];
        for (int i = 0; i < n; i++) {
            float x[V], y[V];
            memcpy(x, lg, sizeof x);
            memcpy(y, lg, sizeof y);
            int t = sampler_pick(&a, x, NULL, 0);
            same &= t == sampler_pick(&b, y, NULL, 0);
            count[t]++;
            if (i < 50) first[i] = t;
        }
        CHECK(same, "two samplers with one seed drew different tokens");
        CHECK(count[0] + count[3] + count[4] == 0, "a token cut by top-k was drawn");
        CHECK(fabs(count[2] / (double)n - 0.7310586) < 0.015, "frequency of token 2: %.4f, want 0.7311",
              count[2] / (double)n);
        sampler_reset(&a); /* a reset sampler draws the same tokens again */
        int again = 1;
        for (int i = 0; i < 50; i++) {
            float x[V];
            memcpy(x, lg, sizeof x);
            again &= sampler_pick(&a, x, NULL, 0) == first[i];
        }
        CHECK(again, "sampler_reset did not restart the draws");
        sampler_free(&a);
        sampler_free(&b);
    }

    /* ranges */
    LfError err = {0};
    SamplerConfig bad = sampler_config_default();
    bad.top_p = 0;
    CHECK(!sampler_config_validate(&bad, &err), "top-p 0 accepted");
    bad = sampler_config_default();
    bad.temperature = -1;
    CHECK(!sampler_config_validate(&bad, &err), "a negative temperature accepted");
    return check_done();
}
