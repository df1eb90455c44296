/*
 * check_smtp_mock.c -- see check_smtp_mock.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <check.h>

#include "check_smtp_mock.h"

struct mock_msg mock_msgs[64];
size_t mock_nmsgs;
int mock_commit_status;
int mock_pending_work;
int mock_auto_work = 1;

static struct {
	kurir_cb	*work, *done;
	void		*arg;
} mock_work[8];

#define MOCK_MAX_LINE	65536

static struct {
	char	key[64];
	char	val[256];
} mock_conf[32];
static size_t mock_nconf;

struct kurir_delivery {
	const struct kurir_user_params *const *users;
	size_t		 nusers;
	char		*data;
	size_t		 len;
};

struct kurir_sasl {
	struct kurir_conn *c;
	kurir_sasl_cb	*cb;
	void		*arg;
};

static const struct {
	const char	*key;
	const char	*val;
} mock_defaults[] = {
	{ "max_message_size", "1000000" },
	{ "smtp_max_recipients", "100" },
	{ "smtp_max_targets", "1000" },
	{ "smtp_max_errors", "20" },
	{ "smtp_max_line_length", "2048" },
	{ "smtp_command_timeout", "300" },
	{ "smtp_data_timeout", "300" },
	{ "smtp_sender_login_check", "1" },
	{ "smtp_connections_per_ip", "50" },
	{ "smtp_bare_newline", "normalize" },
	{ "hostname", "mx.test" },
	{ "domains", "localhost example.org" },
	{ NULL, NULL }
};

static const char *
mock_conf_str(const char *key)
{
	size_t i;

	for (i = 0; i < mock_nconf; i++)
		if (strcmp(mock_conf[i].key, key) == 0)
			return (mock_conf[i].val);
	for (i = 0; mock_defaults[i].key != NULL; i++)
		if (strcmp(mock_defaults[i].key, key) == 0)
			return (mock_defaults[i].val);
	return (NULL);
}

static int64_t
mock_conf_num(const char *key)
{
	const char *v = mock_conf_str(key);

	return (v == NULL ? -1 : strtoll(v, NULL, 10));
}

void
mock_conf_set(const char *key, const char *val)
{
	snprintf(mock_conf[mock_nconf].key, sizeof(mock_conf[0].key), "%s",
	    key);
	snprintf(mock_conf[mock_nconf].val, sizeof(mock_conf[0].val), "%s",
	    val);
	mock_nconf++;
	smtp_conf_load();
}

static void
mock_log(struct kurir_module *m, int level, const char *fmt, ...)
{
	va_list ap;

	if (getenv("MOCK_LOG") == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
mock_conn_log(struct kurir_conn *c, int level, const char *fmt, ...)
{
	va_list ap;

	if (getenv("MOCK_LOG") == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static char *
mock_log_escape(char *out, size_t cap, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i, n = 0;

	for (i = 0; i < len && n + 5 < cap; i++) {
		if (p[i] >= 32 && p[i] < 127)
			out[n++] = p[i];
		else
			n += snprintf(out + n, cap - n, "\\x%02x", p[i]);
	}
	out[n] = '\0';
	return (out);
}

static int
mock_conn_write(struct kurir_conn *c, const void *buf, size_t len)
{
	c->out = realloc(c->out, c->outlen + len + 1);
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
	c->out[c->outlen] = '\0';
	return (0);
}

static int
mock_conn_read_bytes(struct kurir_conn *c, uint64_t n)
{
	ck_assert_uint_eq(c->bytes_left, 0);
	ck_assert_uint_gt(n, 0);
	c->bytes_left = n;
	return (0);
}

static void
mock_conn_pause(struct kurir_conn *c)
{
	c->paused = 1;
}

static void
mock_conn_resume(struct kurir_conn *c)
{
	c->paused = 0;
}

int mock_no_tls;

static int
mock_conn_starttls(struct kurir_conn *c)
{
	if (c->tls)
		return (KURIR_E_INVALID);
	if (mock_no_tls)
		return (KURIR_E_UNSUPPORTED);
	c->starttls = 1;
	return (0);
}

static void
mock_conn_close(struct kurir_conn *c)
{
	c->closed = 1;
}

static void
mock_conn_set_timeout(struct kurir_conn *c, uint32_t s)
{
	c->timeout = s;
}

static int
mock_conn_is_tls(struct kurir_conn *c)
{
	return (c->tls);
}

static const char *
mock_conn_tls_info(struct kurir_conn *c)
{
	return (c->tls ? "TLSv1.3 TLS_AES_256_GCM_SHA384" : NULL);
}

static int
mock_conn_is_loopback(struct kurir_conn *c)
{
	return (c->loopback);
}

static const char *
mock_conn_peer_addr(struct kurir_conn *c)
{
	return (c->peer);
}

static const char *
mock_conn_service(struct kurir_conn *c)
{
	return (c->service);
}

static uint64_t
mock_conn_id(struct kurir_conn *c)
{
	return (0xabcdef0123456789ull);
}

static int
mock_conn_plaintext_ok(struct kurir_conn *c)
{
	return (c->tls || c->loopback);
}

static int
mock_run_blocking(kurir_cb *work, kurir_cb *done, void *arg)
{
	int i = mock_pending_work++;

	ck_assert_int_lt(i, 8);
	mock_work[i].work = work;
	mock_work[i].done = done;
	mock_work[i].arg = arg;
	return (0);
}

void
mock_run_work(void)
{
	int i, n = mock_pending_work;

	mock_pending_work = 0;
	for (i = 0; i < n; i++) {
		mock_work[i].work(mock_work[i].arg);
		mock_work[i].done(mock_work[i].arg);
	}
}

static uint64_t
mock_now_ms(void)
{
	return (0);
}

/* ---- storage --------------------------------------------------------- */

static int
mock_deliver_begin(const struct kurir_user_params *const *users,
    size_t nusers, int64_t date, struct kurir_delivery **d_r)
{
	struct kurir_delivery *d = calloc(1, sizeof(*d));

	d->users = users;
	d->nusers = nusers;
	*d_r = d;
	return (0);
}

static int
mock_deliver_write(struct kurir_delivery *d, const void *buf, size_t len)
{
	ck_assert_uint_le(len, SMTP_SPOOL_BUF);
	d->data = realloc(d->data, d->len + len + 1);
	memcpy(d->data + d->len, buf, len);
	d->len += len;
	d->data[d->len] = '\0';
	return (0);
}

static int
mock_deliver_commit(struct kurir_delivery *d)
{
	int r = mock_commit_status;
	size_t i;

	if (r == 0) {
		for (i = 0; i < d->nusers; i++) {
			struct mock_msg *m = &mock_msgs[mock_nmsgs++];

			ck_assert_uint_eq(d->users[i]->size,
			    sizeof(struct kurir_user_params));
			snprintf(m->user, sizeof(m->user), "%s",
			    d->users[i]->user);
			m->data = malloc(d->len + 1);
			memcpy(m->data, d->data == NULL ? "" : d->data, d->len);
			m->data[d->len] = '\0';
			m->len = d->len;
		}
	}
	free(d->data);
	free(d);
	return (r);
}

static void
mock_deliver_abort(struct kurir_delivery *d)
{
	free(d->data);
	free(d);
}

static const struct kurir_storage_ops mock_storage = {
	.size = sizeof(struct kurir_storage_ops),
	.deliver_begin = mock_deliver_begin,
	.deliver_write = mock_deliver_write,
	.deliver_commit = mock_deliver_commit,
	.deliver_abort = mock_deliver_abort,
};

static const struct kurir_storage_ops *
mock_storage_ops(void)
{
	return (&mock_storage);
}

static int
mock_lookup(const char *address, struct kurir_auth_user *u)
{
	if (strcmp(address, "alice@localhost") != 0 &&
	    strcmp(address, "bob@localhost") != 0)
		return (KURIR_E_NOTFOUND);
	snprintf(u->address, sizeof(u->address), "%s", address);
	u->quota_bytes = 1000;
	return (0);
}

static const struct kurir_auth_ops mock_auth = {
	.size = sizeof(struct kurir_auth_ops),
	.lookup = mock_lookup,
};

static const struct kurir_auth_ops *
mock_auth_ops(void)
{
	return (&mock_auth);
}

static int
mock_is_local_domain(const char *d)
{
	return (strcasecmp(d, "localhost") == 0 ||
	    strcasecmp(d, "example.org") == 0);
}

static int
mock_rcpt_resolve(const char *addr, kurir_rcpt_cb *cb, void *arg)
{
	char local[128];
	const char *at = strrchr(addr, '@');
	size_t n = at - addr;

	if (at == NULL || n >= sizeof(local))
		return (KURIR_E_INVALID);
	memcpy(local, addr, n);
	local[n] = '\0';
	if (strchr(local, '+') != NULL)
		*strchr(local, '+') = '\0';	/* plus-addressing */
	if (strcmp(local, "alice") == 0 || strcmp(local, "postmaster") == 0)
		return (cb(arg, "alice@localhost", 1) ? 0 : 0);
	if (strcmp(local, "bob") == 0)
		return (cb(arg, "bob@localhost", 1), 0);
	if (strcmp(local, "all") == 0) {
		cb(arg, "alice@localhost", 1);
		cb(arg, "bob@localhost", 1);
		return (0);
	}
	if (strcmp(local, "fwd") == 0)
		return (cb(arg, "x@remote.example", 0), 0);
	if (strcmp(local, "temp") == 0)
		return (KURIR_E_TEMPFAIL);
	if (strcmp(local, "loop") == 0)
		return (KURIR_E_INVALID);
	return (KURIR_E_NOTFOUND);
}

/* ---- SASL: "good" authenticates alice, "bad" fails ------------------- */

static const char *
mock_sasl_mechs(struct kurir_conn *c)
{
	return (c->tls || c->loopback ? "PLAIN LOGIN" : "");
}

static void
mock_sasl_answer(struct kurir_sasl *s, const char *resp)
{
	if (strcmp(resp, "good") == 0)
		s->cb(s->arg, KURIR_SASL_OK, "alice@localhost");
	else if (strcmp(resp, "=") == 0)
		s->cb(s->arg, KURIR_SASL_CONTINUE, "");
	else
		s->cb(s->arg, KURIR_SASL_FAIL, "");
}

static int
mock_sasl_start(struct kurir_conn *c, const char *mech, const char *ir,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **s_r)
{
	struct kurir_sasl *s;

	if (strcasecmp(mech, "PLAIN") != 0)
		return (KURIR_E_UNSUPPORTED);
	s = calloc(1, sizeof(*s));
	s->c = c;
	s->cb = cb;
	s->arg = arg;
	*s_r = s;
	if (ir == NULL)
		cb(arg, KURIR_SASL_CONTINUE, "");
	else
		mock_sasl_answer(s, ir);
	return (0);
}

static int
mock_sasl_step(struct kurir_sasl *s, const char *resp)
{
	mock_sasl_answer(s, resp);
	return (0);
}

static void
mock_sasl_free(struct kurir_sasl *s)
{
	free(s);
}

static const struct kurir_core_api mock_api = {
	.size = sizeof(struct kurir_core_api),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.version = "test",
	.log = mock_log,
	.conn_log = mock_conn_log,
	.log_escape = mock_log_escape,
	.conf_str = mock_conf_str,
	.conf_num = mock_conf_num,
	.conn_write = mock_conn_write,
	.conn_read_bytes = mock_conn_read_bytes,
	.conn_pause = mock_conn_pause,
	.conn_resume = mock_conn_resume,
	.conn_starttls = mock_conn_starttls,
	.conn_close = mock_conn_close,
	.conn_set_timeout = mock_conn_set_timeout,
	.conn_is_tls = mock_conn_is_tls,
	.conn_tls_info = mock_conn_tls_info,
	.conn_is_loopback = mock_conn_is_loopback,
	.conn_peer_addr = mock_conn_peer_addr,
	.conn_service = mock_conn_service,
	.conn_id = mock_conn_id,
	.conn_plaintext_ok = mock_conn_plaintext_ok,
	.run_blocking = mock_run_blocking,
	.now_ms = mock_now_ms,
	.storage = mock_storage_ops,
	.auth = mock_auth_ops,
	.sasl_mechs = mock_sasl_mechs,
	.sasl_start = mock_sasl_start,
	.sasl_step = mock_sasl_step,
	.sasl_free = mock_sasl_free,
	.is_local_domain = mock_is_local_domain,
	.rcpt_resolve = mock_rcpt_resolve,
};

void
mock_reset(void)
{
	size_t i;

	for (i = 0; i < mock_nmsgs; i++)
		free(mock_msgs[i].data);
	mock_nmsgs = 0;
	mock_nconf = 0;
	mock_commit_status = 0;
	mock_pending_work = 0;
	mock_auto_work = 1;
	mock_no_tls = 0;
	smtp_api = &mock_api;
	smtp_conf_load();
}

struct kurir_conn *
mock_connect(const char *service)
{
	struct kurir_conn *c = calloc(1, sizeof(*c));

	c->service = service;
	c->peer = "192.0.2.7";
	c->tls = strcmp(service, "submissions") == 0;
	ck_assert_int_eq(smtp_on_connect(c, &c->sess), 0);
	return (c);
}

/* Hand buffered input to the module the way the core does. */
static void
mock_pump(struct kurir_conn *c)
{
	char *lf, *line;
	size_t len, n;
	uint32_t flags;

	for (;;) {
		if (c->closed || c->gone)
			return;
		if (c->paused) {
			if (mock_pending_work == 0 || !mock_auto_work)
				return;
			mock_run_work();
			continue;
		}
		if (c->starttls) {
			/* Pipelined plaintext is dropped, then handshake. */
			c->starttls = 0;
			c->inlen = 0;
			c->tls = 1;
			smtp_on_tls(c->sess, 0);
			continue;
		}
		if (c->inlen == 0)
			return;
		if (c->bytes_left > 0) {
			n = c->inlen < c->bytes_left ? c->inlen : c->bytes_left;
			if (c->chunk != 0 && n > c->chunk)
				n = c->chunk;
			c->bytes_left -= n;
			line = malloc(n);
			memcpy(line, c->in, n);
			memmove(c->in, c->in + n, c->inlen - n);
			c->inlen -= n;
			smtp_on_data(c->sess, line, n, c->bytes_left);
			free(line);
			continue;
		}
		if ((lf = memchr(c->in, '\n', c->inlen)) == NULL)
			return;
		len = lf - c->in;
		n = len + 1;
		flags = KURIR_LINE_LF;
		if (len > 0 && c->in[len - 1] == '\r') {
			len--;
			flags = KURIR_LINE_CRLF;
		}
		if (len > MOCK_MAX_LINE) {
			/* like the core: cut, and the ending is not told */
			len = MOCK_MAX_LINE;
			flags = KURIR_LINE_TOOLONG;
		}
		line = malloc(len + 1);
		memcpy(line, c->in, len);
		line[len] = '\0';
		memmove(c->in, c->in + n, c->inlen - n);
		c->inlen -= n;
		smtp_on_line(c->sess, line, len, flags);
		free(line);
	}
}

void
mock_feed(struct kurir_conn *c, const char *buf, size_t len)
{
	c->in = realloc(c->in, c->inlen + len + 1);
	memcpy(c->in + c->inlen, buf, len);
	c->inlen += len;
	mock_pump(c);
}

void
mock_feeds(struct kurir_conn *c, const char *s)
{
	mock_feed(c, s, strlen(s));
}

void
mock_timeout(struct kurir_conn *c)
{
	smtp_on_timeout(c->sess);
	c->closed = 1;
}

void
mock_close(struct kurir_conn *c)
{
	if (!c->gone) {
		c->gone = 1;
		smtp_on_close(c->sess);
	}
	free(c->out);
	free(c->in);
	free(c);
}

const char *
mock_out(struct kurir_conn *c)
{
	static char *buf;

	free(buf);
	buf = strdup(c->out == NULL ? "" : c->out);
	free(c->out);
	c->out = NULL;
	c->outlen = 0;
	return (buf);
}

int
mock_last_code(struct kurir_conn *c)
{
	const char *p, *last = NULL;

	if (c->out == NULL)
		return (-1);
	for (p = c->out; *p != '\0'; p = strchr(p, '\n') + 1) {
		last = p;
		if (strchr(p, '\n') == NULL)
			break;
	}
	return (last == NULL ? -1 : atoi(last));
}
