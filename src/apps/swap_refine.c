/* Phase 2: worker i starts from the phase-1 model and trains on its own with small batches and its own seed
 * (data order, augmentation). A worker may itself be a data-parallel group of phase2.ranks_per_worker = k
 * MPI ranks (one mpiexec / array task per worker, so the job's communicator is the group and the gradient
 * sum never leaves it). --mode wash|papa runs the communicating variants: one MPI job, one member per rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fileio.h"
#include "phases/trainer.h"
#include "phases/wash.h"

static int worker_from_env(void) {
    const char *s = getenv("SLURM_ARRAY_TASK_ID");
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0) swap_fail("SLURM_ARRAY_TASK_ID: expected a non-negative integer, got '%s'", s);
    return (int)v;
}

int main(int argc, char **argv) {
    Phase p;
    phase_start(&p, argc, argv,
                "EXPERIMENT.lua [--worker I] [--mode independent|wash|papa] [--set key=value]...",
                "phase2.threads");
    const Config *cfg = p.cfg;
    const char *mode = p.args.mode ? p.args.mode : cfg_str(cfg, "phase2.mode");
    const int W = (int)cfg_int(cfg, "phase2.workers");
    const int communicating = !strcmp(mode, "wash") || !strcmp(mode, "papa");
    if (!communicating && strcmp(mode, "independent"))
        swap_fail_code(SWAP_EXIT_USAGE, "--mode: unknown mode '%s' (valid: independent, wash, papa)", mode);

    int worker;
    if (communicating) {
        if (p.comm.size != W)
            swap_fail("phase2.mode=%s runs one member per rank: phase2.workers is %d but the job has %d rank(s)",
                      mode, W, p.comm.size);
        worker = p.comm.rank;
    } else {
        worker = p.args.worker >= 0 ? p.args.worker : worker_from_env();
        if (worker < 0)
            swap_fail_code(SWAP_EXIT_USAGE, "no worker index: pass --worker I or set SLURM_ARRAY_TASK_ID");
        if (worker >= W) swap_fail("--worker %d: out of range (phase2.workers is %d)", worker, W);
        const int k = (int)cfg_int(cfg, "phase2.ranks_per_worker");
        if (p.comm.size != k)
            swap_fail("phase2.ranks_per_worker is %d but worker %d runs on %d rank(s): start it with mpiexec -n %d "
                      "(swap-run and swap-slurm do)", k, worker, p.comm.size, k);
    }

    char parent_path[1024];
    phase_path(&p, parent_path, sizeof parent_path, "phase1/model.h5", 0);
    if (!file_exists(parent_path))
        swap_fail("%s: phase-1 model not found (run swap-train first)", parent_path);
    phase_load_data(&p, 1, 1);
    CkptMeta parent;
    Model *m = ckpt_load_model(parent_path, &parent, 1);
    phase_check_val_split(&p, &parent, parent_path);
    if (strcmp(m->name, cfg_str(cfg, "model")))
        swap_fail("%s: holds model '%s' but the experiment says '%s'", parent_path, m->name, cfg_str(cfg, "model"));
    ModelSpec want = phase_model_spec(&p);
    if (want.in_c != m->spec.in_c || want.in_h != m->spec.in_h || want.classes != m->spec.classes)
        swap_fail("%s: model input/classes do not match dataset '%s'", parent_path, cfg_str(cfg, "dataset"));
    if (cfg_bool(cfg, "phase2.reset_momentum")) memset(m->ps.mom, 0, m->ps.n_params * sizeof(float));

    TrainJob j;
    memset(&j, 0, sizeof j);
    j.p = &p;
    j.phase_name = communicating ? mode : "refine";
    j.section = "phase2";
    j.m = m;
    j.worker = worker;
    j.n_workers = W;
    j.seed = phase_seed((uint64_t)cfg_int(cfg, "seed"), 2, (uint64_t)worker);
    j.global_batch = (int)cfg_int(cfg, "phase2.batch");
    j.epochs = (int)cfg_int(cfg, "phase2.epochs");
    j.stop_train_acc = 2.0; /* phase 2 runs its full schedule */
    j.sched = schedule_from_config(cfg, "phase2", cfg_num(cfg, "phase2.lr"), j.epochs);
    j.sgd = sgd_from_config(cfg);
    j.aug = augment_from_config(cfg);
    j.eval_every = (int)cfg_int(cfg, "phase2.eval_every");
    j.checkpoint_every = (int)cfg_int(cfg, "phase2.checkpoint_every");
    j.keep_checkpoints = (int)cfg_int(cfg, "phase2.keep_checkpoints");
    j.data_parallel = !communicating;
    j.parent = &parent;
    j.parent_path = parent_path;
    char sub[64];
    snprintf(sub, sizeof sub, "phase2/worker-%d.h5", worker);
    phase_path(&p, j.out_path, sizeof j.out_path, sub, 1);
    snprintf(sub, sizeof sub, "phase2/worker-%d.resume.h5", worker);
    phase_path(&p, j.resume_path, sizeof j.resume_path, sub, 0);
    snprintf(sub, sizeof sub, "phase2/worker-%d.log.jsonl", worker);
    phase_path(&p, j.log_path, sizeof j.log_path, sub, 0);
    if (communicating) wash_attach(&j, mode);
    comm_barrier();
    int rc = train_run(&j);
    if (communicating) wash_report(&j);
    ckpt_meta_free(&parent);
    model_free(m);
    phase_finish(&p);
    return rc;
}
