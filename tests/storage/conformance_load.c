/*
 * conformance_load.c -- loads the backend under test the way kurird
 * does: a configuration with state_dir, module_open() by name from the
 * module directory (ABI checks included), the module's keys declared and
 * validated, then module_init() with the core's api table.
 */
#include <stdio.h>

#include "config.h"
#include "config_keys.h"
#include "module.h"

#include "conformance.h"

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
	if (module_init(m, err, errlen) != 0)
		return NULL;
	return d->ops;
}
