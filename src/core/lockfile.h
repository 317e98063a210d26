/* Advisory locks on results directories and outputs (flock): the kernel releases them when the holder dies,
 * even by kill -9, so a lock is never stale. The file names its holder (host and PID) for the message. */
#ifndef SWAP_LOCKFILE_H
#define SWAP_LOCKFILE_H

/* Take the exclusive lock on path (created if absent; its directory must exist) and write "HOST PID" into it.
 * Returns the descriptor to keep open for as long as the lock is wanted (close-on-exec: children do not
 * inherit it). When another process holds it: swap_fail with one line naming `what`, the holder's host and
 * PID, and what to do. */
int lockfile_take(const char *path, const char *what);
void lockfile_release(int fd);

#endif
