/* cmd_train.c - `lorafit train`: fine-tune GPT-2 with LoRA and a
 * classification head on a labelled CSV, as the labs do, or the language
 * model itself on text (--task causal-lm), and save the adapter. The loop's mechanics are in trainer.c; this file owns what the
 * user sees (log lines, progress bar, JSON log, plot), checkpoints and
 * Ctrl-C. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/io/adapter.h"
#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/cli/data_options.h"
#include "lorafit/cli/lm_input.h"
#include "lorafit/cli/train_run.h"
#include "lorafit/report/report.h"
#include "lorafit/util/clock.h"
#include "lorafit/cli/session.h"
#include "lorafit/engine/trainer.h"

/* Set by SIGINT/SIGTERM; the loop checks it between steps. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) { stop_requested = sig; }


/* CLI_FIXED: settings a run keeps for good; on --resume, given ones must match the checkpoint. */
static const CliOption OPTIONS[] = {
    CLI_HEADING("model and data:"),
    {.name = "--task", .type = CLI_CHOICE, CLI_AT(TrainOptions, ac.task),
     .choices = (const char *const[]){"classification", "causal-lm", NULL},
     .values = (const int[]){ADAPTER_TASK_CLASSIFY, ADAPTER_TASK_CAUSAL_LM}, .def = "classification",
     .flags = CLI_FIXED,
     .help = "classification: a head over a labelled CSV/TSV; causal-lm: the language model itself on SQuAD "
             "JSON, Alpaca JSON/JSONL, JSONL {\"prompt\", \"completion\"} or plain text (.txt, JSONL {\"text\"})"},
    CLI_OPT_BASE_MODEL(TrainOptions, model),
    {.name = "--train", .type = CLI_STRING, CLI_AT(TrainOptions, train), .metavar = "FILE", .flags = CLI_REQUIRED,
     .help = "training data"},
    {.name = "--val", .type = CLI_STRING, CLI_AT(TrainOptions, val), .metavar = "FILE",
     .help = "validation data, evaluated after every epoch"},
    CLI_OPT_OUT(TrainOptions, out, 0, "where the adapter goes; an existing adapter needs --force"),
    {.name = "--force", .type = CLI_FLAG, CLI_AT(TrainOptions, force), .help = "replace an existing adapter in --out"},
    {.name = "--resume", .type = CLI_STRING, CLI_AT(TrainOptions, resume), .metavar = "DIR",
     .help = "continue the run checkpointed in DIR (its settings are kept; --out defaults to DIR; --epochs may "
             "be raised)"},
    CLI_OPT_VOCAB(TrainOptions, vocab),
    CLI_INCLUDE(DATASET_OPTIONS, TrainOptions, dopt),
    {.name = "--mask-prompt", .type = CLI_SET, CLI_AT(TrainOptions, ac.training.mask_prompt), .value = 1,
     .flags = CLI_FIXED},
    {.name = "--no-mask-prompt", .type = CLI_SET, CLI_AT(TrainOptions, ac.training.mask_prompt), .value = 0,
     .flags = CLI_FIXED,
     .help = "causal-lm: the loss counts only the completion and its <|endoftext|>, or every token (default: "
             "masked for SQuAD and prompt/completion, every token for Alpaca, as LLMs-from-scratch ch. 7, and text)"},

    CLI_HEADING("LoRA:"),
    CLI_OPT_RANK(TrainOptions, ac.lora.rank, CLI_FIXED, "rank"),
    CLI_OPT_ALPHA(TrainOptions, ac.lora.alpha, CLI_FIXED, "alpha"),
    {.name = "--scaling", .type = CLI_CHOICE, CLI_AT(TrainOptions, ac.lora.scaling), .metavar = "S",
     .choices = (const char *const[]){"rank", "alpha", NULL},
     .values = (const int[]){LORA_SCALE_RANK, LORA_SCALE_ALPHA}, .def = "rank", .flags = CLI_FIXED,
     .help = "rank: scale alpha/rank; alpha: scale alpha"},
    CLI_OPT_TARGETS(TrainOptions, ac.lora, CLI_FIXED,
                    "Linears to adapt (default: every Linear in the blocks, labs' names W_query, W_key, W_value, "
                    "out_proj, ff.layers.0, ff.layers.2; or PEFT's c_attn, c_fc, attn.c_proj, mlp.c_proj, "
                    "c_proj, which also switches the saved names to PEFT's); causal-lm: PEFT's names only, "
                    "default c_attn,mlp.c_proj (as the SQuAD project), 'all' for every Linear"),
    {.name = "--lora-init", .type = CLI_CHOICE, CLI_AT(TrainOptions, ac.lora.init), .metavar = "S",
     .choices = (const char *const[]){"labs", "peft", NULL}, .values = (const int[]){LORA_INIT_LABS, LORA_INIT_PEFT},
     .def = "labs", .flags = CLI_FIXED, .help = "labs: A ~ U(+-1/sqrt(rank)); peft: U(+-1/sqrt(in))"},
    {.name = "--lora-dropout", .type = CLI_DOUBLE, CLI_AT(TrainOptions, ac.lora.dropout), .lo_f = 0, .hi_f = 0.999,
     .metavar = "P", .def = "0", .flags = CLI_FIXED, .help = "dropout on the adapters' input while training"},

    CLI_HEADING("training:"),
    {.name = "--epochs", .type = CLI_INT, CLI_AT(TrainOptions, ac.training.epochs), .lo = 1, .hi = 1 << 20,
     .metavar = "N", .def = "1", .help = "passes over the data"},
    CLI_OPT_BATCH_SIZE(TrainOptions, ac.training.batch_size, CLI_FIXED, "texts per step"),
    {.name = "--lr", .type = CLI_DOUBLE, CLI_AT(TrainOptions, ac.training.lr), .lo_f = 0, .hi_f = 10, .metavar = "X",
     .def = "5e-5", .flags = CLI_FIXED, .help = "AdamW learning rate"},
    {.name = "--weight-decay", .type = CLI_DOUBLE, CLI_AT(TrainOptions, ac.training.weight_decay), .lo_f = 0,
     .hi_f = 10, .metavar = "X", .def = "0.1", .flags = CLI_FIXED, .help = "AdamW weight decay"},
    {.name = "--grad-clip", .type = CLI_DOUBLE, CLI_AT(TrainOptions, ac.training.grad_clip), .lo_f = 0, .hi_f = 1e9,
     .metavar = "X", .def_text = "off", .flags = CLI_FIXED, .help = "clip the gradient norm to X"},
    CLI_OPT_SEED(TrainOptions, ac.training.seed, CLI_FIXED, "123", "seeds the adapters' init, the data order and dropout"),
    {.name = "--pool", .type = CLI_CHOICE, CLI_AT(TrainOptions, ac.pool), .metavar = "P",
     .choices = (const char *const[]){"last-token", "last-position", NULL},
     .values = (const int[]){POOL_LAST_TOKEN, POOL_LAST_POSITION}, .def = "last-token", .flags = CLI_FIXED,
     .help = "last-token: read each text at its own last token, no padding; last-position: pad every text "
             "with <|endoftext|> to --max-length and read the last position, as the labs do"},
    {.name = "--max-length", .type = CLI_INT, CLI_AT(TrainOptions, ac.max_length), .lo = 1, .hi = 1 << 20,
     .metavar = "N", .flags = CLI_FIXED,
     .def_text = "the longest training text for last-position, the model's context for last-token and causal-lm",
     .help = "tokens kept per text; longer texts are cut and counted (causal-lm: a prompt is cut from the left "
             "to fit, an answer that does not fit is an error)"},
    {.name = "--keep-last", .type = CLI_SET, CLI_AT(TrainOptions, ac.training.drop_last), .value = false,
     .flags = CLI_FIXED, .help = "also train on the last incomplete batch (the labs drop it)"},
    CLI_OPT_THREADS(TrainOptions, threads, "threads; results are bitwise repeatable for the same seed and thread count"),
    CLI_OPT_BASE_DTYPE(TrainOptions, ac.base_dtype, 0),
    {.name = "--recompute", .type = CLI_SET, CLI_AT(TrainOptions, recompute), .value = 1},
    {.name = "--no-recompute", .type = CLI_SET, CLI_AT(TrainOptions, recompute), .value = 0,
     .def_text = "on for int8 and nf4, off for fp32",
     .help = "keep only each block's input for the backward pass and run the block's forward again there: "
             "the same results bit for bit in far less memory (gpt2-small in nf4 at 8 x 120: 204 MiB, not 691), "
             "for about 40% more compute"},

    CLI_HEADING("output:"),
    {.name = "--log-every", .type = CLI_INT, CLI_AT(TrainOptions, log_every), .lo = 0, .hi = 1 << 30, .metavar = "N",
     .def = "10", .help = "print the loss every N batches; 0 = never"},
    {.name = "--log", .type = CLI_STRING, CLI_AT(TrainOptions, log_path), .metavar = "FILE",
     .help = "one JSON line per step: step, epoch, batch, loss, accuracy, lr, tokens, seconds"},
    {.name = "--plot", .type = CLI_STRING, CLI_AT(TrainOptions, plot_path), .metavar = "FILE.svg",
     .help = "an SVG of the training and validation loss and accuracy"},
    {.name = "--save-every", .type = CLI_INT, CLI_AT(TrainOptions, save_every), .lo = 0, .hi = 1 << 30, .metavar = "N",
     .def_text = "only at the end and on Ctrl-C / SIGTERM", .help = "also checkpoint to --out every N steps"},
    {0}};

static const CliCommand COMMAND = {
    .name = "train",
    .usage = "lorafit train --model DIR --train FILE [--val FILE] --out DIR [options]",
    .synopsis = "lorafit train --model DIR --train FILE [--val FILE] --out DIR [options]\n"
                "       lorafit train --model DIR --train FILE [--val FILE] --resume DIR [options]\n"
                "       lorafit train --task causal-lm --model DIR --train FILE [--val FILE] --out DIR [options]",
    .about = "Fine-tunes a frozen GPT-2 with LoRA adapters and a classification head on a labelled\n"
             "CSV or TSV file (the labs' train.csv, `lorafit split` output, the UCI file ...), and\n"
             "writes the adapter (adapter_model.safetensors + adapter_config.json) to --out.\n"
             "With --task causal-lm it trains the language model itself (the LM head is the frozen\n"
             "token embedding; only adapters are saved, PEFT-named, task_type CAUSAL_LM): the loss\n"
             "and accuracy are per target token, and --val adds the perplexity.\n"
             "Prints 'Epoch 1 | Batch 0 | Loss: 2.2565' every --log-every batches and a summary per\n"
             "epoch; on a terminal a progress bar on stderr. Ctrl-C saves a checkpoint to --out;\n"
             "--resume continues it, bitwise as if it had not stopped (same --threads).",
    .options = OPTIONS,
};

static int parse_options(int argc, char **argv, TrainOptions *o) {
    int rc = cli_parse(&o->cli, &COMMAND, argc, argv, o);
    if (rc != CLI_RUN) return rc;
    if (!o->out && !o->resume) return cli_error(&o->cli, "--out is required (or --resume DIR)");
    if (o->resume && cli_given(&o->cli, "--labels"))
        return cli_error(&o->cli, "--labels cannot be changed on --resume: the classes are the checkpoint's");
    if (!o->out) o->out = o->resume;
    return CLI_RUN;
}

static const char *const CLASSIFIER_ONLY[] = {"--labels", "--pool", "--format", "--label-col", "--text-col",
                                              "--header", "--no-header", NULL};
static const char *const LM_ONLY[] = {"--mask-prompt", "--no-mask-prompt", NULL};

/* Refuses the other task's options (the task may come from the checkpoint);
 * settles the language model's targets: PEFT's names, so that the adapter
 * is PEFT's (task_type CAUSAL_LM). Returns CLI_RUN or 2. */
static int check_task_options(TrainOptions *o) {
    if (o->ac.task != ADAPTER_TASK_CAUSAL_LM)
        return cli_refuse_given(&o->cli, LM_ONLY, "is for --task causal-lm");
    int rc = cli_refuse_given(&o->cli, CLASSIFIER_ONLY, "is for classification, not for --task causal-lm");
    if (rc != CLI_RUN || o->resume) return rc;
    LfError err = {0};
    if (!lm_task_targets(&o->ac.lora, &err)) return cli_error(&o->cli, "%s", err.msg);
    return CLI_RUN;
}


static void run_free(TrainRun *r) {
    if (r->tr_built) trainer_free(&r->tr);
    if (r->opt_built) adamw_free(&r->opt);
    tokenset_free(&r->train);
    tokenset_free(&r->val);
    dataset_free(r->train_data);
    dataset_free(r->val_data);
    lm_data_free(r->lm_train);
    lm_data_free(r->lm_val);
    history_free(&r->history);
    if (r->log) fclose(r->log);
    session_close(&r->s);
}

static bool path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int longest_kept(const TokenSet *ts) {
    int m = 0;
    for (size_t i = 0; i < ts->n; i++)
        if (ts->length[i] > m) m = ts->length[i];
    return m;
}

/* Checks that a resumed run sees the same data, then restores its state. */
static bool restore_checkpoint(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    if (ac->training.train_digest != tokenset_digest(&r->train)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s is not the data the checkpoint in %s was trained on (%ld rows then, %zu now, "
                     "or different texts)",
                     o->train, o->resume, ac->training.train_rows, r->train.n);
        return false;
    }
    TrainState st;
    if (!adapter_load_weights(o->resume, ac, &r->s.net.model, r->s.net.slots, err) ||
        !train_state_load(o->resume, &st, &r->opt, err))
        return false;
    long per_epoch = trainer_batches_per_epoch(&r->tr);
    bool ok = st.n_points == st.step;
    for (long i = 0; ok && i < st.n_points; i++)
        ok = history_push_train(&r->history, i + 1, (int)(i / per_epoch) + 1, st.point_loss[i], st.point_acc[i]);
    free((void *)st.point_loss);
    free((void *)st.point_acc);
    if (!ok) {
        lf_error_set(err, LF_ERR_INPUT, "%s: the training state is inconsistent (history of %ld steps, step %ld)",
                     o->resume, st.n_points, st.step);
        return false;
    }
    memcpy(r->s.net.model.rng.s, st.rng, sizeof st.rng);
    r->tr.epoch = st.epoch;
    r->tr.batch = st.batch;
    r->tr.step = st.step;
    r->last_checkpoint_step = st.step;
    return true;
}

static bool save(TrainRun *r, bool complete, LfError *err) {
    size_t n = r->history.n_train;
    float *loss = malloc((n + 1) * sizeof *loss), *acc = malloc((n + 1) * sizeof *acc);
    if (!loss || !acc) {
        free(loss);
        free(acc);
        lf_error_set(err, LF_ERR_IO, "out of memory saving the checkpoint");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        loss[i] = (float)r->history.train[i].loss;
        acc[i] = (float)r->history.train[i].accuracy;
    }
    TrainState st = {r->tr.epoch, r->tr.batch, r->tr.step, complete, {0}, &r->opt, (long)n, loss, acc};
    memcpy(st.rng, r->s.net.model.rng.s, sizeof st.rng);
    /* The run owns --out once it started: later saves replace its own checkpoint. */
    bool overwrite = r->o->force || r->o->resume || r->last_checkpoint_step >= 0;
    bool ok = adapter_save(r->o->out, &r->o->ac, &r->s.net.model, r->s.net.slots, &st, overwrite, err);
    if (ok) r->last_checkpoint_step = r->tr.step;
    free(loss);
    free(acc);
    return ok;
}

static void log_step(TrainRun *r, const StepResult *sr, int epoch, long batch) {
    if (!r->log) return;
    fprintf(r->log,
            "{\"step\": %ld, \"epoch\": %d, \"batch\": %ld, \"loss\": %.6f, \"accuracy\": %.6f, \"lr\": %g, "
            "\"tokens\": %ld, \"seconds\": %.3f}\n",
            r->tr.step, epoch, batch, sr->loss, (double)sr->correct / sr->B, r->o->ac.training.lr, sr->tokens,
            clock_seconds() - r->t_start);
    fflush(r->log);
}

/* Sums of the epoch in progress, rebuilt from the history after a resume. */
typedef struct {
    double loss_sum, acc_sum;
    long batches, correct, seen;
    double t0;
} EpochStats;

static EpochStats epoch_stats_from_history(const TrainRun *r) {
    EpochStats es = {0, 0, 0, 0, 0, clock_seconds()};
    long first = r->tr.step - r->tr.batch, batch_size = r->o->ac.training.batch_size;
    for (long i = first; i < r->tr.step; i++) {
        const HistoryPoint *p = &r->history.train[i];
        /* Only the last batch of an epoch can be short (with --keep-last). */
        long left = (long)r->train.n - (i - first) * batch_size;
        long B = left < batch_size ? left : batch_size;
        es.loss_sum += p->loss;
        es.acc_sum += p->accuracy;
        es.batches++;
        es.correct += lround(p->accuracy * B);
        es.seen += B;
    }
    return es;
}

/* A language model's epoch accuracy is the mean of its batches' token
 * accuracies: the history holds those, so a resumed epoch sums the same. */
static void finish_epoch(TrainRun *r, int epoch, EpochStats *es, LfError *err, bool *ok) {
    bool lm = r->o->ac.task == ADAPTER_TASK_CAUSAL_LM;
    double acc = lm ? (es->batches ? es->acc_sum / (double)es->batches : 0.0)
                    : (es->seen ? (double)es->correct / (double)es->seen : 0.0);
    progress_finish(&r->progress);
    printf("Epoch %d Finished | Avg Loss: %.4f | %s: %.2f%% | Time: %.2fs\n", epoch,
           es->batches ? es->loss_sum / (double)es->batches : 0.0, lm ? "Token acc" : "Acc", 100.0 * acc,
           clock_seconds() - es->t0);
    if (r->o->val) {
        double vloss, vacc;
        if (!trainer_evaluate(&r->tr, &r->val, &vloss, &vacc, err)) {
            *ok = false;
            return;
        }
        if (lm)
            printf("Validation | Loss: %.4f | Perplexity: %.2f | Token acc: %.2f%%\n", vloss, exp(vloss),
                   100.0 * vacc);
        else
            printf("Validation | Loss: %.4f | Acc: %.2f%%\n", vloss, 100.0 * vacc);
        history_push_val(&r->history, r->tr.step, epoch, vloss, vacc);
    }
    fflush(stdout);
}

/* The loop. Returns 0, 130 when stopped by a signal, or 1/2 with err set. */
static int train_loop(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    long per_epoch = trainer_batches_per_epoch(&r->tr);
    int epochs = o->ac.training.epochs;
    bool ok = true;
    while (r->tr.epoch < epochs) {
        int epoch = r->tr.epoch + 1;
        EpochStats es = epoch_stats_from_history(r);
        char label[32];
        snprintf(label, sizeof label, "Epoch %d/%d", epoch, epochs);
        progress_start(&r->progress, stderr, per_epoch, label, cli_stderr_is_tty());
        while (r->tr.epoch + 1 == epoch && r->tr.epoch < epochs) {
            long batch = r->tr.batch;
            StepResult sr;
            if (!trainer_step(&r->tr, &sr, err)) {
                progress_clear(&r->progress);
                if (r->last_checkpoint_step >= 0)
                    lf_error_prefix(err, "training stopped; the last good checkpoint (step %ld) is in %s",
                                    r->last_checkpoint_step, o->out);
                else
                    lf_error_prefix(err, "training stopped; no checkpoint was saved (see --save-every)");
                return 1;
            }
            history_push_train(&r->history, r->tr.step, epoch, sr.loss, (double)sr.correct / sr.B);
            es.loss_sum += sr.loss, es.acc_sum += (double)sr.correct / sr.B, es.batches++;
            es.correct += sr.correct, es.seen += sr.B;
            log_step(r, &sr, epoch, batch);
            if (o->log_every && batch % o->log_every == 0) {
                progress_clear(&r->progress);
                printf("Epoch %d | Batch %ld | Loss: %.4f\n", epoch, batch, sr.loss);
                fflush(stdout);
            }
            char extra[32];
            snprintf(extra, sizeof extra, "loss %.4f", sr.loss);
            progress_update(&r->progress, batch + 1, extra);
            bool checkpoint_due = o->save_every && r->tr.step % o->save_every == 0;
            if ((checkpoint_due || stop_requested) && !save(r, false, err)) return 1;
            if (stop_requested) {
                /* Results are bitwise repeatable at the same thread count: the hint repeats it. */
                char threads[32] = "";
                if (o->threads) snprintf(threads, sizeof threads, " --threads %d", o->threads);
                progress_clear(&r->progress);
                fprintf(stderr,
                        "lorafit train: stopped by %s after step %ld; checkpoint saved to %s\n"
                        "Resume with: lorafit train --model %s --train %s%s%s%s --resume %s\n",
                        stop_requested == SIGTERM ? "SIGTERM" : "SIGINT", r->tr.step, o->out, o->model, o->train,
                        o->val ? " --val " : "", o->val ? o->val : "", threads, o->out);
                return 130;
            }
        }
        finish_epoch(r, epoch, &es, err, &ok);
        if (!ok) return lf_error_exit_code(err);
    }
    return 0;
}

static bool setup(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    if (!o->resume && path_exists(o->out) && !o->force) {
        lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", o->out);
        return false;
    }
    bool lm = ac->task == ADAPTER_TASK_CAUSAL_LM;
    if (!adapter_check_writable(o->out, err) || !session_open_base(&r->s, o->model, o->vocab, err) ||
        !session_set_base_dtype(&r->s, ac->base_dtype, err) ||
        !(lm ? train_load_lm(r, err) : train_load_classes(r, err) && train_encode_classes(r, err)))
        return false;
    ac->base_dtype = r->s.base_dtype;
    const Gpt2Config *cfg = checkpoint_config(r->s.ck);
    uint64_t fingerprint = checkpoint_fingerprint(r->s.ck);
    if (o->resume && !adapter_check_base(ac, cfg, fingerprint, err)) return false;
    ac->base = *cfg;
    ac->base_fingerprint = fingerprint;
    ac->naming = lora_targets_style(&ac->lora);
    ac->training.train_rows = (long)r->train.n;
    if (!o->resume) ac->training.train_digest = tokenset_digest(&r->train);

    int max_T = ac->pool == POOL_LAST_POSITION ? ac->max_length : longest_kept(&r->train);
    if (o->val && ac->pool == POOL_LAST_TOKEN && longest_kept(&r->val) > max_T) max_T = longest_kept(&r->val);
    if (!session_build_model(&r->s, ac->naming, &ac->lora, ac->n_classes, ac->training.batch_size, max_T,
                             ac->training.seed, err) ||
        !gpt2_set_recompute(&r->s.net.model, o->recompute < 0 ? r->s.base_dtype != QUANT_F32 : o->recompute != 0,
                            err) ||
        !adamw_build(&r->opt, r->s.net.model.n_params, (float)ac->training.lr, (float)ac->training.weight_decay, err))
        return false;
    r->opt_built = true;
    if (!trainer_init(&r->tr, &r->s.net.model, &r->opt, &r->train, ac->pool, ac->max_length, ac->training.batch_size,
                      ac->training.drop_last, ac->training.grad_clip, ac->training.seed, err))
        return false;
    r->tr_built = true;
    if (trainer_batches_per_epoch(&r->tr) == 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s has %zu rows, fewer than one batch of %d (lower --batch-size or pass --keep-last)",
                     o->train, r->train.n, ac->training.batch_size);
        return false;
    }
    if (o->resume && !restore_checkpoint(r, err)) return false;
    if (o->log_path && !(r->log = fopen(o->log_path, o->resume ? "a" : "w"))) {
        lf_error_errno(err, LF_ERR_INPUT, "cannot open the log file %s", o->log_path);
        return false;
    }
    return true;
}

static void print_classifier_data(const TrainRun *r) {
    const AdapterConfig *ac = &r->o->ac;
    size_t *counts = calloc((size_t)ac->n_classes, sizeof *counts);
    fprintf(stderr, "lorafit train: %zu training texts", r->train.n);
    if (counts) {
        dataset_class_counts(r->train_data, counts);
        for (int c = 0; c < ac->n_classes; c++) fprintf(stderr, "%s%zu %s", c ? ", " : " (", counts[c], ac->class_names[c]);
        fprintf(stderr, ")");
        free(counts);
    }
    if (r->val_data) fprintf(stderr, ", %zu validation texts", r->val.n);
}

static void print_start(const TrainRun *r) {
    const AdapterConfig *ac = &r->o->ac;
    bool lm = ac->task == ADAPTER_TASK_CAUSAL_LM;
    if (lm)
        lm_input_print_sets(r->lm_train, &r->train, r->lm_val, &r->val, ac->training.mask_prompt, stderr);
    else
        print_classifier_data(r);
    fprintf(stderr, "; %d adapters of rank %d, %zu trainable parameters; %ld batches of %d per epoch\n",
            r->s.net.n_slots, ac->lora.rank, r->s.net.model.n_params, trainer_batches_per_epoch(&r->tr),
            ac->training.batch_size);
    if (!lm && (r->train.n_truncated || (r->val_data && r->val.n_truncated)))
        fprintf(stderr, "lorafit train: note: %zu training and %zu validation texts are longer than %d tokens and were cut\n",
                r->train.n_truncated, r->val_data ? r->val.n_truncated : (size_t)0, ac->max_length);
    if (r->o->resume)
        fprintf(stderr, "lorafit train: resuming %s at epoch %d, batch %ld (step %ld)\n", r->o->resume,
                r->tr.epoch + 1, r->tr.batch, r->tr.step);
}

static int run(TrainOptions *o, LfError *err) {
    TrainRun r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.last_checkpoint_step = -1;
    r.t_start = clock_seconds();
    if (!setup(&r, err)) {
        run_free(&r);
        return lf_error_exit_code(err);
    }
    print_start(&r);
    if (r.tr.epoch >= o->ac.training.epochs)
        fprintf(stderr, "lorafit train: the checkpoint has finished %d epoch(s) already; raise --epochs to go on\n",
                r.tr.epoch);

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int rc = train_loop(&r, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (rc == 0 && !save(&r, true, err)) rc = lf_error_exit_code(err);
    if (rc == 0)
        fprintf(stderr, "lorafit train: %ld steps in %.1fs; adapter saved to %s\n", r.tr.step,
                clock_seconds() - r.t_start, o->out);
    if (o->plot_path && (rc == 0 || rc == 130)) {
        char title[160];
        snprintf(title, sizeof title, "lorafit train: %s, rank %d", o->train, o->ac.lora.rank);
        LfError perr = {0};
        if (!plot_write_svg(&r.history, o->plot_path, title, &perr)) {
            fprintf(stderr, "lorafit train: %s\n", perr.msg);
            if (rc == 0) rc = 1;
        }
    }
    run_free(&r);
    return rc;
}

int cmd_train(int argc, char **argv) {
    TrainOptions o;
    memset(&o, 0, sizeof o);
    o.ac.training.drop_last = true; /* as the labs; --keep-last keeps the last short batch */
    o.ac.training.mask_prompt = LM_MASK_BY_KIND;
    o.recompute = -1; /* by the base's dtype */
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_RUN) {
        dataset_options_free(&o.dopt);
        return rc;
    }
    LfError err = {0};
    if (o.resume) {
        TrainOptions given = o;
        const char *conflict = NULL;
        if (!adapter_load_config(o.resume, &o.ac, &err) || (conflict = cli_first_change(&o.cli, &given, &o))) {
            if (conflict)
                fprintf(stderr, "lorafit train: %s differs from the checkpoint in %s; a resumed run keeps its "
                                "settings (drop %s or give the checkpoint's value)\n",
                        conflict, o.resume, conflict);
            else
                fprintf(stderr, "lorafit train: %s\n", err.msg);
            adapter_config_free(&o.ac);
            dataset_options_free(&o.dopt);
            return conflict ? 2 : lf_error_exit_code(&err);
        }
        if (cli_given(&o.cli, "--epochs")) o.ac.training.epochs = given.ac.training.epochs;
    }
    if (check_task_options(&o) != CLI_RUN) {
        rc = 2;
    } else {
        session_set_threads(o.threads);
        stop_requested = 0;
        rc = run(&o, &err);
        if (rc != 0 && rc != 130) fprintf(stderr, "lorafit train: %s\n", err.msg);
    }
    adapter_config_free(&o.ac);
    o.dopt.class_names = NULL;
    dataset_options_free(&o.dopt);
    return rc;
}
