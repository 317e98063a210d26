/* The results layout: where each phase's files live, relative to results/<name>/ (phase 1 and the baselines
 * relative to the shared directory of a sweep group, when there is one). Defined once for C here and once for
 * Lua in lua/swap/layout.lua, name for name; tests/lua/test_layout.lua checks that the two agree. The values are
 * printf formats (%d: a worker index, %s: a baseline name), so the compiler checks every use. */
#ifndef SWAP_CORE_LAYOUT_H
#define SWAP_CORE_LAYOUT_H

#define LAYOUT_PHASE1_DIR "phase1"
#define LAYOUT_PHASE1_MODEL "phase1/model.h5"
#define LAYOUT_PHASE1_RESUME "phase1/resume.h5"
#define LAYOUT_PHASE1_LOG "phase1/log.jsonl"
#define LAYOUT_WORKER_MODEL "phase2/worker-%d.h5"
#define LAYOUT_WORKER_RESUME "phase2/worker-%d.resume.h5"
#define LAYOUT_WORKER_LOG "phase2/worker-%d.log.jsonl"
#define LAYOUT_PHASE3_MODEL "phase3/model.h5"
#define LAYOUT_SUMMARY "summary.json"
#define LAYOUT_BASELINE_DIR "baseline-%s"
#define LAYOUT_BASELINE_MODEL "baseline-%s/model.h5"
#define LAYOUT_PLOTS_DIR "plots"

#endif
