/* HDF5 checkpoints that explain themselves: weights, BN statistics, optional momentum, the experiment config,
 * provenance, lineage (content hash + parent hashes), per-epoch metrics and whatever a phase needs to resume
 * bit-exactly. The layout is a public interface, documented in docs/checkpoint-format.md.
 *
 * Writes are atomic (temp file in the same directory, fsync, rename, fsync of the directory). Reads open the
 * file read-only without HDF5 file locking, match tensors by name with strict shapes, verify the content hash
 * and reject NaN/Inf weights. The ckpt_* calls that return void report problems with swap_fail (one line
 * naming the file, non-zero exit); the ckpt_try_* / ckpt_verify calls return -1 with the line in err. */
#ifndef SWAP_CKPT_H
#define SWAP_CKPT_H
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "nn/model.h"

#define CKPT_FORMAT_NAME "swap-checkpoint"
#define CKPT_FORMAT_MAJOR 1
#define CKPT_FORMAT_MINOR 2
#define CKPT_MAX_PARENTS 64
#define CKPT_HASH_HEX 33 /* 32 hex digits of an XXH3-128 hash + NUL */
#define CKPT_NAME_LEN 64

/* One row of /metrics/history; fields not measured in an epoch are NaN. */
typedef struct {
    int epoch;
    double time_s, lr, train_loss, train_acc, test_loss, test_acc;
    double val_loss, val_acc; /* on the data.val_split images; NaN without a split (and in older files) */
} EpochRecord;

/* Named arrays a phase persists under /state/extra to resume bit-exactly (sample counters, accumulators...). */
typedef enum { CKPT_U64, CKPT_I64, CKPT_I32, CKPT_F64, CKPT_F32 } CkptKind;
typedef struct {
    char name[CKPT_NAME_LEN]; /* [A-Za-z0-9_.-]+ */
    CkptKind kind;
    size_t n;
    void *data; /* n elements of kind; owned by the CkptMeta */
} CkptExtra;

typedef struct {
    char name[CKPT_NAME_LEN];
    uint64_t s[4];
} CkptRng;

typedef struct {
    char hash[CKPT_HASH_HEX];
    char *path; /* for humans; owned */
} CkptParent;

/* Everything a checkpoint says besides the tensors. The caller fills the "run" part before ckpt_save; a load
 * fills all of it. A CkptMeta owns its strings and arrays: set them with the helpers below, release with
 * ckpt_meta_free. Start from ckpt_meta_init. */
typedef struct {
    /* run (written by the caller) */
    char phase[32];               /* "train", "refine", "average", "wash", "papa", ... */
    int64_t epoch, step, samples_seen;
    uint64_t seed;
    int worker, n_workers, world_size;
    char mpi_version[128];        /* from the caller: src/ckpt does not call MPI */
    char conv[384];               /* from the caller: the convolution kernels the model ran (they change the sums) */
    char precision[8];            /* from the caller: "fp32" or "bf16" (layers.h); files without it read as fp32 */
    char *config_source;          /* experiment file text (owned; ckpt_meta_set_config) */
    char *config_resolved;        /* "key = value" lines (owned) */
    char dataset[32];             /* dataset name the model was trained on */
    char data_file[1024];         /* dataset "hdf5": absolute path of the data file ("" otherwise) */
    char data_hash[CKPT_HASH_HEX];/* dataset "hdf5": XXH3-128 of that file's bytes ("" otherwise) */
    char **class_names;           /* dataset "hdf5" with /classes: the names, NULL-terminated (owned; set with
                                   * ckpt_meta_set_class_names), else NULL; /model attribute class_names */
    int n_class_names;
    int norm_channels;            /* input normalization, per channel */
    double norm_mean[4], norm_std[4];
    int64_t cursor_epoch, cursor_step; /* data cursor: next epoch and step within it */
    int64_t val_split, val_seed;  /* validation images held out of training (data.val_split) and their seed */
    char val_hash[CKPT_HASH_HEX]; /* identity of that split ("" when none; absent in older files) */
    char soup[16];                /* phase 3: "uniform" or "greedy" ("" for other files) */
    int64_t *soup_members;        /* the worker indices the soup holds (owned; ckpt_meta_set_soup) */
    int n_soup_members;
    CkptParent parents[CKPT_MAX_PARENTS];
    int n_parents;
    EpochRecord *history;         /* owned */
    int n_history;
    CkptRng *rngs;                /* owned */
    int n_rngs;
    CkptExtra *extra;             /* owned */
    int n_extra;

    /* filled by ckpt_save / on load (read-only for callers) */
    char format_version[16];      /* "1.1" */
    char created_utc[32];         /* "2026-11-22T01:42:45Z" */
    char content_hash[CKPT_HASH_HEX];
    char momentum_hash[CKPT_HASH_HEX]; /* "" when the file holds no momentum */
    char config_hash[CKPT_HASH_HEX];   /* of config_resolved */
    char git_commit[64];
    int git_dirty;
    char compiler[128], cflags[512], build_type[32], blas[256], hdf5_version[32], host[256];
    char cpu[256];                /* the machine (core/machine.h); "" in files written before 2026-12-06 */
    char slurm_job_id[32], slurm_array_job_id[32], slurm_array_task_id[32];
    char model[64];               /* model name and spec as stored under /model */
    ModelSpec spec;
    char *arch;                   /* owned: the network (/model attribute model_config, canonical JSON); for a
                                   * file written before format 1.2, the preset `model` expanded at `width` */
    int64_t param_count, buffer_count, n_tensors;
    int has_momentum;
} CkptMeta;

void ckpt_meta_init(CkptMeta *meta);
void ckpt_meta_free(CkptMeta *meta); /* leaves an initialized, empty meta */
void ckpt_meta_set_config(CkptMeta *meta, const char *source, const char *resolved);
void ckpt_meta_set_class_names(CkptMeta *meta, char *const *names, int n); /* copies; NULL/0 clears */
void ckpt_meta_set_norm(CkptMeta *meta, int channels, const double *mean, const double *std);
void ckpt_meta_add_parent(CkptMeta *meta, const char *hash, const char *path);
void ckpt_meta_add_epoch(CkptMeta *meta, const EpochRecord *rec);
void ckpt_meta_set_soup(CkptMeta *meta, const char *kind, const int64_t *members, int n);
/* An EpochRecord with every measurement NaN, for rows filled field by field. */
EpochRecord ckpt_epoch_record(int epoch);
/* Named RNG states (/state/rng/<name>); put replaces an existing entry. get returns -1 if absent. */
void ckpt_meta_put_rng(CkptMeta *meta, const char *name, const Rng *r);
int ckpt_meta_get_rng(const CkptMeta *meta, const char *name, Rng *r);
/* Named arrays (/state/extra/<name>); put copies and replaces. get returns NULL if absent or of another kind. */
void ckpt_meta_put(CkptMeta *meta, const char *name, CkptKind kind, const void *data, size_t n);
const void *ckpt_meta_get(const CkptMeta *meta, const char *name, CkptKind kind, size_t *n);
/* The value of "key = value" in the resolved configuration the file records, unquoted, into buf; returns 0 (buf
 * "") when the key is absent (older files, or a key added since). */
int ckpt_meta_config_value(const CkptMeta *meta, const char *key, char *buf, size_t n);

/* Write m (and its momentum when with_momentum) with meta to path, atomically. meta may be NULL (an empty
 * meta). Its read-only part is ignored: provenance and hashes are computed here (the content hash of what was
 * written is ckpt_content_hash(m)). */
void ckpt_save(const char *path, const Model *m, const CkptMeta *meta, int with_momentum);
/* Build the network the file describes (its stored architecture; a preset by name in files from before format
 * 1.2) and load it; meta_out may be NULL.
 * with_momentum: the file must hold momentum and it is loaded into m->ps.mom. */
Model *ckpt_load_model(const char *path, CkptMeta *meta_out, int with_momentum);
/* Load into an existing model: names and shapes must match exactly (both ways). */
void ckpt_load_into(const char *path, Model *m, CkptMeta *meta_out, int with_momentum);
/* Full check (structure, shapes, dtypes, hashes, finite weights). 0 if good, else -1 and one line in err. */
int ckpt_verify(const char *path, char *err, size_t errlen);

/* What ckpt_verify and ckpt_try_* return when the file could not be read for a reason other than damage (locked
 * by another process, no permission): nothing says it is bad, so it must not be redone or replaced. */
#define CKPT_UNREADABLE (-2)
/* Non-exiting variants for tools that look at many files. flags: */
enum {
    CKPT_LOAD_ALLOW_NONFINITE = 1, /* keep NaN/Inf weights (inspection) */
    CKPT_LOAD_ALLOW_BAD_HASH = 2,  /* do not fail on a content/momentum hash mismatch; see *hash_ok */
};
/* *m_io NULL: build the model from the file; else load into it. hash_ok (may be NULL) gets 1 if the hashes
 * matched. On error returns -1 and frees a model it built; a model passed in may be partly overwritten.
 * meta_out (may be NULL) is overwritten only on success: free it with ckpt_meta_free. */
int ckpt_try_load(const char *path, Model **m_io, CkptMeta *meta_out, int with_momentum, int flags, int *hash_ok,
                  char *err, size_t errlen);
/* Read only the metadata (no tensor data): quick, for listings. */
int ckpt_try_read_meta(const char *path, CkptMeta *meta_out, char *err, size_t errlen);

/* Write the model as safetensors (names and shapes of the PyTorch state_dict, BN num_batches_tracked = 0
 * included; metadata: model, spec, dataset, normalization, content hash) to out, atomically. */
void ckpt_export_safetensors(const char *out, const Model *m, const CkptMeta *meta);

/* XXH3-128 (hex) of the model's tensors: names, shapes and float32 data, in parameter-store order. */
void ckpt_content_hash(char out[CKPT_HASH_HEX], const Model *m);
/* XXH3-128 (hex) of arbitrary bytes (config digests). */
void ckpt_hash_bytes(char out[CKPT_HASH_HEX], const void *data, size_t n);

/* Periodic checkpoints: pattern holds one integer conversion ("%d" or "%0Nd"), e.g. "out/train_e%04d.h5".
 * Deletes the files matching the pattern except the `keep` with the highest numbers; returns how many it
 * deleted. keep <= 0 keeps everything. */
int ckpt_rotate(const char *pattern, int keep);
/* Remove temp files ".<name>.tmp.<pid>" left next to path by writers that died (pid no longer running on this
 * host). Call when this process is the only writer of path, e.g. on resume. Returns how many it removed. */
int ckpt_clean_temps(const char *path);

#endif
