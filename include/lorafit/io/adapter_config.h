/* adapter_config.h - adapter_config.json: what an adapter needs to be used
 * again (rank, alpha, scaling, targets, naming, pooling, max length, class
 * names), the shape and fingerprint of the base model it was trained on,
 * and how it was trained (for --resume).
 *
 * The file is JSON with "format": "lorafit-adapter", "format_version": 1.
 * Reading names the first missing or invalid required field; the training
 * facts are informative and read when present. A PEFT-named adapter's file
 * also carries PEFT's own fields (peft_type, task_type, fan_in_fan_out,
 * modules_to_save, ...) so that PEFT recognises it. */
#ifndef LORAFIT_ADAPTER_CONFIG_H
#define LORAFIT_ADAPTER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/config.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"
#include "lorafit/engine/quant.h"
#include "lorafit/util/error.h"

#define ADAPTER_CONFIG_FILE "adapter_config.json"

/* What the adapter was trained for. The file says it in PEFT's "task_type":
 * "CAUSAL_LM" for a language-model adapter (no head: the LM head is the
 * frozen token embedding); a classifier's file has "SEQ_CLS" (PEFT naming)
 * or no task_type at all (labs naming, and every file from before the
 * field): anything but "CAUSAL_LM" is a classifier. */
typedef enum {
    ADAPTER_TASK_CLASSIFY,
    ADAPTER_TASK_CAUSAL_LM,
} AdapterTask;

/* "classification" or "causal language modelling", for messages. */
const char *adapter_task_name(AdapterTask t);

/* How the adapter was trained: kept so that --resume continues the same run. */
typedef struct {
    double lr, weight_decay, grad_clip; /* grad_clip 0 = off */
    int batch_size, epochs;
    uint64_t seed;
    bool drop_last;
    uint64_t train_digest; /* of the training texts and labels, to refuse other data on resume */
    long train_rows;
    int mask_prompt;       /* causal LM: 1 when the loss counted only completions, else 0 */
    int ranks;             /* processes that shared each batch (mpirun -n; "ranks", written when above 1) */
} AdapterTraining;

typedef struct {
    Gpt2Config base;           /* the base model's shape */
    uint64_t base_fingerprint; /* checkpoint_fingerprint() of the base; 0 = not recorded */
    QuantDtype base_dtype;     /* how the base's blocks were held in training ("base_dtype", written when not fp32) */
    LoraConfig lora;           /* rank, alpha, scaling, init, dropout, targets as given */
    ModTreeStyle naming;       /* labs' or PEFT's tensor names */
    Gpt2Pool pool;
    int max_length;            /* tokens kept per text; the padded length for last-position */
    AdapterTask task;
    int n_classes;             /* 0 for ADAPTER_TASK_CAUSAL_LM */
    char **class_names;        /* [n_classes]; owned */
    AdapterTraining training;
    bool from_peft;            /* written by Python PEFT (peft_import.h): dims it lacks are 0, head bias optional */
} AdapterConfig;

/* Copies class names (n of them) into ac, replacing any. */
bool adapter_config_set_classes(AdapterConfig *ac, const char *const *names, int n, LfError *err);
void adapter_config_free(AdapterConfig *ac);

/* Writes dir/adapter_config.json; `slots` (n_slots of them) name the
 * modules that carry an adapter ("adapted_modules"). */
bool adapter_config_save(const char *dir, const AdapterConfig *ac, const LoraSlot *slots, int n_slots,
                         LfError *err);

/* Reads dir/adapter_config.json into *ac (free with adapter_config_free).
 * A field missing or out of the range train writes (r above 65536, alpha
 * beyond +-1e9, dropout outside [0, 1)) is an LF_ERR_INPUT error naming it. */
bool adapter_load_config(const char *dir, AdapterConfig *ac, LfError *err);

/* Whether the adapter (in dir) was trained for `want`; if not, an
 * LF_ERR_INPUT error naming dir, its task and the one wanted. */
bool adapter_check_task(const AdapterConfig *ac, AdapterTask want, const char *dir, LfError *err);

/* Whether `shape` of a base model agrees with the adapter's, and whether its
 * fingerprint does (when both are known). The error says which differs. */
bool adapter_check_base(const AdapterConfig *ac, const Gpt2Config *base, uint64_t fingerprint,
                        LfError *err);

#endif
