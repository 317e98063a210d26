/* A model as a safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header (written with cJSON) naming every tensor's dtype, shape and byte range, padded with
 * spaces to a multiple of 8, then the raw little-endian data. Names and shapes are PyTorch's state_dict: our
 * tensor names are its keys, and each BatchNorm gets the int64 scalar num_batches_tracked (0) torch keeps, so
 * load_state_dict(strict=True) takes the file as is. The int64 scalars come first (8-byte aligned), then the
 * float32 tensors in parameter-store order, with no gaps. Written atomically. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fileio.h"
#include "ckpt/ckpt.h"

static cJSON *entry(const char *dtype, const int *shape, int ndim, size_t begin, size_t end) {
    cJSON *e = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *off = cJSON_CreateArray();
    cJSON_AddStringToObject(e, "dtype", dtype);
    for (int i = 0; i < ndim; i++) cJSON_AddItemToArray(sh, cJSON_CreateNumber(shape[i]));
    cJSON_AddItemToObject(e, "shape", sh);
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)end));
    cJSON_AddItemToObject(e, "data_offsets", off);
    return e;
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

void ckpt_export_safetensors(const char *out, const Model *m, const CkptMeta *meta) {
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe != 1) swap_fail("%s: safetensors export needs a little-endian host", out);
    const ParamStore *ps = &m->ps;
    cJSON *h = cJSON_CreateObject(), *md = cJSON_CreateObject();
    char buf[256];
    cJSON_AddStringToObject(md, "format", "pt");
    cJSON_AddStringToObject(md, "model", m->name);
    cJSON_AddStringToObject(md, "model_config", m->arch); /* the architecture, as /model model_config */
    snprintf(buf, sizeof buf, "%d", m->spec.width);
    cJSON_AddStringToObject(md, "width", buf);
    snprintf(buf, sizeof buf, "[%d, %d, %d]", m->spec.in_c, m->spec.in_h, m->spec.in_w);
    cJSON_AddStringToObject(md, "input_shape", buf);
    snprintf(buf, sizeof buf, "%d", m->spec.classes);
    cJSON_AddStringToObject(md, "classes", buf);
    cJSON_AddStringToObject(md, "dataset", meta->dataset);
    if (meta->class_names) { /* safetensors metadata values are strings: the names as a JSON array */
        cJSON *names = cJSON_CreateStringArray((const char *const *)meta->class_names, meta->n_class_names);
        char *text = cJSON_PrintUnformatted(names);
        cJSON_AddStringToObject(md, "class_names", text);
        free(text);
        cJSON_Delete(names);
    }
    cJSON_AddStringToObject(md, "content_hash", meta->content_hash);
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "[");
        for (int c = 0; c < meta->norm_channels; c++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%.9g", c ? ", " : "", k ? meta->norm_std[c] : meta->norm_mean[c]);
        snprintf(buf + n, sizeof buf - n, "]");
        cJSON_AddStringToObject(md, k ? "norm_std" : "norm_mean", buf);
    }
    cJSON_AddItemToObject(h, "__metadata__", md);
    size_t off = 0;
    int n_bn = 0;
    for (int i = 0; i < ps->n_views; i++) /* num_batches_tracked: one per BN layer, int64 scalars first */
        if (!strcmp(ps->views[i].leaf, "running_mean")) {
            snprintf(buf, sizeof buf, "%s.num_batches_tracked", ps->views[i].layer);
            cJSON_AddItemToObject(h, buf, entry("I64", NULL, 0, off, off + 8));
            off += 8;
            n_bn++;
        }
    const size_t data_start = off;
    for (int i = 0; i < ps->n_views; i++) {
        const TensorView *v = &ps->views[i];
        cJSON_AddItemToObject(h, v->name, entry("F32", v->shape, v->ndim, off, off + v->numel * sizeof(float)));
        off += v->numel * sizeof(float);
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!json) swap_fail("%s: cannot build the safetensors header", out);
    const size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    unsigned char *file = xMalloc(8 + hl + off);
    put_le64(file, hl);
    memcpy(file + 8, json, jl);
    memset(file + 8 + jl, ' ', hl - jl);
    memset(file + 8 + hl, 0, (size_t)n_bn * 8); /* num_batches_tracked = 0, as in a fresh torch module */
    size_t pos = data_start;
    for (int i = 0; i < ps->n_views; i++) {
        const TensorView *v = &ps->views[i];
        memcpy(file + 8 + hl + pos, ps->data + v->offset, v->numel * sizeof(float));
        pos += v->numel * sizeof(float);
    }
    write_file_atomic(out, file, 8 + hl + off);
    cJSON_free(json);
    free(file);
}
