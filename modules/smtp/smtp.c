/*
 * smtp.c -- the SMTP module's descriptor: its three services (smtp for
 * MX, submission and submissions for users, RFC 6409 and RFC 8314), its
 * configuration keys and the connection callbacks the core calls.  The
 * protocol itself lives in smtp_session.c and its neighbours.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kurir/module.h>

#include "smtp.h"

const struct kurir_core_api *smtp_api;
struct kurir_module *smtp_mod;
struct smtp_conf smtp_conf;

static const struct kurir_conf_key smtp_conf_keys[] = {
	{ "smtp_max_recipients", KURIR_CONF_INT, "100", NULL,
	    "RCPT commands accepted per message; more get 452 4.5.3" },
	{ "smtp_max_targets", KURIR_CONF_INT, "1000", NULL,
	    "local mailboxes one message may reach after alias expansion" },
	{ "smtp_max_errors", KURIR_CONF_INT, "10", NULL,
	    "protocol errors in a session before it is closed with 421" },
	{ "smtp_max_line_length", KURIR_CONF_SIZE, "2048", NULL,
	    "longest SMTP command line (RFC 5321 minimum 512; AUTH may use "
	    "12288); DATA text lines may be up to max_line_length" },
	{ "smtp_command_timeout", KURIR_CONF_DURATION, "5m", NULL,
	    "time to wait for the next SMTP command (RFC 5321 4.5.3.2.7)" },
	{ "smtp_data_timeout", KURIR_CONF_DURATION, "5m", NULL,
	    "time to wait for the next block of message data" },
	{ "smtp_sender_login_check", KURIR_CONF_BOOL, "yes", NULL,
	    "authenticated users may use only their own addresses and "
	    "aliases in MAIL FROM" },
	{ "smtp_connections_per_ip", KURIR_CONF_INT, "50", NULL,
	    "simultaneous SMTP connections per client address (all "
	    "workers together); 0: no limit" },
	{ "smtp_bare_newline", KURIR_CONF_ENUM, "normalize", "normalize|reject",
	    "message data with a bare LF or CR: store with CR LF line ends, "
	    "or refuse with 554 5.6.0 (SMTP smuggling)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct kurir_service_desc smtp_services[] = {
	{ "smtp", "127.0.0.1:2525", 0 },
	{ "submission", "127.0.0.1:2587", 0 },
	{ "submissions", "127.0.0.1:2465", 1 },
	{ NULL, NULL, 0 }
};

static const struct kurir_proto_ops smtp_ops = {
	.size = sizeof(struct kurir_proto_ops),
	.services = smtp_services,
	.on_connect = smtp_on_connect,
	.on_line = smtp_on_line,
	.on_data = smtp_on_data,
	.on_tls = smtp_on_tls,
	.on_drain = NULL,
	.on_timeout = smtp_on_timeout,
	.on_shutdown = smtp_on_shutdown,
	.on_close = smtp_on_close,
};

static uint32_t
smtp_conf_u32(const char *key, uint32_t def)
{
	int64_t v = smtp_api->conf_num(key);

	if (v < 0)
		return (def);
	if (v > UINT32_MAX)
		return (UINT32_MAX);
	return ((uint32_t)v);
}

void
smtp_conf_load(void)
{
	const char *v;
	int64_t n;

	memset(&smtp_conf, 0, sizeof(smtp_conf));
	n = smtp_api->conf_num("max_message_size");
	smtp_conf.max_message_size = n > 0 ? (uint64_t)n : 0;
	smtp_conf.max_recipients = smtp_conf_u32("smtp_max_recipients", 100);
	smtp_conf.max_targets = smtp_conf_u32("smtp_max_targets", 1000);
	smtp_conf.max_errors = smtp_conf_u32("smtp_max_errors", 10);
	smtp_conf.max_line = smtp_conf_u32("smtp_max_line_length", 2048);
	if (smtp_conf.max_line < 512)
		smtp_conf.max_line = 512;
	smtp_conf.command_timeout = smtp_conf_u32("smtp_command_timeout", 300);
	smtp_conf.data_timeout = smtp_conf_u32("smtp_data_timeout", 300);
	smtp_conf.sender_login_check =
	    smtp_conf_u32("smtp_sender_login_check", 1);
	smtp_conf.connections_per_ip =
	    smtp_conf_u32("smtp_connections_per_ip", 50);
	v = smtp_api->conf_str("smtp_bare_newline");
	smtp_conf.bare_newline_reject = v != NULL && strcmp(v, "reject") == 0;
	smtp_conf.tls_available = 1;
	v = smtp_api->conf_str("hostname");
	if (v != NULL && *v != '\0')
		smtp_strlcpy(smtp_conf.hostname, v, sizeof(smtp_conf.hostname));
	else if (gethostname(smtp_conf.hostname,
	    sizeof(smtp_conf.hostname) - 1) != 0 || smtp_conf.hostname[0] == 0)
		smtp_strlcpy(smtp_conf.hostname, "localhost",
		    sizeof(smtp_conf.hostname));
}

static int
smtp_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	if (api->abi_major != KURIR_ABI_MAJOR ||
	    !KURIR_HAS(api, rcpt_resolve)) {
		*errstr_r = "smtp: core services table too old";
		return (KURIR_E_UNSUPPORTED);
	}
	smtp_api = api;
	smtp_mod = mod;
	smtp_conf_load();
	/* Runs in the master: the workers inherit the shared table. */
	if (smtp_limit_init() != KURIR_OK)
		api->log(mod, KURIR_LOG_WARNING, "smtp: no shared connection "
		    "table; smtp_connections_per_ip counts per worker");
	return (KURIR_OK);
}

static const struct kurir_module_desc smtp_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_PROTOCOL,
	.name = "smtp",
	.version = "0.1.0",
	.conf_keys = smtp_conf_keys,
	.init = smtp_init,
	.init_worker = NULL,
	.fini = NULL,
	.ops = &smtp_ops,
};

KURIR_MODULE(smtp, smtp_desc)
