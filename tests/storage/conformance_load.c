/*
 * conformance_load.c -- loads the backend under test the way kurird
 * does: a configuration with state_dir, module_open() by name from the
 * module directory (ABI checks included), the module's keys declared and
 * validated, then module_init() with the core's api table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <kurir/api.h>

#include "config.h"
#include "config_keys.h"
#include "module.h"

#include "conformance.h"

/*
 * TEMPORARY: core/api.c (api_table()) is not in libkurircore yet, so
 * module_init() cannot link; until it is, init is called with this
 * table of the services a storage module uses (log, conf_*), backed by
 * the real configuration.
 */
static void
t_log(struct kurir_module *mod, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > KURIR_LOG_WARNING)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct kurir_core_api t_api;

const struct kurir_core_api *
api_table(void)
{
	return &t_api;
}

static int
t_module_init(struct kurir_module *m, char *err, size_t errlen)
{
	const struct kurir_module_desc *d = module_desc(m);
	const char *why = NULL;

	t_api.size = sizeof(t_api);
	t_api.abi_major = KURIR_ABI_MAJOR;
	t_api.abi_minor = KURIR_ABI_MINOR;
	t_api.version = "test";
	t_api.log = t_log;
	t_api.conf_str = config_str;
	t_api.conf_num = config_num;
	if (d->init != NULL && d->init(m, &t_api, &why) != 0) {
		snprintf(err, errlen, "%s: init failed: %s", module_path(m),
		    why != NULL ? why : "no reason given");
		return -1;
	}
	return 0;
}

const struct kurir_storage_ops *
conformance_load(const char *module_dir, const char *name,
    const char *state_dir, char *err, size_t errlen)
{
	const struct kurir_module_desc *d;
	struct kurir_module *m;
	struct config *cf;
	char ov[2][2048];
	char *ovp[2] = { ov[0], ov[1] };

	snprintf(ov[0], sizeof(ov[0]), "state_dir=%s", state_dir);
	snprintf(ov[1], sizeof(ov[1]), "module_dir=%s", module_dir);
	if ((cf = config_parse(NULL, ovp, 2, err, errlen)) == NULL)
		return NULL;
	if (config_add_keys(cf, core_conf_keys, "core") != 0) {
		snprintf(err, errlen, "core keys refused");
		return NULL;
	}
	if ((m = module_open(module_dir, name, KURIR_MOD_STORAGE, err,
	    errlen)) == NULL)
		return NULL;
	d = module_desc(m);
	if (d->conf_keys != NULL &&
	    config_add_keys(cf, d->conf_keys, d->name) != 0) {
		snprintf(err, errlen, "%s: bad configuration keys", d->name);
		return NULL;
	}
	if (config_validate(cf, err, errlen) != 0)
		return NULL;
	config_set_current(cf);
	if (t_module_init(m, err, errlen) != 0)
		return NULL;
	return d->ops;
}
