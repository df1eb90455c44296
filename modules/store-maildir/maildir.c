/*
 * maildir.c -- the Maildir++ storage module: descriptor, configuration
 * keys and the storage ops table.  The layout is described in maildir.h.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kurir/module.h>

#include "maildir.h"

const struct kurir_core_api *md_api;
struct kurir_module *md_mod;

/* Defaults, also what a test gets that drives the ops without init. */
struct md_conf md_conf = {
	.location = "%s/maildir/%d/%n",
	.state_dir = KURIR_LOCALSTATEDIR "/lib/kurir",
	.tmp_max_age = 36 * 3600,
	.max_keywords = MD_NKEYWORDS,
	.fsync = 1,
};

static const struct kurir_conf_key md_keys[] = {
	{ "maildir_location", KURIR_CONF_STRING, "%s/maildir/%d/%n", NULL,
	    "Maildir root of a user: %s state_dir, %d domain, %n local "
	    "part, %u whole address, %% a percent sign" },
	{ "maildir_fsync", KURIR_CONF_BOOL, "yes", NULL,
	    "fsync messages, indexes and directories before an append or "
	    "delivery is reported done (no: faster, loses mail on a crash)" },
	{ "maildir_tmp_max_age", KURIR_CONF_DURATION, "36h", NULL,
	    "files left in tmp/ longer than this (crashed deliveries) are "
	    "removed when a mailbox is opened" },
	{ "maildir_max_keywords", KURIR_CONF_INT, "26", NULL,
	    "keywords per folder, at most 26 (file name letters a..z)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static int
md_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	const char	*s;
	int64_t		 n;

	md_api = api;
	md_mod = mod;
	if (api == NULL)
		return KURIR_OK;
	if ((s = api->conf_str("maildir_location")) != NULL && *s != '\0')
		md_conf.location = s;
	if ((s = api->conf_str("state_dir")) != NULL && *s != '\0')
		md_conf.state_dir = s;
	if ((n = api->conf_num("maildir_tmp_max_age")) >= 0)
		md_conf.tmp_max_age = n;
	if ((n = api->conf_num("maildir_fsync")) >= 0)
		md_conf.fsync = n != 0;
	if ((n = api->conf_num("maildir_max_keywords")) >= 0) {
		if (n > MD_NKEYWORDS) {
			*errstr_r = "maildir_max_keywords: at most 26";
			return KURIR_E_INVALID;
		}
		md_conf.max_keywords = n;
	}
	if (strchr(md_conf.location, '%') == NULL) {
		*errstr_r = "maildir_location: the template needs %n or %u "
		    "so that users do not share one Maildir";
		return KURIR_E_INVALID;
	}
	return KURIR_OK;
}

static int
md_quota_usage_op(struct kurir_store *st, uint64_t *bytes_r,
    uint64_t *messages_r)
{
	return md_quota_usage(st, bytes_r, messages_r);
}

static const struct kurir_storage_ops md_ops = {
	.size = sizeof(struct kurir_storage_ops),
	.store_open = md_store_open,
	.store_close = md_store_close,
	.quota_usage = md_quota_usage_op,
	.mailbox_list = md_mailbox_list,
	.mailbox_create = md_mailbox_create,
	.mailbox_delete = md_mailbox_delete,
	.mailbox_rename = md_mailbox_rename,
	.mailbox_subscribe = md_mailbox_subscribe,
	.mailbox_status = md_mailbox_status,
	.mailbox_open = md_mailbox_open,
	.mailbox_close = md_mailbox_close,
	.mailbox_sync = md_mailbox_sync,
	.msg_list = md_msg_list,
	.msg_read = md_msg_read,
	.msg_flags = md_msg_flags,
	.msg_expunge = md_msg_expunge,
	.msg_copy = md_msg_copy,
	.changes_since = md_changes_since,
	.cache_get = md_cache_get,
	.cache_set = md_cache_set,
	.notify_fd = md_notify_fd,
	.notify_clear = md_notify_clear,
	.append_begin = md_append_begin,
	.append_write = md_append_write,
	.append_commit = md_append_commit,
	.append_abort = md_append_abort,
	.deliver_begin = md_deliver_begin,
	.deliver_write = md_deliver_write,
	.deliver_commit = md_deliver_commit,
	.deliver_abort = md_deliver_abort,
	.recent_claim = md_recent_claim,
	.recent_count = md_recent_count,
	.notify_set = md_notify_set,
};

static const struct kurir_module_desc md_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_STORAGE,
	.name = "maildir",
	.version = PACKAGE_VERSION,
	.conf_keys = md_keys,
	.init = md_init,
	.init_worker = NULL,
	.fini = NULL,
	.ops = &md_ops,
};

KURIR_MODULE(maildir, md_desc)
