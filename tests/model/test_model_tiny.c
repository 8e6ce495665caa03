/* test_model_tiny.c — the CPU engine's tiny parity checkpoints (tests/engine/tiny/ARCH, random-init
 * models saved by transformers, see scripts/make_tiny_models.py) load through ko_model_load with the
 * sizes their config.json states, and every tensor of the text model in the file is used (the
 * weights' bytes add up; only the Gemma 3 vision tower and projector are left out). */
#include <cjson/cJSON.h>

#include "engine/model/model.h"
#include "engine/model/safetensors.h"
#include "tests/test.h"

static const char *const ARCHS[] = {"llama", "mistral", "qwen2", "gemma2", "gemma3_text", "gemma3", "exaone"};

static int cfg_int(const cJSON *c, const char *k, const char *alt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
    if (!v && alt) v = cJSON_GetObjectItemCaseSensitive(c, alt);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static void check_arch(const char *arch) {
    char *dir = ko_xasprintf("tests/engine/tiny/%s", arch), *cfgp = ko_xasprintf("%s/config.json", dir);
    ko_buf b = {0};
    ko_err e = {{0}};
    ko_model *m = NULL;
    cJSON *top = NULL;
    if (ko_read_file(cfgp, &b, &e) != 0 || !(top = cJSON_Parse(b.p)) || ko_model_load(dir, &m, &e) != 0) {
        CHECK(0, "%s: %s", arch, e.msg);
        goto done;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(top, "text_config");
    if (!c) c = top;
    const ko_config *k = &m->cfg;
    CHECK(k->vocab_size == cfg_int(c, "vocab_size", NULL), "%s: vocab %d", arch, k->vocab_size);
    CHECK(k->hidden == cfg_int(c, "hidden_size", NULL), "%s: hidden %d", arch, k->hidden);
    CHECK(k->intermediate == cfg_int(c, "intermediate_size", NULL), "%s: intermediate %d", arch, k->intermediate);
    CHECK(k->n_layers == cfg_int(c, "num_hidden_layers", "num_layers"), "%s: layers %d", arch, k->n_layers);
    CHECK(k->n_heads == cfg_int(c, "num_attention_heads", NULL), "%s: heads %d", arch, k->n_heads);
    CHECK(k->n_kv_heads == cfg_int(c, "num_key_value_heads", NULL), "%s: kv heads %d", arch, k->n_kv_heads);
    int hd = cfg_int(c, "head_dim", NULL);
    CHECK(k->head_dim == (hd > 0 ? hd : k->hidden / k->n_heads), "%s: head_dim %d", arch, k->head_dim);
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(c, "max_position_embeddings");
    if (mp) CHECK(k->max_pos == mp->valueint, "%s: max_pos %d", arch, k->max_pos);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(top, "tie_word_embeddings");
    if (tie) CHECK(k->tie_embeddings == cJSON_IsTrue(tie), "%s: tie", arch);
    CHECK((m->lm_head.data == m->embed.data) == k->tie_embeddings, "%s: head tied as configured", arch);
    /* lm-eval's dtype="auto": the config's dtype / torch_dtype, else the stored one */
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(top, "dtype");
    if (!cJSON_IsString(cd)) cd = cJSON_GetObjectItemCaseSensitive(top, "torch_dtype");
    const char *want = cJSON_IsString(cd) ? cd->valuestring : ko_dtype_hf_name(m->dtype);
    CHECK(strcmp(ko_dtype_hf_name(m->auto_dtype), want) == 0, "%s: auto dtype %s, want %s", arch,
          ko_dtype_hf_name(m->auto_dtype), want);

    /* every text-model tensor of the file is in the model: bytes add up */
    ko_st *st = NULL;
    if (ko_st_open_dir(dir, &st, &e) != 0) {
        CHECK(0, "%s: %s", arch, e.msg);
        goto done;
    }
    size_t text = 0;
    int64_t sh[8];
    for (int i = 0; i < ko_st_n_tensors(st); i++) {
        const char *n = ko_st_name(st, i);
        if (strstr(n, "vision_tower") || strstr(n, "multi_modal_projector")) continue;
        int nd = ko_st_shape(st, i, sh);
        size_t numel = 1;
        for (int d = 0; d < nd; d++) numel *= (size_t)sh[d];
        text += numel * (strcmp(ko_st_dtype_str(st, i), "F32") == 0 ? 4 : 2);
        if (strcmp(ko_st_dtype_str(st, i), ko_dtype_name(m->dtype)) != 0)
            CHECK(0, "%s: %s is %s, model %s", arch, n, ko_st_dtype_str(st, i), ko_dtype_name(m->dtype));
    }
    CHECK(m->weight_bytes == text, "%s: model uses %zu of the file's %zu text-model bytes", arch, m->weight_bytes, text);
    printf("# %s: %s, %d layers, %s, %zu weight bytes\n", arch, k->model_type, k->n_layers, ko_dtype_name(m->dtype),
           m->weight_bytes);
    ko_st_close(st);
done:
    ko_model_free(m);
    cJSON_Delete(top);
    ko_buf_free(&b);
    free(cfgp);
    free(dir);
}

int main(void) {
    for (size_t i = 0; i < sizeof ARCHS / sizeof *ARCHS; i++) check_arch(ARCHS[i]);
    TEST_END();
}
