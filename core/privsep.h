/*
 * privsep.h -- the unprivileged user workers run as.  When kurird (or
 * kurirctl) runs as root, files it creates for workers are handed to that
 * user, and workers drop to it after fork.  As any other user, these are
 * no-ops: the process already is unprivileged.
 */
#ifndef KURIR_CORE_PRIVSEP_H
#define KURIR_CORE_PRIVSEP_H

#include <stddef.h>

/* Looks the user up (only when running as root). */
int	privsep_init(const char *user, char *err, size_t errlen);
/* Gives path to the worker user (root only; else does nothing). */
int	privsep_chown(const char *path);
/* setgroups/setgid/setuid to the worker user (root only). */
int	privsep_drop(char *err, size_t errlen);

#endif
