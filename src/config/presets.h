/* The preset networks by name (mlp, cnn, resnet9, resnet18, resnet20, vgg11). They are written once, in the
 * network language, in lua/swap/models.lua; these functions expand a name there (embedded Lua) and build the
 * result like any other network (model_build). */
#ifndef SWAP_PRESETS_H
#define SWAP_PRESETS_H
#include <stddef.h>

#include "nn/model.h"

/* The network JSON of preset `name` at spec->width for spec->classes (and checked against spec's input shape).
 * NULL with a one-line error in err for an unknown name or a network that does not fit the input. Caller frees. */
char *preset_json(const char *name, const ModelSpec *spec, char *err, size_t errcap);
/* Build preset `name` for spec; a bad name or spec is a one-line error (swap_fail). */
Model *model_create(const char *name, const ModelSpec *spec);
/* Build a network given as JSON (an experiment's model_json) for spec; a bad spec is a one-line error. */
Model *model_create_json(const char *json, const ModelSpec *spec);

#endif
