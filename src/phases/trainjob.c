#include "phases/trainjob.h"

#include <stdio.h>
#include <string.h>

void train_job_init(TrainJob *j, Phase *p, Model *m, const char *section, const char *epochs_leaf, double lr) {
    const Config *cfg = p->cfg;
    char k[192];
#define KEY(leaf) (snprintf(k, sizeof k, "%s.%s", section, leaf), k)
    memset(j, 0, sizeof *j);
    j->p = p;
    j->section = section;
    j->m = m;
    j->global_batch = (int)cfg_int(cfg, KEY("batch"));
    j->epochs = (int)cfg_int(cfg, KEY(epochs_leaf));
    j->sched = schedule_from_config(cfg, section, lr, j->epochs);
    j->sgd = sgd_from_config(cfg);
    j->aug = augment_from_config(cfg);
    j->eval_every = (int)cfg_int(cfg, KEY("eval_every"));
    j->checkpoint_every = (int)cfg_int(cfg, KEY("checkpoint_every"));
    j->keep_checkpoints = (int)cfg_int(cfg, KEY("keep_checkpoints"));
#undef KEY
}

void train_job_paths(TrainJob *j, const char *out, const char *resume, const char *log) {
    phase_path(j->p, j->out_path, sizeof j->out_path, out, 1);
    phase_path(j->p, j->resume_path, sizeof j->resume_path, resume, 0);
    phase_path(j->p, j->log_path, sizeof j->log_path, log, 0);
}
