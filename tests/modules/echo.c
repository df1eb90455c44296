/*
 * echo.c -- a protocol module for tests only (never installed).  It drives
 * the connection services through the real ABI, before and beside the
 * mail protocols:
 *
 *	any line	"echo: LINE"		(TOOLONG lines: "toolong: N")
 *	STARTTLS	"OK begin TLS", then the upgrade; "TLS ok" after it
 *	BYTES n		reads n raw bytes, "got n sum S" (sum of bytes)
 *	BIG n		writes n bytes of 'x' then "\r\nBIG done", with
 *			backpressure (conn_writable/on_drain)
 *	INFO		"tls=0|1 loopback=0|1 plain_ok=0|1 service=NAME"
 *	SLEEP ms	pauses input for ms, then "slept"
 *	QUIT		"bye", then close
 *
 * Services: echo (127.0.0.1:2007, plain) and echos (127.0.0.1:2008,
 * implicit TLS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kurir/api.h>
#include <kurir/proto.h>

static const struct kurir_core_api	*api;

struct echo_session {
	struct kurir_conn	*c;
	uint64_t		 want;		/* BYTES: total requested */
	uint64_t		 sum;
	uint64_t		 big_left;	/* BIG: still to write */
	struct kurir_timer	*sleep;
};

static int
echo_connect(struct kurir_conn *c, void **sess_r)
{
	struct echo_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KURIR_E_NOMEM;
	s->c = c;
	*sess_r = s;
	api->conn_printf(c, "hello %s\r\n", api->conn_service(c));
	return KURIR_OK;
}

static void
echo_big(struct echo_session *s)
{
	static const char	xs[4096] = { [0 ... 4095] = 'x' };
	size_t			n;

	while (s->big_left > 0 && api->conn_writable(s->c)) {
		n = s->big_left < sizeof(xs) ? (size_t)s->big_left :
		    sizeof(xs);
		if (api->conn_write(s->c, xs, n) != KURIR_OK)
			return;
		s->big_left -= n;
	}
	if (s->big_left == 0) {
		api->conn_printf(s->c, "\r\nBIG done\r\n");
		api->conn_resume(s->c);
	}
}

static void
echo_woke(void *arg)
{
	struct echo_session	*s = arg;

	s->sleep = NULL;
	api->conn_printf(s->c, "slept\r\n");
	api->conn_resume(s->c);
}

static void
echo_line(void *sess, char *line, size_t len, uint32_t flags)
{
	struct echo_session	*s = sess;
	unsigned long long	 n;

	if (flags & KURIR_LINE_TOOLONG) {
		api->conn_printf(s->c, "toolong: %zu\r\n", len);
		return;
	}
	if (strcasecmp(line, "STARTTLS") == 0) {
		api->conn_printf(s->c, "OK begin TLS\r\n");
		if (api->conn_starttls(s->c) != KURIR_OK)
			api->conn_printf(s->c, "NO TLS\r\n");
	} else if (sscanf(line, "BYTES %llu", &n) == 1) {
		s->want = n;
		s->sum = 0;
		if (n == 0)
			api->conn_printf(s->c, "got 0 sum 0\r\n");
		else
			api->conn_read_bytes(s->c, n);
	} else if (sscanf(line, "BIG %llu", &n) == 1) {
		s->big_left = n;
		api->conn_pause(s->c);
		echo_big(s);
	} else if (sscanf(line, "SLEEP %llu", &n) == 1) {
		api->conn_pause(s->c);
		s->sleep = api->timer_add(n, echo_woke, s);
	} else if (strcasecmp(line, "INFO") == 0) {
		api->conn_printf(s->c, "tls=%d loopback=%d plain_ok=%d "
		    "service=%s\r\n", api->conn_is_tls(s->c) != 0,
		    api->conn_is_loopback(s->c) != 0,
		    api->conn_plaintext_ok(s->c) != 0,
		    api->conn_service(s->c));
	} else if (strcasecmp(line, "QUIT") == 0) {
		api->conn_printf(s->c, "bye\r\n");
		api->conn_close(s->c);
	} else {
		api->conn_write(s->c, "echo: ", 6);
		api->conn_write(s->c, line, len);
		api->conn_write(s->c, "\r\n", 2);
	}
}

static void
echo_data(void *sess, const char *buf, size_t len, uint64_t remaining)
{
	struct echo_session	*s = sess;
	size_t			 i;

	for (i = 0; i < len; i++)
		s->sum += (unsigned char)buf[i];
	if (remaining == 0)
		api->conn_printf(s->c, "got %llu sum %llu\r\n",
		    (unsigned long long)s->want, (unsigned long long)s->sum);
}

static void
echo_tls(void *sess, int status)
{
	struct echo_session	*s = sess;

	if (status == 0)
		api->conn_printf(s->c, "TLS ok\r\n");
}

static void
echo_drain(void *sess)
{
	struct echo_session	*s = sess;

	if (s->big_left > 0)
		echo_big(s);
}

static void
echo_timeout(void *sess)
{
	struct echo_session	*s = sess;

	api->conn_printf(s->c, "timeout\r\n");
}

static void
echo_shutdown(void *sess)
{
	struct echo_session	*s = sess;

	api->conn_printf(s->c, "shutting down\r\n");
	api->conn_close(s->c);
}

static void
echo_close(void *sess)
{
	struct echo_session	*s = sess;

	if (s->sleep != NULL)
		api->timer_del(s->sleep);
	free(s);
}

static const struct kurir_service_desc echo_services[] = {
	{ "echo", "127.0.0.1:2007", 0 },
	{ "echos", "127.0.0.1:2008", 1 },
	{ NULL, NULL, 0 }
};

static const struct kurir_proto_ops echo_ops = {
	.size = sizeof(struct kurir_proto_ops),
	.services = echo_services,
	.on_connect = echo_connect,
	.on_line = echo_line,
	.on_data = echo_data,
	.on_tls = echo_tls,
	.on_drain = echo_drain,
	.on_timeout = echo_timeout,
	.on_shutdown = echo_shutdown,
	.on_close = echo_close,
};

static const struct kurir_conf_key echo_keys[] = {
	{ "echo_banner", KURIR_CONF_STRING, "hello", NULL,
	    "unused; shows that module keys are accepted" },
	{ NULL, 0, NULL, NULL, NULL }
};

static int
echo_init(struct kurir_module *mod, const struct kurir_core_api *core,
    const char **errstr_r)
{
	if (!KURIR_HAS(core, conn_plaintext_ok)) {
		*errstr_r = "core too old";
		return KURIR_E_UNSUPPORTED;
	}
	api = core;
	return KURIR_OK;
}

static const struct kurir_module_desc echo_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_PROTOCOL,
	.name = "echo",
	.version = "test",
	.conf_keys = echo_keys,
	.init = echo_init,
	.ops = &echo_ops,
};

KURIR_MODULE(echo, echo_desc)
