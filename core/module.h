/*
 * module.h -- the module loader (libltdl): finds NAME.la / NAME.so in
 * module_dir (a ':'-separated search path), checks the descriptor against
 * the core's ABI, registers the module's config keys and calls its init.
 */
#ifndef KURIR_CORE_MODULE_H
#define KURIR_CORE_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/module.h>
#include <kurir/proto.h>
#include <kurir/storage.h>
#include <kurir/auth.h>

struct config;

/* Open a module by name and check its descriptor (ABI, kind, name).
 * kind 0 accepts any kind.  On error: NULL and one line in err naming
 * the file, e.g. "modules/x.so: module "x" built for ABI 2.0, core
 * provides 1.0". */
struct kurir_module *module_open(const char *dir, const char *name,
	    uint32_t kind, char *err, size_t errlen);
const struct kurir_module_desc *module_desc(const struct kurir_module *m);
const char *module_path(const struct kurir_module *m);
/* Call the module's init with the core api table. */
int	 module_init(struct kurir_module *m, char *err, size_t errlen);
int	 module_init_worker(struct kurir_module *m, char *err, size_t errlen);
int	 module_init_worker_all(char *err, size_t errlen);
void	 module_close(struct kurir_module *m);	/* fini, then dlclose */
void	 module_close_all(void);
const char *module_kind_name(const struct kurir_module *m);
struct kurir_module *module_find(const char *name);
/* Iterate the open modules: module_next(NULL) is the first. */
struct kurir_module *module_next(struct kurir_module *m);
/* Calls cb(dir, name) for each module file in a ':'-separated path. */
int	 module_scan(const char *path, void (*cb)(const char *dir,
	    const char *name, void *arg), void *arg);

/* The ABI check alone, for the loader and its unit test. */
int	 module_abi_check(const struct kurir_module_desc *d, const char *file,
	    char *err, size_t errlen);
/* The same against another core version (to test minor-version rules). */
int	 module_abi_check_core(const struct kurir_module_desc *d,
	    const char *file, uint32_t core_major, uint32_t core_minor,
	    char *err, size_t errlen);

/* The core services table handed to every module. */
const struct kurir_core_api *api_table(void);

/* The modules selected by the current configuration (set by main). */
void	 module_set_storage(const struct kurir_storage_ops *ops);
void	 module_set_auth(const struct kurir_auth_ops *ops);
const struct kurir_storage_ops *module_storage_ops(void);
const struct kurir_auth_ops *module_auth_ops(void);

#endif
