/* Every layer kind the engine has, in one place: a kind is its file (layer_<kind>.c) plus a line here. */
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

extern const LayerOps layer_conv, layer_bn, layer_relu, layer_residual, layer_maxpool, layer_avgpool,
    layer_global_avgpool, layer_global_maxpool, layer_flatten, layer_linear, layer_scale;

const LayerOps *const layer_kinds[] = {&layer_conv, &layer_bn, &layer_relu, &layer_residual, &layer_maxpool,
                                       &layer_avgpool, &layer_global_avgpool, &layer_global_maxpool,
                                       &layer_flatten, &layer_linear, &layer_scale, NULL};

const LayerOps *layer_ops_find(const char *kind) {
    for (int i = 0; layer_kinds[i]; i++)
        if (!strcmp(layer_kinds[i]->kind, kind)) return layer_kinds[i];
    return NULL;
}

const char *layer_kind_list(void) {
    static char buf[256];
    if (!buf[0])
        for (int i = 0; layer_kinds[i]; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "", layer_kinds[i]->kind);
    return buf;
}
