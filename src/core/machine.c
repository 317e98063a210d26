#include "core/machine.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The value of "key<blanks>: value" when line holds exactly key ("model" is not "model name"), newline
 * stripped; NULL otherwise. */
static const char *field(char *line, const char *key) {
    const size_t k = strlen(key);
    if (strncmp(line, key, k) != 0) return NULL;
    char *v = line + k + strspn(line + k, " \t");
    if (*v != ':') return NULL;
    v += 1 + (v[1] == ' ');
    v[strcspn(v, "\n")] = 0;
    return v;
}

void machine_cpu(char *buf, size_t n) {
    char name[160] = "", family[16] = "", model[16] = "", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) { /* the first processor's block describes them all */
        const char *v;
        if (!name[0] && (v = field(line, "model name"))) snprintf(name, sizeof name, "%s", v);
        else if (!family[0] && (v = field(line, "cpu family"))) snprintf(family, sizeof family, "%s", v);
        else if (!model[0] && (v = field(line, "model"))) snprintf(model, sizeof model, "%s", v);
        if (line[0] == '\n' && name[0]) break;
    }
    if (f) fclose(f);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!name[0]) snprintf(name, sizeof name, "unknown CPU");
    if (family[0] && model[0])
        snprintf(buf, n, "%s (family %s, model %s), %ld CPUs", name, family, model, cpus);
    else
        snprintf(buf, n, "%s, %ld CPUs", name, cpus);
}
