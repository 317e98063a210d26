/* Phase 2: worker i starts from the phase-1 model and trains on its own with small batches and its own seed
 * (data order, augmentation). A worker may itself be a data-parallel group of phase2.ranks_per_worker = k
 * MPI ranks (one mpiexec / array task per worker, so the job's communicator is the group and the gradient
 * sum never leaves it). --mode wash|papa runs the communicating variants: one MPI job, one member per rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "config/presets.h"
#include "core/fileio.h"
#include "core/layout.h"
#include "phases/drift.h"
#include "phases/trainer.h"
#include "phases/trainjob.h"
#include "phases/version.h"
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
    if (phase_version(argc, argv) == 0) return 0;
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
    phase_path(&p, parent_path, sizeof parent_path, LAYOUT_PHASE1_MODEL, 0);
    if (!file_exists(parent_path))
        swap_fail("%s: phase-1 model not found (run swap-train first)", parent_path);
    drift_require(cfg, parent_path, DRIFT_PHASE1, NULL); /* built on a phase 1 of another recipe: refused */
    phase_load_data(&p, 1, 1);
    CkptMeta parent;
    Model *m = ckpt_load_model(parent_path, &parent, 1);
    phase_check_val_split(&p, &parent, parent_path);
    phase_check_precision(&p, &parent, parent_path);
    if (strcmp(m->name, cfg_str(cfg, "model_name")))
        swap_fail("%s: holds model '%s' but the experiment says '%s'", parent_path, m->name, cfg_str(cfg, "model_name"));
    ModelSpec want = phase_model_spec(&p);
    if (want.in_c != m->spec.in_c || want.in_h != m->spec.in_h || want.classes != m->spec.classes)
        swap_fail("%s: model input/classes do not match dataset '%s'", parent_path, cfg_str(cfg, "dataset"));
    want.width = m->spec.width;
    char *want_json = phase_model_json(&p, &want);
    Model *expect = model_create_json(want_json, &want);
    free(want_json);
    if (strcmp(expect->arch, m->arch))
        swap_fail("%s: holds a different '%s' network than the experiment describes (layers or widths differ)",
                  parent_path, m->name);
    model_free(expect);
    if (cfg_bool(cfg, "phase2.reset_momentum")) memset(m->ps.mom, 0, m->ps.n_params * sizeof(float));

    TrainJob j;
    train_job_init(&j, &p, m, "phase2", "epochs", cfg_num(cfg, "phase2.lr"));
    j.phase_name = communicating ? mode : "refine";
    j.worker = worker;
    j.n_workers = W;
    j.seed = phase_seed((uint64_t)cfg_int(cfg, "seed"), 2, (uint64_t)worker);
    j.stop_train_acc = 2.0; /* phase 2 runs its full schedule */
    j.data_parallel = !communicating;
    j.parent = &parent;
    j.parent_path = parent_path;
    char out[64], resume[64], log[64];
    snprintf(out, sizeof out, LAYOUT_WORKER_MODEL, worker);
    snprintf(resume, sizeof resume, LAYOUT_WORKER_RESUME, worker);
    snprintf(log, sizeof log, LAYOUT_WORKER_LOG, worker);
    train_job_paths(&j, out, resume, log);
    if (communicating) wash_attach(&j, mode);
    comm_barrier();
    int rc = train_run(&j);
    if (communicating) wash_report(&j);
    ckpt_meta_free(&parent);
    model_free(m);
    phase_finish(&p);
    return rc;
}
