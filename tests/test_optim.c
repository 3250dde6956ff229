/* test_optim.c - AdamW and gradient clipping against torch.
 *
 * Fixture: scripts/reference/make_optim_fixture.py (torch.optim.AdamW, lr
 * 0.01, weight decay 0 and 0.1, with and without clip_grad_norm_(0.5) over
 * two tensors, 5 steps of given gradients, some zero, scales 1e-6 .. 1e2).
 * Every parameter after every step within 1e-6 * max(1, |ref|); the norms
 * clip returns within 1e-6 relative. Also the first step by formula. */
#include <string.h>

#include "check.h"
#include "engine_fixture.h"
#include "lorafit/engine/optim.h"

enum { N = 13, STEPS = 5 };

int main(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/fixtures/engine/optim.safetensors",
             check_env("LORAFIT_SOURCE_DIR", "."));
    LfError err = {0};
    StFile *f = st_open(path, &err);
    REQUIRE(f != NULL, "%s", err.msg);
    const float *init = fx_f32(f, "init", N), *grads = fx_f32(f, "grads", STEPS * N);
    REQUIRE(init && grads, "fixture tensors");
    double worst = 0;
    for (int wd = 0; wd <= 1; wd++) {
        for (int clip = 0; clip <= 1; clip++) {
            char key[64];
            snprintf(key, sizeof key, "wd%d.clip%d.params", wd, clip);
            const float *want = fx_f32(f, key, STEPS * N);
            snprintf(key, sizeof key, "wd%d.clip%d.norms", wd, clip);
            const float *norms = clip ? fx_f32(f, key, STEPS) : NULL;
            CHECK(want && (!clip || norms), "fixture %s", key);
            if (!want || (clip && !norms)) continue;
            AdamW opt;
            REQUIRE(adamw_build(&opt, N, 0.01f, wd ? 0.1f : 0.0f, &err), "adamw_build: %s", err.msg);
            float p[N], g[N];
            memcpy(p, init, sizeof p);
            for (int s = 0; s < STEPS; s++) {
                memcpy(g, grads + s * N, sizeof g);
                if (clip) {
                    float nrm = grad_clip_norm(g, N, 0.5f);
                    CHECK(check_close(nrm, norms[s], 1e-6), "wd %d step %d: norm %.9g want %.9g", wd, s,
                          nrm, norms[s]);
                }
                adamw_step(&opt, p, g, N);
                for (int i = 0; i < N; i++) {
                    double w = want[s * N + i], d = fabs(p[i] - w) / fmax(1.0, fabs(w));
                    if (d > worst) worst = d;
                    CHECK(d <= 1e-6, "wd %d clip %d step %d [%d]: %.9g want %.9g", wd, clip, s, i, p[i], w);
                }
            }
            CHECK(opt.step == STEPS, "step count %d", opt.step);
            adamw_free(&opt);
        }
    }
    /* first step by formula: m = 0.1 g, v = 0.001 g^2, bias-corrected -> p -= lr * sign(g) (|g| >> eps) */
    AdamW opt;
    REQUIRE(adamw_build(&opt, 2, 0.1f, 0.5f, &err), "adamw_build: %s", err.msg);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.25f, -4.0f};
    adamw_step(&opt, p, g, 2);
    CHECK(check_close(p[0], 1.0 * (1 - 0.05) - 0.1, 1e-6), "formula: %.9g", p[0]);
    CHECK(check_close(p[1], -2.0 * (1 - 0.05) + 0.1, 1e-6), "formula: %.9g", p[1]);
    adamw_free(&opt);
    /* clipping leaves a small gradient alone */
    float small[3] = {0.1f, 0.2f, -0.2f};
    float nrm = grad_clip_norm(small, 3, 1.0f);
    CHECK(check_close(nrm, 0.3, 1e-6) && small[0] == 0.1f && small[2] == -0.2f, "no clip below max");
    st_close(f);
    printf("max relative parameter error: %.3g\n", worst);
    return check_done();
}
