/* Pictures next to the numbers: CSV files, gnuplot scripts and PNGs for an experiment (the SWAP figure, training
 * curves) and the helpers swap-inspect's loss-landscape cuts draw with. Drawing only: what is measured
 * comes from the logs, the summary or the caller (src/inspect). gnuplot (Debian: gnuplot-nox) draws; when it is not
 * installed the CSVs and scripts are still written and one message says so. */
#ifndef SWAP_REPORT_H
#define SWAP_REPORT_H
#include <stdarg.h>
#include <stddef.h>

enum {
    REPORT_OK = 0,
    REPORT_NO_GNUPLOT = 1, /* CSVs and scripts written, no PNGs */
    REPORT_FAILED = -1,    /* a warning naming the problem was printed */
};
#define REPORT_NO_GNUPLOT_MSG "gnuplot not found: wrote CSVs only; install gnuplot-nox"

/* A growing text buffer (CSV and script text are built whole, then written atomically). */
typedef struct {
    char *s;
    size_t len, cap;
} StrBuf;
void sb_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A number for CSV: "%.9g", or "nan" (gnuplot reads it as missing; see GP_PREAMBLE). */
void sb_num(StrBuf *b, double v, const char *sep);
void sb_free(StrBuf *b);
/* Write dir/name atomically from the buffer. Returns 0, or -1 after a warning. */
int sb_write(const StrBuf *b, const char *dir, const char *name);
/* A string safe inside a gnuplot double-quoted string (quotes, backslashes, '@' and '&' escaped). */
void gp_quote(char *out, size_t n, const char *s);
/* Script opening: CSV input, pngcairo if gnuplot has it else png (gd), w x h pixels, output to the temp name
 * gnuplot_run renames on success. */
void gp_begin(StrBuf *b, const char *png_name, int w, int h);

/* Full path of gnuplot on PATH into buf (1), or 0 if there is none. */
int gnuplot_find(char *buf, size_t n);
/* Run `gnuplot script` in dir; then rename each PNG the script wrote (to ".<name>.tmp") to its name.
 * REPORT_OK, REPORT_NO_GNUPLOT (message printed) or REPORT_FAILED (warning printed). */
int gnuplot_run(const char *dir, const char *script, const char *const *pngs, int n_pngs);

/* Every plot of results/<name> into results/<name>/plots: the SWAP figure (learning rate and test accuracy
 * against wall-clock time; phase 1, then one trace per worker; the average and the ensemble marked) and the
 * per-epoch training loss/accuracy of both phases. Reads phase1/log.jsonl, phase2/worker-<i>.log.jsonl and
 * summary.json (optional: without it there are no end markers). phase1_log: where phase 1's log is when it is
 * not exp_dir/phase1/log.jsonl (a phase 1 shared by a sweep's pipelines), else NULL. Never exits: problems are
 * warnings. */
int report_experiment_plots(const char *exp_dir, const char *phase1_log);

#endif
