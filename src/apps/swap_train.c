/* Phase 1: one model, synchronous data-parallel SGD over MPI ranks with a large global batch and warm-up,
 * stopped when an epoch's training accuracy reaches phase1.stop_train_acc (SWAP's criterion). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "phases/trainer.h"

int main(int argc, char **argv) {
    Phase p;
    phase_start(&p, argc, argv, "EXPERIMENT.lua [--set key=value]...", "phase1.threads");
    const Config *cfg = p.cfg;
    long ranks = cfg_int(cfg, "phase1.ranks");
    if (ranks != p.comm.size && p.comm.rank == 0)
        swap_warn("phase1.ranks is %ld but the job has %d rank(s); using %d", ranks, p.comm.size, p.comm.size);
    phase_load_data(&p, 1, 1);
    Model *m = phase_build_model(&p);
    const uint64_t seed = (uint64_t)cfg_int(cfg, "seed");
    model_init(m, seed);

    TrainJob j;
    memset(&j, 0, sizeof j);
    j.p = &p;
    j.phase_name = "train";
    j.section = "phase1";
    j.m = m;
    j.worker = 0;
    j.n_workers = 1;
    j.seed = phase_seed(seed, 1, 0);
    j.global_batch = (int)cfg_int(cfg, "phase1.batch");
    j.epochs = (int)cfg_int(cfg, "phase1.max_epochs");
    j.stop_train_acc = cfg_num(cfg, "phase1.stop_train_acc");
    double lr = cfg_num(cfg, "phase1.lr");
    long base = cfg_int(cfg, "phase1.base_batch");
    if (base > 0) lr = sched_scale_lr(lr, j.global_batch, (int)base);
    j.sched = schedule_from_config(cfg, "phase1", lr, j.epochs);
    j.sgd = sgd_from_config(cfg);
    j.aug = augment_from_config(cfg);
    j.eval_every = (int)cfg_int(cfg, "phase1.eval_every");
    j.checkpoint_every = (int)cfg_int(cfg, "phase1.checkpoint_every");
    j.keep_checkpoints = (int)cfg_int(cfg, "phase1.keep_checkpoints");
    j.data_parallel = 1;
    j.bucket_floats = (size_t)(cfg_num(cfg, "phase1.bucket_mb") * (1 << 20) / sizeof(float));
    phase_path(&p, j.out_path, sizeof j.out_path, "phase1/model.h5", 1);
    phase_path(&p, j.resume_path, sizeof j.resume_path, "phase1/resume.h5", 0);
    phase_path(&p, j.log_path, sizeof j.log_path, "phase1/log.jsonl", 0);
    comm_barrier(); /* directories exist before any rank writes */
    int rc = train_run(&j);
    model_free(m);
    phase_finish(&p);
    return rc;
}
