/*
 * abi_module.c -- one source, built three times as test modules with
 * different ABI versions in their descriptors (ABI_MAJOR/ABI_MINOR and
 * MODNAME from the Makefile), to check the loader's version rules
 * through the real libltdl path.  Never installed.
 */
#include <kurir/api.h>
#include <kurir/module.h>
#include <kurir/storage.h>

static const struct kurir_storage_ops abi_ops = {
	.size = sizeof(struct kurir_storage_ops),
};

static int
abi_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	/* Refuse a core table smaller than the one we were built for. */
	if (!KURIR_HAS(api, rcpt_resolve)) {
		*errstr_r = "core services table too small";
		return KURIR_E_UNSUPPORTED;
	}
	return KURIR_OK;
}

static const struct kurir_module_desc abi_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = ABI_MAJOR,
	.abi_minor = ABI_MINOR,
	.kind = KURIR_MOD_STORAGE,
	.name = MODNAME_STR,
	.version = "test",
	.init = abi_init,
	.ops = &abi_ops,
};

KURIR_MODULE(MODNAME, abi_desc)
