/*
 * lmdb.c -- the LMDB storage module's descriptor: configuration keys,
 * init (reads settings only: environments are opened lazily in the
 * process that uses them, never in the master, because LMDB
 * environments must not cross fork()), and the ops table.
 */
#include <stdio.h>
#include <string.h>

#include "lmdbst.h"

const struct kurir_core_api *lmdbst_api;
struct kurir_module *lmdbst_mod;
struct lmdbst_conf lmdbst_conf = {
	.state_dir = "/var/lib/kurir",
	.map_size = 64ull << 20,
	.map_max = 64ull << 30,
	.group_max = 64,
	.spool_mem = 256u << 10,
	.env_cache = 128,
};

static const struct kurir_conf_key lmdb_conf_keys[] = {
	{ "lmdb_map_size", KURIR_CONF_SIZE, "64M", NULL,
	    "initial LMDB map size of a user's environment (grows by doubling)" },
	{ "lmdb_map_max", KURIR_CONF_SIZE, "64G", NULL,
	    "largest map size of a user's environment; beyond it appends fail "
	    "with no space" },
	{ "lmdb_group_commit", KURIR_CONF_INT, "64", NULL,
	    "most appends/deliveries to one user grouped into one durable "
	    "write transaction (1: no grouping)" },
	{ "lmdb_spool_memory", KURIR_CONF_SIZE, "256k", NULL,
	    "bytes of a message being appended kept in memory before spilling "
	    "to an unlinked temporary file" },
	{ "lmdb_env_cache", KURIR_CONF_INT, "128", NULL,
	    "idle user environments a process keeps open" },
	{ NULL, 0, NULL, NULL, NULL }
};

static int
lmdb_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	const char *s;
	int64_t v;

	if (api == NULL || !KURIR_HAS(api, conf_num)) {
		*errstr_r = "core api table too old for lmdb";
		return KURIR_E_INVALID;
	}
	lmdbst_api = api;
	lmdbst_mod = mod;
	if ((s = api->conf_str("state_dir")) != NULL && *s != '\0') {
		if (strlen(s) >= sizeof(lmdbst_conf.state_dir)) {
			*errstr_r = "state_dir too long for lmdb";
			return KURIR_E_INVALID;
		}
		snprintf(lmdbst_conf.state_dir, sizeof(lmdbst_conf.state_dir),
		    "%s", s);
	}
	if ((v = api->conf_num("lmdb_map_size")) > 0)
		lmdbst_conf.map_size = (uint64_t)v;
	if ((v = api->conf_num("lmdb_map_max")) > 0)
		lmdbst_conf.map_max = (uint64_t)v;
	if ((v = api->conf_num("lmdb_group_commit")) > 0)
		lmdbst_conf.group_max = v > 1024 ? 1024 : (uint32_t)v;
	if ((v = api->conf_num("lmdb_spool_memory")) >= 0)
		lmdbst_conf.spool_mem = (uint64_t)v;
	if ((v = api->conf_num("lmdb_env_cache")) >= 0)
		lmdbst_conf.env_cache = v > 4096 ? 4096 : (uint32_t)v;
	if (lmdbst_conf.map_size < (1u << 20))
		lmdbst_conf.map_size = 1u << 20;
	if (lmdbst_conf.map_max < lmdbst_conf.map_size)
		lmdbst_conf.map_max = lmdbst_conf.map_size;
	return KURIR_OK;
}

static void
lmdb_fini(struct kurir_module *mod)
{
	lmdbst_env_shutdown();
}

static const struct kurir_storage_ops lmdb_ops = {
	.size = sizeof(struct kurir_storage_ops),
	.store_open = lmdbst_store_open,
	.store_close = lmdbst_store_close,
	.quota_usage = lmdbst_quota_usage,
	.mailbox_list = lmdbst_mailbox_list,
	.mailbox_create = lmdbst_mailbox_create,
	.mailbox_delete = lmdbst_mailbox_delete,
	.mailbox_rename = lmdbst_mailbox_rename,
	.mailbox_subscribe = lmdbst_mailbox_subscribe,
	.mailbox_status = lmdbst_mailbox_status,
	.mailbox_open = lmdbst_mailbox_open,
	.mailbox_close = lmdbst_mailbox_close,
	.mailbox_sync = lmdbst_mailbox_sync,
	.msg_list = lmdbst_msg_list,
	.msg_read = lmdbst_msg_read,
	.msg_flags = lmdbst_msg_flags,
	.msg_expunge = lmdbst_msg_expunge,
	.msg_copy = lmdbst_msg_copy,
	.changes_since = lmdbst_changes_since,
	.cache_get = lmdbst_cache_get,
	.cache_set = lmdbst_cache_set,
	.notify_fd = lmdbst_notify_fd,
	.notify_clear = lmdbst_notify_clear,
	.append_begin = lmdbst_append_begin,
	.append_write = lmdbst_append_write,
	.append_commit = lmdbst_append_commit,
	.append_abort = lmdbst_append_abort,
	.deliver_begin = lmdbst_deliver_begin,
	.deliver_write = lmdbst_deliver_write,
	.deliver_commit = lmdbst_deliver_commit,
	.deliver_abort = lmdbst_deliver_abort,
	.recent_claim = lmdbst_recent_claim,
	.recent_count = lmdbst_recent_count,
	.notify_set = lmdbst_notify_set,
};

static const struct kurir_module_desc lmdb_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_STORAGE,
	.name = "lmdb",
	.version = "0.1.0",
	.conf_keys = lmdb_conf_keys,
	.init = lmdb_init,
	.init_worker = NULL,
	.fini = lmdb_fini,
	.ops = &lmdb_ops,
};

KURIR_MODULE(lmdb, lmdb_desc)
