/* cmd_train.c - `lorafit train`: fine-tune GPT-2 with LoRA and a
 * classification head on a labelled CSV, as the labs do, or the language
 * model itself on text (--task causal-lm), and save the adapter. The
 * loop's mechanics are in trainer.c; this file owns what the user sees (log
 * lines, progress bar, JSON log, plot), checkpoints and Ctrl-C. */
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
#include "lorafit/report/norm_log.h"
#include "lorafit/report/report.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/files.h"
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
    CLI_OPT_RECOMPUTE(TrainOptions, recompute),

    CLI_HEADING("output:"),
    {.name = "--log-every", .type = CLI_INT, CLI_AT(TrainOptions, log_every), .lo = 0, .hi = 1 << 30, .metavar = "N",
     .def = "10", .help = "print the loss every N batches; 0 = never"},
    {.name = "--log", .type = CLI_STRING, CLI_AT(TrainOptions, log_path), .metavar = "FILE",
     .help = "one JSON line per step: step, epoch, batch, loss, accuracy, lr, tokens, seconds"},
    {.name = "--track-norms", .type = CLI_INT, CLI_AT(TrainOptions, track_norms), .lo = 1, .hi = 1 << 30,
     .metavar = "N", .def_text = "off",
     .help = "every N steps (and after the last) also write ||dW||_F of every adapter into --log, a "
             "\"record\": \"norms\" line per step (`lorafit inspect --log` draws them)"},
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
    if (o->track_norms && !o->log_path)
        return cli_error(&o->cli, "--track-norms needs --log FILE: the norms are records of that log");
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
    if (r->o->base) { /* the checkpoint and tokenizer are the caller's */
        classifier_free(&r->s.net);
        memset(&r->s, 0, sizeof r->s);
    } else {
        session_close(&r->s);
    }
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

static void log_step(TrainRun *r, const StepResult *sr, int epoch, long batch) {
    if (!r->log) return;
    fprintf(r->log,
            "{\"step\": %ld, \"epoch\": %d, \"batch\": %ld, \"loss\": %.6f, \"accuracy\": %.6f, \"lr\": %g, "
            "\"tokens\": %ld, \"seconds\": %.3f}\n",
            r->tr.step, epoch, batch, sr->loss, (double)sr->correct / sr->B, r->o->ac.training.lr, sr->tokens,
            clock_seconds() - r->t_start);
    fflush(r->log);
}

/* With --track-norms, the norms record of this step. */
static void log_norms(TrainRun *r, int epoch) {
    if (!r->log || !r->o->track_norms) return;
    norm_log_write(r->log, &r->s.net.model, r->s.net.slots, r->tr.step, epoch);
    r->last_norms_step = r->tr.step;
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

/* Appends " NAME VALUE" to buf[cap] when value is given. */
static void append_option(char *buf, size_t cap, const char *name, const char *value) {
    size_t n = strlen(buf);
    if (value && n < cap) snprintf(buf + n, cap - n, " %s %s", name, value);
}

/* After a signal: where the checkpoint is and the command that resumes it. */
static void print_stopped(TrainRun *r) {
    const TrainOptions *o = r->o;
    /* Results are bitwise repeatable at the same thread count (and ranks): the hint repeats them,
     * and the options that say where the rest of the run's output goes (the checkpoint keeps none). */
    char threads[32] = "", launcher[32] = "", by[48] = "a signal to another rank", every[2][16];
    if (o->threads) snprintf(threads, sizeof threads, " --threads %d", o->threads);
    snprintf(every[0], sizeof every[0], "%d", o->track_norms);
    snprintf(every[1], sizeof every[1], "%d", o->save_every);
    char outputs[3 * 4096] = "";
    append_option(outputs, sizeof outputs, "--vocab", o->vocab);
    append_option(outputs, sizeof outputs, "--log", o->log_path);
    append_option(outputs, sizeof outputs, "--track-norms", o->track_norms ? every[0] : NULL);
    append_option(outputs, sizeof outputs, "--plot", o->plot_path);
    append_option(outputs, sizeof outputs, "--save-every", o->save_every ? every[1] : NULL);
    if (dist_size(r->d) > 1) snprintf(launcher, sizeof launcher, "mpirun -n %d ", dist_size(r->d));
    if (stop_requested) snprintf(by, sizeof by, "%s", stop_requested == SIGTERM ? "SIGTERM" : "SIGINT");
    progress_clear(&r->progress);
    fprintf(stderr,
            "lorafit train: stopped by %s after step %ld; checkpoint saved to %s\n"
            "Resume with: %slorafit train --model %s --train %s%s%s%s%s --resume %s\n",
            by, r->tr.step, o->out, launcher, o->model, o->train, o->val ? " --val " : "", o->val ? o->val : "",
            threads, outputs, o->out);
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
            if (o->track_norms && r->tr.step % o->track_norms == 0) log_norms(r, epoch);
            if (o->log_every && batch % o->log_every == 0) {
                progress_clear(&r->progress);
                printf("Epoch %d | Batch %ld | Loss: %.4f\n", epoch, batch, sr.loss);
                fflush(stdout);
            }
            char extra[32];
            snprintf(extra, sizeof extra, "loss %.4f", sr.loss);
            progress_update(&r->progress, batch + 1, extra);
            bool checkpoint_due = o->save_every && r->tr.step % o->save_every == 0;
            if ((checkpoint_due || sr.stop_votes) && !train_save(r, false, err)) return 1;
            if (sr.stop_votes) {
                print_stopped(r);
                return 130;
            }
        }
        finish_epoch(r, epoch, &es, err, &ok);
        if (!ok) return lf_error_exit_code(err);
    }
    return 0;
}

/* The base model and tokenizer: opened, or borrowed from o->base. */
static bool open_base(TrainRun *r, LfError *err) {
    const TrainOptions *o = r->o;
    const Session *b = o->base;
    if (!b) return session_open_base(&r->s, "train", o->model, o->vocab, err) && session_set_base_dtype(&r->s, o->ac.base_dtype, err);
    if (b->base_dtype != o->ac.base_dtype) {
        lf_error_set(err, LF_ERR_INPUT, "the base is held in %s, the run wants %s", quant_dtype_name(b->base_dtype),
                     quant_dtype_name(o->ac.base_dtype));
        return false;
    }
    r->s.ck = b->ck;
    r->s.tok = b->tok;
    r->s.qw = b->qw;
    r->s.base_dtype = b->base_dtype;
    return true;
}

static bool setup(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    if (!o->resume && path_exists(o->out) && !o->force) {
        lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", o->out);
        return false;
    }
    bool lm = ac->task == ADAPTER_TASK_CAUSAL_LM;
    if (!adapter_check_writable(o->out, err) || (o->plot_path && !fs_check_writable(o->plot_path, err)) ||
        !cli_check_not_input("--log", o->log_path, "--train", o->train, err) ||
        !cli_check_not_input("--log", o->log_path, "--val", o->val, err) ||
        !cli_check_not_input("--plot", o->plot_path, "--train", o->train, err) ||
        !cli_check_not_input("--plot", o->plot_path, "--val", o->val, err) || !open_base(r, err) ||
        !(lm ? train_load_lm(r, err) : train_load_classes(r, err) && train_encode_classes(r, err)))
        return false;
    ac->base_dtype = r->s.base_dtype;
    const Gpt2Config *cfg = checkpoint_config(r->s.ck);
    uint64_t fingerprint = checkpoint_fingerprint(r->s.ck);
    if (o->resume && !adapter_check_base(ac, cfg, fingerprint, err)) return false;
    ac->base = *cfg;
    ac->base_fingerprint = fingerprint;
    ac->naming = lora_targets_style(&ac->lora);
    if (!o->resume) { /* on resume, the checkpoint's: train_restore compares them */
        ac->training.train_rows = (long)r->train.n;
        ac->training.train_digest = tokenset_digest(&r->train);
    }

    int max_T = ac->pool == POOL_LAST_POSITION ? ac->max_length : longest_kept(&r->train);
    if (o->val && ac->pool == POOL_LAST_TOKEN && longest_kept(&r->val) > max_T) max_T = longest_kept(&r->val);
    if (!session_build_model(&r->s, ac->naming, &ac->lora, ac->n_classes, ac->training.batch_size, max_T,
                             ac->training.seed, err) ||
        !gpt2_set_recompute(&r->s.net.model, session_recompute(o->recompute, r->s.base_dtype),
                            GPT2_RECOMPUTE_KEEP_BYTES, err) ||
        !adamw_build(&r->opt, r->s.net.model.n_params, (float)ac->training.lr, (float)ac->training.weight_decay, err))
        return false;
    r->opt_built = true;
    if (!trainer_init(&r->tr, &r->s.net.model, &r->opt, &r->train, ac->pool, ac->max_length, ac->training.batch_size,
                      ac->training.drop_last, ac->training.grad_clip, ac->training.seed, err))
        return false;
    r->tr_built = true;
    r->tr.stop_flag = &stop_requested;
    /* For the tests only: a NaN on one rank must stop every rank (tests/cli_mpi.sh). */
    const char *nan_at = getenv("LORAFIT_TEST_NAN_AT_STEP");
    if (nan_at) r->tr.nan_at_step = atol(nan_at);
    if (!trainer_share(&r->tr, r->d, err)) return false;
    if (trainer_batches_per_epoch(&r->tr) == 0) {
        const size_t n = r->train.n;
        const char *unit = r->lm_train ? lm_input_unit(r->lm_train, n) : n == 1 ? "row" : "rows";
        lf_error_set(err, LF_ERR_INPUT, "%s has %zu %s, fewer than one batch of %d (lower --batch-size or pass --keep-last)",
                     o->train, n, unit, ac->training.batch_size);
        return false;
    }
    if (o->resume && !train_restore(r, err)) return false;
    if (o->log_path && dist_is_root(r->d) && !(r->log = fopen(o->log_path, o->resume ? "a" : "w"))) {
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

static void report_outcome(const TrainRun *r, double loop_seconds, TrainOutcome *out) {
    ParamCount pc = modtree_count(&r->s.net.tree);
    const HistoryPoint *v = r->history.n_val ? &r->history.val[r->history.n_val - 1] : NULL;
    *out = (TrainOutcome){(long)pc.trainable, (long)pc.total, v ? v->loss : NAN, v ? v->accuracy : NAN, r->tr.step,
                          loop_seconds};
}

static int run(TrainOptions *o, const Dist *d, LfError *err) {
    TrainRun r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.d = d;
    o->ac.training.ranks = dist_size(d);
    r.last_checkpoint_step = -1;
    r.last_norms_step = -1;
    r.t_start = clock_seconds();
    if (!dist_agree(d, setup(&r, err), err) || !train_ranks_agree(&r, err)) {
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
    double t_loop = clock_seconds();
    int rc = train_loop(&r, err);
    t_loop = clock_seconds() - t_loop;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (rc == 0 && r.last_norms_step != r.tr.step) log_norms(&r, r.tr.epoch);
    if (rc == 0 && !train_save(&r, true, err)) rc = lf_error_exit_code(err);
    if (rc == 0)
        fprintf(stderr, "lorafit train: %ld steps in %.1fs; adapter saved to %s\n", r.tr.step,
                clock_seconds() - r.t_start, o->out);
    if (rc == 0 && o->outcome) report_outcome(&r, t_loop, o->outcome);
    if (o->plot_path && (rc == 0 || rc == 130) && dist_is_root(d)) {
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

/* The command line and, on --resume, the checkpoint's settings (kept, but
 * for --epochs). Returns CLI_RUN, or the exit code after saying why. */
static int prepare(int argc, char **argv, TrainOptions *o, const Dist *d) {
    int rc = parse_options(argc, argv, o);
    if (rc != CLI_RUN) return rc;
    if (o->resume) {
        TrainOptions given = *o;
        const char *conflict = NULL;
        LfError err = {0};
        if (!adapter_load_config(o->resume, &o->ac, &err) || (conflict = cli_first_change(&o->cli, &given, o))) {
            if (conflict)
                fprintf(stderr, "lorafit train: %s differs from the checkpoint in %s; a resumed run keeps its "
                                "settings (drop %s or give the checkpoint's value)\n",
                        conflict, o->resume, conflict);
            else
                fprintf(stderr, "lorafit train: %s\n", err.msg);
            return conflict ? 2 : lf_error_exit_code(&err);
        }
        if (cli_given(&o->cli, "--epochs")) o->ac.training.epochs = given.ac.training.epochs;
        if (o->ac.training.ranks != dist_size(d)) {
            /* N ranks add each batch's sums in their own order: only the same N repeats the run bitwise. */
            char how[32] = "without mpirun";
            if (o->ac.training.ranks > 1) snprintf(how, sizeof how, "mpirun -n %d", o->ac.training.ranks);
            fprintf(stderr, "lorafit train: the checkpoint in %s was trained by %d process%s and this run has %d; "
                            "resume it %s%s (lorafit train ... --resume %s)\n",
                    o->resume, o->ac.training.ranks, o->ac.training.ranks == 1 ? "" : "es", dist_size(d),
                    o->ac.training.ranks > 1 ? "with " : "", how, o->resume);
            return 2;
        }
    }
    return check_task_options(o) == CLI_RUN ? CLI_RUN : 2;
}

static int train_command(int argc, char **argv, const Session *base, TrainOutcome *outcome, const Dist *d) {
    TrainOptions o;
    memset(&o, 0, sizeof o);
    o.base = base;
    o.outcome = outcome;
    o.ac.training.drop_last = true; /* as the labs; --keep-last keeps the last short batch */
    o.ac.training.mask_prompt = LM_MASK_BY_KIND;
    o.recompute = -1; /* by the base's dtype */
    LfError err = {0};
    int rc = prepare(argc, argv, &o, d);
    bool ok = rc == CLI_RUN;
    if (!ok)
        lf_error_set(&err, LF_ERR_INPUT, "its command line or checkpoint was refused (every rank must run the "
                                         "same command)");
    if (!dist_agree(d, ok, &err)) {
        if (ok) {
            fprintf(stderr, "lorafit train: %s\n", err.msg);
            rc = lf_error_exit_code(&err);
        }
    } else {
        session_set_threads(o.threads);
        stop_requested = 0;
        rc = run(&o, d, &err);
        if (rc != 0 && rc != 130) fprintf(stderr, "lorafit train: %s\n", err.msg);
    }
    adapter_config_free(&o.ac);
    o.dopt.class_names = NULL;
    dataset_options_free(&o.dopt);
    return rc;
}

int cmd_train(int argc, char **argv) {
    Dist d;
    int rc = session_join_ranks(&d, "train");
    if (rc) return rc;
    rc = train_command(argc, argv, NULL, NULL, &d);
    dist_finalize(&d);
    return rc;
}

/* One process: a grid's runs share this process's base, not ranks. */
int train_main(int argc, char **argv, const Session *base, TrainOutcome *outcome) {
    Dist alone = dist_alone();
    return train_command(argc, argv, base, outcome, &alone);
}
