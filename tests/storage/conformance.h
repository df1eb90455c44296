/*
 * conformance.h -- what the storage conformance suite needs from its
 * loader: the backend's ops table, loaded by name from a module
 * directory with a given state directory.
 */
#ifndef KURIR_CONFORMANCE_H
#define KURIR_CONFORMANCE_H

#include <stddef.h>

#include <kurir/storage.h>

/* Load module `name` from `module_dir` through the core's loader, with
 * state_dir set, and call its init.  On error NULL and a message. */
const struct kurir_storage_ops *conformance_load(const char *module_dir,
	    const char *name, const char *state_dir, char *err, size_t errlen);

#endif
