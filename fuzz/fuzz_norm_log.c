/* fuzz_norm_log.c - libFuzzer target for the norms records `inspect --log`
 * reads (report/norm_log.h): any input is read or refused with a message
 * naming the input; what is read is in range (steps increasing, every
 * value a norm or NaN), and its table prints. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/report/norm_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    NormLog g;
    LfError err = {0};
    if (!norm_log_parse((const char *)data, size, "fuzz", &g, &err)) {
        if (!err.msg[0] || (err.kind == LF_ERR_INPUT && !strstr(err.msg, "fuzz"))) abort(); /* says why, and where */
        return 0;
    }
    if (g.n_steps < 1 || g.n_layer < 1 || g.n_layer > NORM_LOG_MAX_LAYERS || g.n_targets < 1 ||
        g.n_targets > INSPECT_MAX_TARGETS)
        abort();
    for (int i = 0; i < g.n_steps; i++) {
        if (g.steps[i] < 0 || (i && g.steps[i] <= g.steps[i - 1])) abort();
        for (int t = 0; t < g.n_targets; t++)
            for (int l = 0; l < g.n_layer; l++) {
                double v = norm_log_at(&g, i, t, l);
                if (!isnan(v) && !(v >= 0 && isfinite(v))) abort();
            }
    }
    char *text = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&text, &len);
    if (!w) abort();
    norm_log_print_table(w, &g, 8);
    fclose(w);
    free(text);
    norm_log_free(&g);
    return 0;
}
