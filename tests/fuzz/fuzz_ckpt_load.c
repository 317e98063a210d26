/* libFuzzer target: any byte string given to the checkpoint loader as an HDF5 file image must give either a
 * loaded model or a one-line error, never a crash, leak or sanitizer report. Also exercises the metadata-only
 * and lenient (inspection) paths. Built and run by tests/sh/test_fuzz_ckpt.sh. */
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "ckpt/ckpt_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        quiet = 1;
    }
    char err[1024];
    for (int pass = 0; pass < 2; pass++) {
        Model *m = NULL;
        CkptMeta meta;
        int flags = pass ? CKPT_LOAD_ALLOW_NONFINITE | CKPT_LOAD_ALLOW_BAD_HASH : 0;
        if (ckpt_try_load_image("fuzz.h5", data, size, &m, &meta, pass, flags, err, sizeof err) == 0) {
            /* a loaded model must be internally consistent */
            if (m->ps.n_views <= 0 || strlen(meta.content_hash) != 32) __builtin_trap();
            model_free(m);
            ckpt_meta_free(&meta);
        } else if (!strchr(err, ':')) {
            __builtin_trap(); /* errors name the file */
        }
    }
    return 0;
}
