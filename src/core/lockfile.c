#include "core/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/err.h"

int lockfile_take(const char *path, const char *what) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) swap_fail("%s: cannot create lock file (%s)", path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) swap_fail("%s: cannot lock (%s)", path, strerror(errno));
        char holder[300] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        char host[256] = "?";
        long pid = 0;
        if (sscanf(holder, "%255s %ld", host, &pid) != 2) pid = 0;
        close(fd);
        if (pid > 0)
            swap_fail("%s is in use by another run: PID %ld on host %s holds %s; wait for it to end or stop it", what,
                      pid, host, path);
        swap_fail("%s is in use by another run (it holds %s); wait for it to end or stop it", what, path);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char line[320];
    int len = snprintf(line, sizeof line, "%s %ld\n", host[0] ? host : "?", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
        swap_warn("%s: cannot record the lock holder (%s)", path, strerror(errno));
    return fd;
}

void lockfile_release(int fd) {
    if (fd >= 0) close(fd); /* closing the last descriptor releases the lock */
}
