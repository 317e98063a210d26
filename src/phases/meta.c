/* Identity and provenance every phase writes into its checkpoints (build provenance is added by src/ckpt). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "phases/trainer.h"

void phase_meta(const Phase *p, CkptMeta *meta, const char *phase_name, int worker, int n_workers) {
    ckpt_meta_init(meta);
    snprintf(meta->phase, sizeof meta->phase, "%s", phase_name);
    meta->worker = worker;
    meta->n_workers = n_workers;
    meta->world_size = p->comm.size;
    meta->seed = (uint64_t)cfg_int(p->cfg, "seed");
    snprintf(meta->mpi_version, sizeof meta->mpi_version, "%s", p->comm.version);
    ckpt_meta_set_config(meta, config_source(p->cfg), config_resolved(p->cfg));
    snprintf(meta->precision, sizeof meta->precision, "%s", nn_precision_name(nn_precision()));
    meta->val_split = p->val_split;
    meta->val_seed = (int64_t)p->val_seed;
    snprintf(meta->val_hash, sizeof meta->val_hash, "%s", p->val_hash);
    const Dataset *d = p->train ? p->train : p->test;
    if (d) {
        snprintf(meta->dataset, sizeof meta->dataset, "%s", d->name);
        if (d->hash[0]) { /* the data file, by absolute path and content, so tools find and check it */
            char abs[PATH_MAX];
            snprintf(meta->data_file, sizeof meta->data_file, "%.1023s", realpath(d->path, abs) ? abs : d->path);
            snprintf(meta->data_hash, sizeof meta->data_hash, "%s", d->hash);
        }
        double mean[4] = {0}, std[4] = {0};
        for (int c = 0; c < d->c && c < 3; c++) {
            mean[c] = d->mean[c];
            std[c] = d->std[c];
        }
        ckpt_meta_set_norm(meta, d->c, mean, std);
    }
    /* a streamed training set is a view without names: take them from whichever split has them */
    const Dataset *named = p->train && p->train->class_names ? p->train : p->test;
    if (named && named->class_names) ckpt_meta_set_class_names(meta, named->class_names, named->classes);
}

void phase_check_val_split(const Phase *p, const CkptMeta *meta, const char *path) {
    if (!strcmp(meta->val_hash, p->val_hash)) return;
    swap_fail("%s: trained with data.val_split = %lld (seed %lld) but this run holds out %d images (seed %llu): "
              "the model may have trained on validation images; rerun the earlier phases with the same data.val_split",
              path, (long long)meta->val_split, (long long)meta->val_seed, p->val_split,
              (unsigned long long)p->val_seed);
}

void phase_check_precision(const Phase *p, const CkptMeta *meta, const char *path) {
    const char *now = nn_precision_name(nn_precision());
    if (!strcmp(meta->precision, now) || cfg_bool(p->cfg, "allow_precision_change")) return;
    swap_fail("%s: computed in precision %s but this run computes in %s; set allow_precision_change = true to "
              "continue from it anyway", path, meta->precision, now);
}
