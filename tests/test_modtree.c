/* test_modtree.c - the module tree and the injection pass against the
 * parameter counts that GPT-2's architecture gives by formula. The formula
 * below is written out independently of the tree code. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"

/* Parameters of the labs' GPTModel (qkv bias, untied out_head). */
static int64_t labs_base(const Gpt2Config *c) {
    int64_t C = c->n_embd, V = c->vocab_size, L = c->n_layer, P = c->n_ctx;
    int64_t attn = 4 * (C * C + C);                 /* W_query, W_key, W_value, out_proj */
    int64_t ff = (C * 4 * C + 4 * C) + (4 * C * C + C);
    int64_t norms = 2 * 2 * C;
    return V * C + P * C + L * (attn + ff + norms) + 2 * C + V * C;
}

/* LoRA parameters with every Linear of the blocks adapted. */
static int64_t labs_lora(const Gpt2Config *c, int64_t r) {
    int64_t C = c->n_embd;
    return c->n_layer * r * (4 * (C + C) + (C + 4 * C) + (4 * C + C));
}

/* Hugging Face GPT2LMHeadModel: lm_head tied to wte, so V*C counted once. */
static int64_t hf_base(const Gpt2Config *c) { return labs_base(c) - (int64_t)c->vocab_size * c->n_embd; }

/* The module tree of a preset in a style; every check after it reads it. */
static void build_tree(ModTree *t, Gpt2Config *cfg, const char *preset, ModTreeStyle style) {
    LfError err = {0};
    REQUIRE(gpt2_config_preset(preset, cfg, &err), "preset %s: %s", preset, err.msg);
    REQUIRE(modtree_build(t, cfg, style, &err), "build %s: %s", preset, err.msg);
}

static void check_labs_default(const char *preset) {
    Gpt2Config cfg;
    LfError err;
    ModTree t;
    build_tree(&t, &cfg, preset, MODTREE_LABS);
    ParamCount plain = modtree_count(&t);
    CHECK(plain.total == labs_base(&cfg) && plain.trainable == plain.total,
          "%s untouched: total %lld, want %lld", preset, (long long)plain.total, (long long)labs_base(&cfg));

    LoraConfig lc = lora_config_default();
    CHECK(lora_inject(&t, &lc, &err), "inject %s: %s", preset, err.msg);
    ParamCount pc = modtree_count(&t);
    int64_t lora = labs_lora(&cfg, 8);
    CHECK(pc.trainable == lora, "%s trainable %lld, want %lld", preset, (long long)pc.trainable, (long long)lora);
    CHECK(pc.total == labs_base(&cfg) + lora, "%s total %lld, want %lld", preset, (long long)pc.total,
          (long long)(labs_base(&cfg) + lora));
    /* Tensors: A and B per adapter (6 per block) get gradients; frozen are
     * 2 embeddings, 16 per block, final norm (2), out_head. */
    CHECK(pc.tensors_trainable == 12 * cfg.n_layer, "%s tensors with grad %d", preset, pc.tensors_trainable);
    CHECK(pc.tensors_frozen == 2 + 16 * cfg.n_layer + 2 + 1, "%s frozen tensors %d", preset, pc.tensors_frozen);
    CHECK(lora_slots(&t, NULL, 0) == 6 * cfg.n_layer, "%s slots", preset);

    CHECK(modtree_replace_head(&t, 2, &err), "head %s", preset);
    ParamCount cls = modtree_count(&t);
    int64_t C = cfg.n_embd, V = cfg.vocab_size;
    CHECK(cls.trainable == lora + 2 * C + 2, "%s trainable with head %lld", preset, (long long)cls.trainable);
    CHECK(cls.total == labs_base(&cfg) - V * C + 2 * C + 2 + lora, "%s total with head %lld", preset,
          (long long)cls.total);
    modtree_free(&t);
}

static void check_peft_c_attn(const char *preset, int rank) {
    Gpt2Config cfg;
    LfError err;
    ModTree t;
    build_tree(&t, &cfg, preset, MODTREE_HF);
    LoraConfig lc = lora_config_default();
    lc.rank = rank; /* no targets: PEFT's default for GPT-2, c_attn */
    CHECK(lora_inject(&t, &lc, &err), "inject hf %s: %s", preset, err.msg);
    ParamCount pc = modtree_count(&t);
    int64_t C = cfg.n_embd, lora = (int64_t)cfg.n_layer * rank * (C + 3 * C);
    CHECK(pc.trainable == lora, "hf %s r=%d trainable %lld want %lld", preset, rank, (long long)pc.trainable,
          (long long)lora);
    CHECK(pc.total == hf_base(&cfg) + lora, "hf %s total %lld want %lld", preset, (long long)pc.total,
          (long long)(hf_base(&cfg) + lora));
    modtree_free(&t);
}

/* gpt2-small's tree in `style` with LoRA (rank 8) on `targets`: its
 * adapters into slots[0, cap), and how many there are. */
static int small_slots(ModTreeStyle style, const char *targets, LoraSlot *slots, int cap) {
    Gpt2Config cfg;
    ModTree t;
    LfError err = {0};
    build_tree(&t, &cfg, "gpt2-small", style);
    LoraConfig lc = lora_config_default();
    REQUIRE(lora_config_set_targets(&lc, targets, &err), "targets %s: %s", targets, err.msg);
    REQUIRE(lora_inject(&t, &lc, &err), "inject %s: %s", targets, err.msg);
    int n = lora_slots(&t, slots, cap);
    modtree_free(&t);
    return n;
}

static void check_slots(void) {
    LoraSlot slots[64];
    int n = small_slots(MODTREE_LABS, "W_query,W_value", slots, 64);
    REQUIRE(n == 24, "q,v slots: %d", n);
    CHECK_STR_EQ(slots[0].name, "trf_blocks.0.att.W_query");
    CHECK(slots[0].site == SITE_Q && slots[1].site == SITE_V && slots[23].layer == 11, "q,v sites");
    CHECK(slots[0].in == 768 && slots[0].out == 768 && slots[0].rank == 8, "q shape");

    n = small_slots(MODTREE_HF, "c_proj", slots, 64); /* PEFT's suffix match: both projections */
    REQUIRE(n == 24, "c_proj slots: %d", n);
    CHECK_STR_EQ(slots[0].name, "transformer.h.0.attn.c_proj");
    CHECK_STR_EQ(slots[1].name, "transformer.h.0.mlp.c_proj");
    CHECK(slots[0].site == SITE_ATTN_OUT && slots[1].site == SITE_FC_PROJ, "c_proj sites");
    CHECK(slots[1].in == 3072 && slots[1].out == 768, "mlp.c_proj shape");

    n = small_slots(MODTREE_HF, "c_attn", slots, 64);
    CHECK(n == 12 && slots[0].site == SITE_QKV && slots[0].out == 2304, "c_attn slots");
}

static void check_errors(void) {
    Gpt2Config cfg;
    LfError err;
    ModTree t;
    build_tree(&t, &cfg, "gpt2-small", MODTREE_LABS);
    LoraConfig lc = lora_config_default();
    REQUIRE(lora_config_set_targets(&lc, "W_query,norm1", &err), "targets W_query,norm1");
    CHECK(!lora_inject(&t, &lc, &err), "norm1 is not a Linear");
    CHECK(err.kind == LF_ERR_INPUT && strstr(err.msg, "unknown target 'norm1'"), "message: %s", err.msg);
    lc = lora_config_default();
    REQUIRE(lora_config_set_targets(&lc, "out_head", &err), "targets out_head");
    CHECK(!lora_inject(&t, &lc, &err), "out_head is skipped, as the issue wants");
    lc = lora_config_default();
    lc.rank = 0;
    CHECK(!lora_inject(&t, &lc, &err) && strstr(err.msg, "rank"), "rank 0");
    CHECK(!lora_config_set_targets(&lc, "W_query,,W_key", &err), "empty target");
    CHECK(!gpt2_config_preset("gpt-5", &cfg, &err) && strstr(err.msg, "gpt-5"), "unknown preset");
    modtree_free(&t);
}

int main(void) {
    const char *presets[] = {"gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl"};
    for (int i = 0; i < 4; i++) {
        check_labs_default(presets[i]);
        check_peft_c_attn(presets[i], 8);
    }
    check_slots();
    check_errors();
    return check_done();
}
