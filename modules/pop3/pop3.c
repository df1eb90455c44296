/*
 * pop3.c -- the POP3 module's descriptor: the services it serves (pop3
 * with STLS, pop3s with implicit TLS), its configuration keys, and init.
 * The protocol itself lives in pop3_session.c and its neighbours.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kurir/module.h>
#include <kurir/proto.h>

#include "pop3.h"

const struct kurir_core_api	*pop3_api;
struct kurir_module		*pop3_mod;
struct pop3_conf		 pop3_conf;
uint32_t			 pop3_tls_ok;

static const struct kurir_conf_key pop3_conf_keys[] = {
	{ "pop3_delete_action", KURIR_CONF_ENUM, "expunge", "expunge|trash",
	    "what DELE then QUIT does: expunge, or move to the Trash mailbox" },
	{ "pop3_trash_mailbox", KURIR_CONF_STRING, "Trash", NULL,
	    "mailbox for pop3_delete_action = trash when none has the "
	    "\\Trash special use (created if missing)" },
	{ "pop3_max_errors", KURIR_CONF_INT, "10", NULL,
	    "bad or refused commands after which a POP3 session is closed" },
	{ "pop3_max_line_length", KURIR_CONF_SIZE, "255", NULL,
	    "longest POP3 command line in octets, CRLF included (RFC 2449)" },
	{ "pop3_idle_timeout", KURIR_CONF_DURATION, "10m", NULL,
	    "idle POP3 sessions are closed after this (RFC 1939: >= 10m)" },
	{ "pop3_max_messages", KURIR_CONF_INT, "100000", NULL,
	    "most messages one POP3 session shows, oldest first (the rest "
	    "in later sessions; 0: no limit)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct kurir_service_desc pop3_services[] = {
	{ "pop3", "127.0.0.1:2110", 0 },
	{ "pop3s", "127.0.0.1:2995", 1 },
	{ NULL, NULL, 0 }
};

static const struct kurir_proto_ops pop3_ops = {
	.size = sizeof(struct kurir_proto_ops),
	.services = pop3_services,
	.on_connect = pop3_on_connect,
	.on_line = pop3_on_line,
	.on_data = NULL,
	.on_tls = pop3_on_tls,
	.on_drain = pop3_on_drain,
	.on_timeout = pop3_on_timeout,
	.on_shutdown = pop3_on_shutdown,
	.on_close = pop3_on_close,
};

int
pop3_conf_load(const char **errstr_r)
{
	const char *v, *dir;
	int64_t n;
	int len;

	memset(&pop3_conf, 0, sizeof(pop3_conf));
	v = pop3_api->conf_str("pop3_delete_action");
	pop3_conf.delete_trash = v != NULL && strcmp(v, "trash") == 0;
	v = pop3_api->conf_str("pop3_trash_mailbox");
	if (v == NULL || *v == '\0')
		v = "Trash";
	if (strlen(v) >= sizeof(pop3_conf.trash)) {
		*errstr_r = "pop3_trash_mailbox: name too long";
		return KURIR_E_INVALID;
	}
	strcpy(pop3_conf.trash, v);

	n = pop3_api->conf_num("pop3_max_errors");
	pop3_conf.max_errors = n > 0 && n < UINT32_MAX ? (uint32_t)n : 10;
	n = pop3_api->conf_num("pop3_max_line_length");
	/* Below 16 not even "CAPA" fits; the core's own line limit caps
	 * what can arrive anyway. */
	if (n >= 0 && n < 16) {
		*errstr_r = "pop3_max_line_length: must be at least 16";
		return KURIR_E_INVALID;
	}
	pop3_conf.max_line = n > 0 ? (size_t)n : 255;
	n = pop3_api->conf_num("pop3_idle_timeout");
	pop3_conf.idle_timeout = n > 0 && n < UINT32_MAX ? (uint32_t)n : 600;
	n = pop3_api->conf_num("pop3_max_messages");
	pop3_conf.max_messages = n > 0 ? (size_t)n : n == 0 ? 0 : 100000;

	dir = pop3_api->conf_str("state_dir");
	if (dir == NULL || *dir == '\0')
		dir = ".";
	len = snprintf(pop3_conf.lockdir, sizeof(pop3_conf.lockdir),
	    "%s/pop3-locks", dir);
	if (len < 0 || (size_t)len >= sizeof(pop3_conf.lockdir)) {
		*errstr_r = "state_dir: path too long for pop3-locks";
		return KURIR_E_INVALID;
	}
	return KURIR_OK;
}

/*
 * Whether STLS can work: the core loads tls_cert (default
 * state_dir/tls/cert.pem, made before modules init) or runs without TLS.
 * Checked here, in the master, where the file is still readable.
 */
static uint32_t
pop3_tls_check(void)
{
	const char *cert, *dir;
	char path[4096];

	cert = pop3_api->conf_str("tls_cert");
	if (cert == NULL || *cert == '\0') {
		dir = pop3_api->conf_str("state_dir");
		snprintf(path, sizeof(path), "%s/tls/cert.pem",
		    dir != NULL ? dir : ".");
		cert = path;
	}
	return access(cert, R_OK) == 0;
}

static int
pop3_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	/* Everything used below is ABI 1.0; refuse a table too small. */
	if (api == NULL || !KURIR_HAS(api, login_plain)) {
		*errstr_r = "core services table too old for pop3";
		return KURIR_E_UNSUPPORTED;
	}
	pop3_api = api;
	pop3_mod = mod;
	pop3_tls_ok = pop3_tls_check();
	return pop3_conf_load(errstr_r);
}

static int
pop3_init_worker(struct kurir_module *mod, const char **errstr_r)
{
	int r;

	/* After a reload the worker must see the new values. */
	if ((r = pop3_conf_load(errstr_r)) != KURIR_OK)
		return r;
	/* Made here, as the unprivileged user that will lock in it. */
	if (mkdir(pop3_conf.lockdir, 0700) == -1 && errno != EEXIST)
		pop3_api->log(pop3_mod, KURIR_LOG_WARNING,
		    "mkdir %s: %s (IN-USE locks will fail)",
		    pop3_conf.lockdir, strerror(errno));
	return KURIR_OK;
}

static void
pop3_fini(struct kurir_module *mod)
{
	(void)mod;
}

static const struct kurir_module_desc pop3_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_PROTOCOL,
	.name = "pop3",
	.version = "0.1.0",
	.conf_keys = pop3_conf_keys,
	.init = pop3_init,
	.init_worker = pop3_init_worker,
	.fini = pop3_fini,
	.ops = &pop3_ops,
};

KURIR_MODULE(pop3, pop3_desc)
