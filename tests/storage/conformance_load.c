/* TEMPORARY loader (dlopen) until core/libkurircore.la lands. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kurir/api.h>
#include "conformance.h"

static char sd[1024];
static void
tlog(struct kurir_module *m, int level, const char *fmt, ...)
{
	va_list ap;
	if (level > KURIR_LOG_WARNING) return;
	va_start(ap, fmt); vfprintf(stderr, fmt, ap); va_end(ap);
	fputc('\n', stderr);
}
static const char *tconf_str(const char *k) { return strcmp(k, "state_dir") == 0 ? sd : NULL; }
static int64_t tconf_num(const char *k) { return -1; }
static struct kurir_core_api api;

const struct kurir_storage_ops *
conformance_load(const char *dir, const char *name, const char *state_dir,
    char *err, size_t errlen)
{
	char path[2048], sym[256];
	const struct kurir_module_desc *(*entry)(void), *d;
	const char *why = NULL;
	void *h;

	snprintf(sd, sizeof(sd), "%s", state_dir);
	api.size = sizeof(api); api.abi_major = 1; api.abi_minor = 0;
	api.log = tlog; api.conf_str = tconf_str; api.conf_num = tconf_num;
	snprintf(path, sizeof(path), "%s/.libs/%s.so", dir, name);
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s", dlerror()); return NULL; }
	snprintf(sym, sizeof(sym), "%s_LTX_kurir_module_entry", name);
	*(void **)&entry = dlsym(h, sym);
	if (entry == NULL) { snprintf(err, errlen, "no entry"); return NULL; }
	d = entry();
	if (d->init((struct kurir_module *)d, &api, &why) != 0) {
		snprintf(err, errlen, "init: %s", why); return NULL; }
	return d->ops;
}
