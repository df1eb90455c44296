/*
 * imap.c -- the IMAP module's descriptor: the services it serves (imap
 * with STARTTLS, imaps with implicit TLS), its configuration keys, and
 * the connection callbacks that hand work to imap_session.c.
 */
#include <stdlib.h>
#include <string.h>

#include <kurir/module.h>

#include "imap.h"

const struct kurir_core_api *imap_api;
struct kurir_module *imap_mod;
struct imap_conf imap_conf;

static const struct kurir_conf_key imap_conf_keys[] = {
	{ "imap_max_literal_size", KURIR_CONF_SIZE, "64k", NULL,
	    "largest literal inside an IMAP command other than an APPEND "
	    "message (larger: NO [TOOBIG], or BYE when non-synchronizing)" },
	{ "imap_max_command_size", KURIR_CONF_SIZE, "128k", NULL,
	    "largest IMAP command including its literals, APPEND messages "
	    "excepted (those are limited by max_message_size)" },
	{ "imap_max_bad_commands", KURIR_CONF_INT, "10", NULL,
	    "invalid IMAP commands in a row before the server says BYE" },
	{ "imap_max_arguments", KURIR_CONF_INT, "10000", NULL,
	    "most arguments (atoms, strings, list items) in one command" },
	{ "imap_autologout", KURIR_CONF_DURATION, "30m", NULL,
	    "idle time before an authenticated IMAP session is logged out "
	    "(RFC 3501: at least 30 minutes)" },
	{ "imap_login_timeout", KURIR_CONF_DURATION, "60s", NULL,
	    "idle time allowed before an IMAP client has logged in" },
	{ "imap_idle_timeout", KURIR_CONF_DURATION, "31m", NULL,
	    "longest IDLE without any client traffic before BYE" },
	{ "imap_mime_max_parts", KURIR_CONF_INT, "500", NULL,
	    "MIME parts parsed per message for BODYSTRUCTURE; more are "
	    "folded into their parent" },
	{ "imap_mime_max_depth", KURIR_CONF_INT, "20", NULL,
	    "nesting of multiparts and message/rfc822 parsed per message" },
	{ "imap_mime_max_header_value", KURIR_CONF_SIZE, "8k", NULL,
	    "longest header value kept for ENVELOPE and BODYSTRUCTURE" },
	{ "imap_mime_max_values", KURIR_CONF_SIZE, "256k", NULL,
	    "header values kept per message for ENVELOPE and BODYSTRUCTURE" },
	{ "imap_max_cache_blob", KURIR_CONF_SIZE, "1M", NULL,
	    "largest parsed-structure record cached per message" },
	{ "imap_max_header_fetch", KURIR_CONF_SIZE, "256k", NULL,
	    "largest header read for BODY[HEADER.FIELDS] and SEARCH HEADER" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct kurir_service_desc imap_services[] = {
	{ "imap", "127.0.0.1:2143", 0 },
	{ "imaps", "127.0.0.1:2993", 1 },
	{ NULL, NULL, 0 }
};

static int64_t
conf_num(const char *key, int64_t def)
{
	int64_t v = imap_api->conf_num(key);

	return v < 0 ? def : v;
}

static void
imap_read_conf(void)
{
	struct imap_conf *c = &imap_conf;

	c->max_literal = (uint64_t)conf_num("imap_max_literal_size", 65536);
	c->max_command = (uint64_t)conf_num("imap_max_command_size", 131072);
	if (c->max_command < 1024)
		c->max_command = 1024;
	c->max_message = (uint64_t)conf_num("max_message_size", 50 << 20);
	c->max_bad = (uint32_t)conf_num("imap_max_bad_commands", 10);
	c->max_args = (uint32_t)conf_num("imap_max_arguments", 10000);
	if (c->max_args < 16)
		c->max_args = 16;
	c->autologout = (uint32_t)conf_num("imap_autologout", 1800);
	c->preauth_timeout = (uint32_t)conf_num("imap_login_timeout", 60);
	c->idle_timeout = (uint32_t)conf_num("imap_idle_timeout", 1860);
	c->mime.max_parts = (uint32_t)conf_num("imap_mime_max_parts", 500);
	c->mime.max_depth = (uint32_t)conf_num("imap_mime_max_depth", 20);
	c->mime.max_header_value =
	    (uint32_t)conf_num("imap_mime_max_header_value", 8192);
	c->mime.max_values = (uint32_t)conf_num("imap_mime_max_values",
	    262144);
	c->max_cache_blob = (uint64_t)conf_num("imap_max_cache_blob",
	    1 << 20);
	c->max_header_fetch = (uint64_t)conf_num("imap_max_header_fetch",
	    262144);
	if (c->mime.max_parts < 1)
		c->mime.max_parts = 1;
	if (c->mime.max_header_value < 64)
		c->mime.max_header_value = 64;
}

static int
imap_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	if (!KURIR_HAS(api, rcpt_resolve)) {
		*errstr_r = "core services table too old for imap";
		return KURIR_E_UNSUPPORTED;
	}
	imap_api = api;
	imap_mod = mod;
	imap_read_conf();
	return KURIR_OK;
}

static int
imap_init_worker(struct kurir_module *mod, const char **errstr_r)
{
	/* Configuration may have been reloaded before the fork. */
	imap_read_conf();
	return KURIR_OK;
}

static int
imap_on_connect(struct kurir_conn *c, void **sess_r)
{
	struct imap_sess *s;
	struct imap_str caps;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KURIR_E_NOMEM;
	s->c = c;
	s->state = IMAP_ST_NOAUTH;
	imap_cmdbuf_init(&s->cb, (size_t)imap_conf.max_command,
	    imap_conf.max_literal);
	imap_api->conn_set_timeout(c, imap_conf.preauth_timeout);
	imap_str_init(&caps, 4096);
	imap_capability_string(s, &caps);
	imap_printf(s, "* OK [CAPABILITY %s] kurir IMAP ready\r\n",
	    caps.s != NULL ? caps.s : "IMAP4rev1");
	imap_str_free(&caps);
	*sess_r = s;
	return KURIR_OK;
}

static void
imap_on_line(void *sess, char *line, size_t len, uint32_t flags)
{
	imap_session_input_line(sess, line, len, flags);
}

static void
imap_on_data(void *sess, const char *buf, size_t len, uint64_t remaining)
{
	imap_session_input_data(sess, buf, len, remaining);
}

static void
imap_on_tls(void *sess, int status)
{
	struct imap_sess *s = sess;

	if (status < 0)
		return;		/* the core closes the connection */
	/* RFC 3501 6.2.1: forget everything learnt before TLS. */
	imap_cmdbuf_reset(&s->cb);
	s->bad_count = 0;
	s->tls_started = 1;
}

static void
imap_on_drain(void *sess)
{
	imap_session_drain(sess);
}

static void
imap_on_timeout(void *sess)
{
	struct imap_sess *s = sess;

	imap_printf(s, "* BYE Autologout; idle for too long\r\n");
	s->closing = 1;
}

static void
imap_on_shutdown(void *sess)
{
	imap_bye(sess, "Server shutting down");
}

static void
imap_on_close(void *sess)
{
	imap_session_free(sess);
}

static const struct kurir_proto_ops imap_ops = {
	.size = sizeof(struct kurir_proto_ops),
	.services = imap_services,
	.on_connect = imap_on_connect,
	.on_line = imap_on_line,
	.on_data = imap_on_data,
	.on_tls = imap_on_tls,
	.on_drain = imap_on_drain,
	.on_timeout = imap_on_timeout,
	.on_shutdown = imap_on_shutdown,
	.on_close = imap_on_close,
};

static const struct kurir_module_desc imap_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_PROTOCOL,
	.name = "imap",
	.version = "0.1.0",
	.conf_keys = imap_conf_keys,
	.init = imap_init,
	.init_worker = imap_init_worker,
	.fini = NULL,
	.ops = &imap_ops,
};

KURIR_MODULE(imap, imap_desc)
