/*
 * module.c -- finds, opens and checks modules with libltdl.
 *
 * A module is NAME.la (or NAME.so) in one of module_dir's directories.
 * Its one exported function, NAME_LTX_kurir_module_entry (libltdl tries
 * the prefixed name first, which is what lets preloaded static builds
 * work), returns the descriptor.  The descriptor is checked before
 * anything in the module runs: ABI major equal, minor not newer, a
 * descriptor no smaller than ABI 1.0's, a known kind, the name matching
 * the file.
 */
#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "module.h"

struct kurir_module {
	lt_dlhandle			 handle;
	const struct kurir_module_desc	*desc;
	char				*path;
	int				 inited;
	struct kurir_module		*next;
};

static struct kurir_module	*modules;	/* every module open */
static int			 ltdl_ready;

static const struct kurir_storage_ops	*storage_ops;
static const struct kurir_auth_ops	*auth_ops;

static int
ltdl_init(char *err, size_t errlen)
{
	if (ltdl_ready)
		return 0;
	if (lt_dlinit() != 0) {
		snprintf(err, errlen, "libltdl: %s", lt_dlerror());
		return -1;
	}
	ltdl_ready = 1;
	return 0;
}

int
module_abi_check(const struct kurir_module_desc *d, const char *file,
    char *err, size_t errlen)
{
	return module_abi_check_core(d, file, KURIR_ABI_MAJOR,
	    KURIR_ABI_MINOR, err, errlen);
}

int
module_abi_check_core(const struct kurir_module_desc *d, const char *file,
    uint32_t core_major, uint32_t core_minor, char *err, size_t errlen)
{
	if (d == NULL || d->size < KURIR_MODULE_DESC_SIZE_V1_0) {
		snprintf(err, errlen, "%s: not a kurir module descriptor "
		    "(size %u)", file, d != NULL ? d->size : 0);
		return -1;
	}
	if (d->abi_major != core_major || d->abi_minor > core_minor) {
		snprintf(err, errlen, "%s: module \"%s\" built for ABI %u.%u, "
		    "core provides %u.%u", file, d->name ? d->name : "?",
		    d->abi_major, d->abi_minor, core_major, core_minor);
		return -1;
	}
	if (d->kind < KURIR_MOD_PROTOCOL || d->kind > KURIR_MOD_AUTH) {
		snprintf(err, errlen, "%s: module \"%s\" has unknown kind %u",
		    file, d->name ? d->name : "?", d->kind);
		return -1;
	}
	if (d->name == NULL || d->ops == NULL ||
	    *(const uint32_t *)d->ops < sizeof(uint32_t)) {
		snprintf(err, errlen, "%s: module descriptor without a name "
		    "or an operations table", file);
		return -1;
	}
	return 0;
}

static const char *
kind_name(uint32_t kind)
{
	switch (kind) {
	case KURIR_MOD_PROTOCOL:
		return "protocol";
	case KURIR_MOD_STORAGE:
		return "storage";
	case KURIR_MOD_AUTH:
		return "auth";
	default:
		return "unknown";
	}
}

struct kurir_module *
module_open(const char *dir, const char *name, uint32_t kind, char *err,
    size_t errlen)
{
	const struct kurir_module_desc	*(*entry)(void);
	const struct kurir_module_desc	*d;
	const lt_dlinfo			*info;
	struct kurir_module		*m;
	lt_dladvise			 advise;
	lt_dlhandle			 h;

	for (m = modules; m != NULL; m = m->next)
		if (strcmp(m->desc->name, name) == 0) {
			snprintf(err, errlen, "%s: module \"%s\" is already "
			    "loaded", m->path, name);
			return NULL;
		}
	if (ltdl_init(err, errlen) == -1)
		return NULL;
	if (lt_dlsetsearchpath(dir) != 0 || lt_dladvise_init(&advise) != 0 ||
	    lt_dladvise_ext(&advise) != 0 || lt_dladvise_local(&advise) != 0) {
		snprintf(err, errlen, "libltdl: %s", lt_dlerror());
		return NULL;
	}
	h = lt_dlopenadvise(name, advise);
	lt_dladvise_destroy(&advise);
	if (h == NULL) {
		snprintf(err, errlen, "module \"%s\" not found: no %s.la or "
		    "%s.so in %s (%s)", name, name, name, dir, lt_dlerror());
		return NULL;
	}
	info = lt_dlgetinfo(h);
	entry = (const struct kurir_module_desc *(*)(void))
	    lt_dlsym(h, KURIR_MODULE_ENTRY_SYMBOL);
	if (entry == NULL) {
		snprintf(err, errlen, "%s: no %s_LTX_%s: not a kurir module",
		    info->filename, name, KURIR_MODULE_ENTRY_SYMBOL);
		goto fail;
	}
	d = entry();
	if (module_abi_check(d, info->filename, err, errlen) == -1)
		goto fail;
	if (strcmp(d->name, name) != 0) {
		snprintf(err, errlen, "%s: module calls itself \"%s\", file "
		    "name says \"%s\"", info->filename, d->name, name);
		goto fail;
	}
	if (kind != 0 && d->kind != kind) {
		snprintf(err, errlen, "%s: module \"%s\" is a %s module, "
		    "expected %s", info->filename, name, kind_name(d->kind),
		    kind_name(kind));
		goto fail;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->path = strdup(info->filename)) == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->handle = h;
	m->desc = d;
	m->next = modules;
	modules = m;
	return m;
fail:
	lt_dlclose(h);
	return NULL;
}

const struct kurir_module_desc *
module_desc(const struct kurir_module *m)
{
	return m->desc;
}

const char *
module_path(const struct kurir_module *m)
{
	return m->path;
}

const char *
module_kind_name(const struct kurir_module *m)
{
	return kind_name(m->desc->kind);
}

int
module_init(struct kurir_module *m, char *err, size_t errlen)
{
	const char	*why = NULL;
	int		 rc;

	if (m->inited)
		return 0;
	rc = m->desc->init != NULL ? m->desc->init(m, api_table(), &why) : 0;
	if (rc != 0) {
		snprintf(err, errlen, "%s: init failed: %s", m->path,
		    why != NULL ? why : "no reason given");
		return -1;
	}
	m->inited = 1;
	return 0;
}

int
module_init_worker(struct kurir_module *m, char *err, size_t errlen)
{
	const char	*why = NULL;

	if (m->desc->init_worker == NULL)
		return 0;
	if (m->desc->init_worker(m, &why) != 0) {
		snprintf(err, errlen, "%s: worker init failed: %s", m->path,
		    why != NULL ? why : "no reason given");
		return -1;
	}
	return 0;
}

int
module_init_worker_all(char *err, size_t errlen)
{
	struct kurir_module	*m;

	for (m = modules; m != NULL; m = m->next)
		if (module_init_worker(m, err, errlen) == -1)
			return -1;
	return 0;
}

void
module_close(struct kurir_module *m)
{
	struct kurir_module	**pp;

	for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (m->inited && m->desc->fini != NULL)
		m->desc->fini(m);
	/* Keep the code mapped under sanitizers so leak reports resolve. */
	if (getenv("KURIR_NO_DLCLOSE") == NULL)
		lt_dlclose(m->handle);
	free(m->path);
	free(m);
}

void
module_close_all(void)
{
	while (modules != NULL)
		module_close(modules);
	storage_ops = NULL;
	auth_ops = NULL;
}

struct kurir_module *
module_find(const char *name)
{
	struct kurir_module	*m;

	for (m = modules; m != NULL; m = m->next)
		if (strcmp(m->desc->name, name) == 0)
			return m;
	return NULL;
}

struct kurir_module *
module_next(struct kurir_module *m)
{
	return m == NULL ? modules : m->next;
}

/* Calls cb for every module file in the search path (kurird -V). */
int
module_scan(const char *path, void (*cb)(const char *dir, const char *name,
    void *arg), void *arg)
{
	char		*copy, *dir, *save = NULL, name[256];
	DIR		*dp;
	struct dirent	*de;
	size_t		 len;

	if ((copy = strdup(path)) == NULL)
		return -1;
	for (dir = strtok_r(copy, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		if ((dp = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(dp)) != NULL) {
			len = strlen(de->d_name);
			if (len < 4 || len - 3 >= sizeof(name) - 4 ||
			    (strcmp(de->d_name + len - 3, ".la") != 0 &&
			    strcmp(de->d_name + len - 3, ".so") != 0))
				continue;
			memcpy(name, de->d_name, len - 3);
			name[len - 3] = '\0';
			/* NAME.so next to NAME.la is the same module. */
			if (strcmp(de->d_name + len - 3, ".so") == 0 &&
			    faccessat(dirfd(dp), strcat(name, ".la"), F_OK,
			    0) == 0)
				continue;
			name[len - 3] = '\0';
			cb(dir, name, arg);
		}
		closedir(dp);
	}
	free(copy);
	return 0;
}

void
module_set_storage(const struct kurir_storage_ops *ops)
{
	storage_ops = ops;
}

void
module_set_auth(const struct kurir_auth_ops *ops)
{
	auth_ops = ops;
}

const struct kurir_storage_ops *
module_storage_ops(void)
{
	return storage_ops;
}

const struct kurir_auth_ops *
module_auth_ops(void)
{
	return auth_ops;
}
