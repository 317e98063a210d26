/* swap-inspect verify FILE...: checksums and structure, one line per file; exit 1 if any is damaged. */
#include <stdio.h>

#include "core/err.h"
#include "inspect/inspect.h"

int inspect_verify_main(int argc, char **argv) {
    if (argc < 2) inspect_usage("verify: no files");
    int n = argc - 1;
    char **files = argv + 1;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char err[1024];
        CkptMeta mt;
        if (ckpt_verify(files[i], err, sizeof err) == 0 && ckpt_try_read_meta(files[i], &mt, err, sizeof err) == 0) {
            printf("%s: OK %s %s epoch %lld content %s\n", files[i], mt.model, mt.phase, (long long)mt.epoch,
                   mt.content_hash);
            ckpt_meta_free(&mt);
        } else {
            printf("%s\n", err);
            bad++;
        }
    }
    fflush(stdout);
    return bad ? SWAP_EXIT_ERROR : 0;
}
