/* swap-inspect export FILE --format safetensors -o OUT: the weights for PyTorch & co (state_dict names). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"

/* Strict load (hashes verified, finite weights): an export must never carry a damaged model further. */
int inspect_export_main(int argc, char **argv) {
    const char *path = NULL, *out = NULL, *format = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) format = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-' || path) inspect_usage("export: unexpected argument");
        else path = argv[i];
    }
    if (!path || !out || !format) inspect_usage("export: FILE, --format and -o OUT are required");
    if (strcmp(format, "safetensors")) swap_fail_code(SWAP_EXIT_USAGE, "export: unknown format '%s' (known: safetensors)", format);
    CkptMeta meta;
    Model *m = ckpt_load_model(path, &meta, 0);
    ckpt_export_safetensors(out, m, &meta);
    printf("%s: wrote %s (%s, %d tensors, safetensors)\n", path, out, m->name, m->ps.n_views);
    model_free(m);
    ckpt_meta_free(&meta);
    return 0;
}
