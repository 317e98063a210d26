/* swap-inspect tensor FILE NAME [--momentum] [--csv | --raw OUT]: one tensor's values, as text or raw float32. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "inspect/inspect.h"

int inspect_tensor_main(int argc, char **argv) {
    const char *path = NULL, *name = NULL, *raw = NULL;
    int csv = 0, mom = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv")) csv = 1;
        else if (!strcmp(argv[i], "--momentum")) mom = 1;
        else if (!strcmp(argv[i], "--raw") && i + 1 < argc) raw = argv[++i];
        else if (argv[i][0] == '-') inspect_usage("tensor: unknown option");
        else if (!path) path = argv[i];
        else if (!name) name = argv[i];
        else inspect_usage("tensor: too many arguments");
    }
    if (!path || !name) inspect_usage("tensor: FILE and NAME are required");
    if (csv && raw) inspect_usage("tensor: --csv and --raw exclude each other");
    CkptMeta mt;
    int ok;
    Model *m = load_lenient(path, &mt, &ok);
    int vi = ps_find(&m->ps, name);
    if (vi < 0) swap_fail("%s: no tensor '%s' (e.g. %s; `swap-inspect %s` lists them)", path, name, m->ps.views[0].name, path);
    const TensorView *v = &m->ps.views[vi];
    if (mom && (!mt.has_momentum || !v->trainable)) swap_fail("%s: no momentum stored for '%s'", path, name);
    const float *x = mom ? m->ps.mom + v->offset : ps_tensor(&m->ps, vi);
    char sh[64];
    ps_shape_str(v, sh, sizeof sh);
    if (raw) {
        /* a new file of our own, written the safe way; the checkpoint itself is never touched */
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", raw, (int)getpid());
        FILE *f = xFopen(tmp, "wb");
        if (fwrite(x, sizeof(float), v->numel, f) != v->numel || fflush(f) || fsync(fileno(f)) || fclose(f) ||
            rename(tmp, raw)) {
            unlink(tmp);
            swap_fail("%s: cannot write (%s)", raw, strerror(errno));
        }
        fprintf(stderr, "%s%s %s: %zu float32 little-endian values written to %s\n", mom ? "momentum of " : "", name, sh,
                v->numel, raw);
    } else {
        size_t cols = v->ndim > 1 ? v->numel / (size_t)v->shape[0] : 1, rows = v->numel / cols;
        if (!csv) {
            Stats s = stats_of(x, v->numel);
            printf("# %s%s %s %s %s trainable=%d mean=%.6g std=%.6g min=%.6g max=%.6g l2=%.6g nonfinite=%zu\n",
                   mom ? "momentum of " : "", name, sh, v->layer_type, v->layout, v->trainable, s.mean, s.std, s.min,
                   s.max, s.l2, s.nonfinite);
        }
        /* one row per leading index (an output unit), the rest flattened */
        for (size_t r = 0; r < rows; r++) {
            for (size_t c = 0; c < cols; c++) printf("%s%.9g", c ? (csv ? "," : " ") : "", x[r * cols + c]);
            printf("\n");
        }
    }
    model_free(m);
    ckpt_meta_free(&mt);
    return 0;
}
