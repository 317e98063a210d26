/* Phase 1: one model, synchronous data-parallel SGD over MPI ranks with a large global batch and warm-up,
 * stopped when an epoch's training accuracy reaches phase1.stop_train_acc (SWAP's criterion).
 * With --baseline NAME: the same program trains a comparison model from scratch with the settings of
 * baselines.NAME (same data, augmentation, initialisation and data seed as phase 1) into baseline-NAME/, and
 * records it in summary.json. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/layout.h"
#include "phases/summary.h"
#include "phases/trainer.h"
#include "phases/trainjob.h"
#include "phases/version.h"

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    Phase p;
    phase_start(&p, argc, argv, "EXPERIMENT.lua [--baseline NAME] [--set key=value]...", "phase1.threads");
    const Config *cfg = p.cfg;
    const char *bl = p.args.baseline;
    char section[128], dir[160], k[192];
    if (bl) {
        snprintf(section, sizeof section, "baselines.%s", bl);
        snprintf(dir, sizeof dir, LAYOUT_BASELINE_DIR, bl);
    } else {
        snprintf(section, sizeof section, "phase1");
        snprintf(dir, sizeof dir, LAYOUT_PHASE1_DIR);
    }
#define KEY(leaf) (snprintf(k, sizeof k, "%s.%s", section, leaf), k)
    long ranks = cfg_int(cfg, KEY("ranks"));
    if (ranks != p.comm.size && p.comm.rank == 0)
        swap_warn("%s is %ld but the job has %d rank(s); using %d", KEY("ranks"), ranks, p.comm.size, p.comm.size);
    phase_load_data(&p, 1, 1);
    Model *m = phase_build_model(&p);
    const uint64_t seed = (uint64_t)cfg_int(cfg, "seed");
    model_init(m, seed);

    const int batch = (int)cfg_int(cfg, KEY("batch"));
    double lr = cfg_num(cfg, KEY("lr"));
    long base = cfg_int(cfg, KEY("base_batch"));
    if (base > 0) lr = sched_scale_lr(lr, batch, (int)base);
    TrainJob j;
    train_job_init(&j, &p, m, section, bl ? "epochs" : "max_epochs", lr);
    j.phase_name = bl ? "baseline" : "train";
    j.worker = 0;
    j.n_workers = 1;
    j.seed = phase_seed(seed, 1, 0); /* baselines see phase 1's data order: only batch and schedule differ */
    j.stop_train_acc = cfg_num(cfg, KEY("stop_train_acc"));
    if (bl && j.stop_train_acc <= 0) j.stop_train_acc = 2.0; /* 0 = no threshold: the whole budget runs */
#undef KEY
    j.data_parallel = 1;
    /* an all-reduce setting, not part of the recipe: baselines use phase 1's */
    j.bucket_floats = (size_t)(cfg_num(cfg, "phase1.bucket_mb") * (1 << 20) / sizeof(float));
    char out[200], resume[200], log[200];
    snprintf(out, sizeof out, "%s/model.h5", dir);
    snprintf(resume, sizeof resume, "%s/resume.h5", dir);
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    train_job_paths(&j, out, resume, log);
    comm_barrier(); /* directories exist before any rank writes */
    int rc = train_run(&j);
    /* the baseline's row in summary.json, read back from the checkpoint just written */
    if (bl && rc == SWAP_EXIT_OK && p.comm.rank == 0) summary_update(&p);
    model_free(m);
    phase_finish(&p);
    return rc;
}
