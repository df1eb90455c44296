/*
 * net_harness.c -- the connection tests' protocol module and helpers
 * (see net_harness.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_private.h"
#include "ev.h"
#include "log.h"
#include "net_harness.h"
#include "tls.h"

struct tsess	ts;

static void
tr_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
tr_add(const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(ts.tr + ts.trlen, sizeof(ts.tr) - ts.trlen, fmt, ap);
	va_end(ap);
	if (n > 0 && ts.trlen + (size_t)n < sizeof(ts.tr))
		ts.trlen += (size_t)n;
}

static void
t_note_out(void)
{
	if (ts.c != NULL && !conn_stopped(ts.c) &&
	    ts.c->out_bytes > ts.max_out)
		ts.max_out = ts.c->out_bytes;
}

static void
t_stream(void)
{
	static char	block[4096];
	size_t		n;

	memset(block, 'S', sizeof(block));
	while (ts.stream_left > 0 && conn_writable(ts.c)) {
		n = ts.stream_left > sizeof(block) ? sizeof(block) :
		    ts.stream_left;
		if (conn_write(ts.c, block, n) != KURIR_OK)
			return;
		ts.stream_left -= n;
		t_note_out();
	}
}

static int
t_on_connect(struct kurir_conn *c, void **sess_r)
{
	ts.c = c;
	ts.connected = 1;
	*sess_r = &ts;
	tr_add("CONNECT\n");
	if (ts.refuse)
		return KURIR_E_TEMPFAIL;
	if (conn_write(c, "HELLO\r\n", 7) != KURIR_OK)
		return KURIR_E_TEMPFAIL;
	if (ts.close_at_once)
		conn_close(c);
	return KURIR_OK;
}

static void
t_on_line(void *sess, char *line, size_t len, uint32_t flags)
{
	char		*big;
	unsigned long	 n;

	ts.lines++;
	tr_add("L%s%s%s:", (flags & KURIR_LINE_CRLF) ? "c" : "",
	    (flags & KURIR_LINE_LF) ? "l" : "",
	    (flags & KURIR_LINE_TOOLONG) ? "T" : "");
	if (ts.trlen + len + 1 < sizeof(ts.tr)) {
		memcpy(ts.tr + ts.trlen, line, len);
		ts.trlen += len;
	}
	tr_add("\n");
	if (strlen(line) != len)
		return;		/* binary: record only */
	if (strncmp(line, "ECHO ", 5) == 0) {
		conn_printf(ts.c, "%s\r\n", line + 5);
	} else if (sscanf(line, "LIT %lu", &n) == 1) {
		tr_add("R%d\n", conn_read_bytes(ts.c, n));
	} else if (strcmp(line, "PAUSE") == 0) {
		conn_pause(ts.c);
	} else if (strncmp(line, "STARTTLS", 8) == 0) {
		conn_write(ts.c, "OK go\r\n", 7);
		ts.starttls_rc = conn_starttls(ts.c);
		tr_add("S%d\n", ts.starttls_rc);
		if (ts.starttls_rc != KURIR_OK)
			conn_printf(ts.c, "ERR %d\r\n", ts.starttls_rc);
		else if (strcmp(line, "STARTTLS+") == 0)
			/* Written before the handshake: sent after it. */
			conn_write(ts.c, "SECRET\r\n", 8);
	} else if (sscanf(line, "FLOOD %lu", &n) == 1) {
		/* Pieces of 10000, never asking conn_writable. */
		if ((big = calloc(1, 10000)) == NULL)
			return;
		while (n > 0) {
			ts.last_write_rc = conn_write(ts.c, big,
			    n > 10000 ? 10000 : n);
			if (ts.last_write_rc != KURIR_OK)
				break;
			t_note_out();
			n -= n > 10000 ? 10000 : n;
		}
		free(big);
	} else if (sscanf(line, "STREAM %lu", &n) == 1) {
		ts.stream_left = n;
		t_stream();
	} else if (strcmp(line, "QUIT") == 0) {
		conn_write(ts.c, "BYE\r\n", 5);
		conn_close(ts.c);
	}
}

static void
t_on_data(void *sess, const char *buf, size_t len, uint64_t remaining)
{
	ts.data_bytes += len;
	tr_add("D%zu/%llu:", len, (unsigned long long)remaining);
	if (ts.trlen + len + 1 < sizeof(ts.tr)) {
		memcpy(ts.tr + ts.trlen, buf, len);
		ts.trlen += len;
	}
	tr_add("\n");
}

static void
t_on_tls(void *sess, int status)
{
	ts.tls_status = status;
	tr_add("TLS%d\n", status);
}

static void
t_on_drain(void *sess)
{
	ts.drains++;
	t_stream();
}

static void
t_on_timeout(void *sess)
{
	ts.timeouts++;
	tr_add("TIMEOUT\n");
	conn_write(ts.c, "TIMEOUT\r\n", 9);
}

static void
t_on_shutdown(void *sess)
{
	ts.shutdowns++;
	tr_add("SHUTDOWN\n");
	conn_write(ts.c, "STOPPING\r\n", 10);
	conn_close(ts.c);
}

static void
t_on_close(void *sess)
{
	ts.closed = 1;
	tr_add("CLOSE\n");
}

static const struct kurir_service_desc	t_desc[] = {
	{ "test", "127.0.0.1:0", 0 },
	{ NULL, NULL, 0 },
};

static const struct kurir_proto_ops	t_ops = {
	.size = sizeof(struct kurir_proto_ops),
	.services = t_desc,
	.on_connect = t_on_connect,
	.on_line = t_on_line,
	.on_data = t_on_data,
	.on_tls = t_on_tls,
	.on_drain = t_on_drain,
	.on_timeout = t_on_timeout,
	.on_shutdown = t_on_shutdown,
	.on_close = t_on_close,
};

struct conn_service	t_svc = { "test", &t_ops, NULL, 0 };
struct conn_service	t_svc_tls = { "tests", &t_ops, NULL, 0 };
struct conn_service	t_svc_itls = { "testi", &t_ops, NULL, 1 };

void
t_reset(void)
{
	memset(&ts, 0, sizeof(ts));
	ts.tls_status = 1;
	ts.starttls_rc = 1;
}

void
t_limits(size_t max_line, size_t high, size_t low, size_t max,
    uint32_t idle)
{
	struct conn_limits	lim;

	memset(&lim, 0, sizeof(lim));
	lim.max_line = max_line;
	lim.out_high = high;
	lim.out_low = low;
	lim.out_max = max;
	lim.idle_timeout = idle;
	lim.tls_handshake_timeout = 1;
	lim.allow_plaintext_loopback = 1;
	conn_set_limits(&lim);
}

struct kurir_conn *
t_conn(const struct conn_service *svc, int *client_r)
{
	struct kurir_conn	*c;
	int			 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	*client_r = sv[1];
	c = conn_new(sv[0], svc);
	if (c == NULL)
		abort();
	return c;
}

int
t_pump(int (*cond)(void), int ms)
{
	uint64_t	end = ev_now_ms() + (uint64_t)ms;

	while (!cond()) {
		if (ev_now_ms() >= end)
			return 0;
		ev_run_once(ev_default(), 5);
	}
	return 1;
}

static int
t_never(void)
{
	return 0;
}

void
t_spin(int ms)
{
	t_pump(t_never, ms);
}

int
t_closed(void)
{
	return ts.closed;
}

void
t_send(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EAGAIN) {
			ev_run_once(ev_default(), 5);
			continue;
		}
		if (n <= 0)
			abort();
		p += n;
		len -= (size_t)n;
	}
}

ssize_t
t_recv(int fd, char *buf, size_t cap, int ms)
{
	uint64_t	end = ev_now_ms() + (uint64_t)ms;
	size_t		got = 0;
	ssize_t		n;

	while (got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return got == 0 ? -1 : (ssize_t)got;
		if (ev_now_ms() >= end)
			break;
		ev_run_once(ev_default(), 5);
	}
	return (ssize_t)got;
}

int
t_contains(const char *needle)
{
	ts.tr[ts.trlen] = '\0';
	return strstr(ts.tr, needle) != NULL;
}

SSL_CTX *
t_tls_ctx(char *cert, size_t certlen)
{
	char	dir[] = "/tmp/kurir-tls-XXXXXX", key[256], err[512];
	SSL_CTX	*ctx;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(cert, certlen, "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (tls_make_selfsigned(cert, key, "localhost", err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	if ((ctx = tls_server_ctx(cert, key, NULL, NULL, NULL, NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return ctx;
}
