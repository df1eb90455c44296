/*
 * conn.c -- client connections: creation, the life cycle (close, kill,
 * deferred finalize), timers, the services modules call that are not
 * about moving bytes, and per-connection logging.  Reading, parsing and
 * writing are in conn_io.c, TLS in conn_tls.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <unistd.h>

#include "conn_private.h"
#include "log.h"

#define CONN_CLOSE_GRACE	30	/* s to flush after conn_close */

struct conn_limits	conn_lim = {
	.max_line = 65536,
	.out_high = 65536,
	.out_low = 16384,
	.out_max = 4 * 1024 * 1024,
	.idle_timeout = 1800,
	.tls_handshake_timeout = 30,
	.allow_plaintext_loopback = 1,
};
char			conn_rbuf[CONN_RBUF_SIZE];

static struct conn_list	conn_all = TAILQ_HEAD_INITIALIZER(conn_all);
static struct conn_list	conn_flushq = TAILQ_HEAD_INITIALIZER(conn_flushq);
static size_t		conn_n;
static int		conn_flush_pending;
static uint64_t		conn_id_key, conn_id_next;
static pid_t		conn_id_pid;

void
conn_set_limits(const struct conn_limits *lim)
{
	conn_lim = *lim;
	if (conn_lim.max_line < 16)
		conn_lim.max_line = 16;
	if (conn_lim.max_line > 16 * 1024 * 1024)
		conn_lim.max_line = 16 * 1024 * 1024;
	if (conn_lim.out_high == 0)
		conn_lim.out_high = 1;
	if (conn_lim.out_low > conn_lim.out_high)
		conn_lim.out_low = conn_lim.out_high;
	if (conn_lim.out_max < conn_lim.out_high)
		conn_lim.out_max = conn_lim.out_high;
}

size_t
conn_count(void)
{
	return conn_n;
}

/* ---- session ids: a keyed bijection of a counter, so never equal
 * within a process and unlike between workers. ------------------------ */

static uint64_t
conn_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
conn_new_id(void)
{
	if (conn_id_pid != getpid()) {
		conn_id_pid = getpid();
		if (getrandom(&conn_id_key, sizeof(conn_id_key),
		    GRND_NONBLOCK) != (ssize_t)sizeof(conn_id_key))
			conn_id_key = conn_mix(ev_now_ms() ^
			    ((uint64_t)conn_id_pid << 32));
		conn_id_next = 0;
	}
	return conn_mix(conn_id_key ^ conn_mix(conn_id_next++));
}

/* ---- addresses ---------------------------------------------------- */

static uint16_t
conn_sockaddr(const struct sockaddr_storage *ss, char *buf, size_t len,
    int *loopback_r)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	struct in_addr			 a4;

	*loopback_r = 0;
	switch (ss->ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, buf, len);
		*loopback_r = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		return ntohs(sin->sin_port);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&a4, &sin6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &a4, buf, len);
			*loopback_r = (ntohl(a4.s_addr) >> 24) == 127;
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len);
			*loopback_r = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
		return ntohs(sin6->sin6_port);
	case AF_UNIX:
		snprintf(buf, len, "local");
		*loopback_r = 1;
		return 0;
	default:
		snprintf(buf, len, "unknown");
		return 0;
	}
}

static void
conn_addresses(struct kurir_conn *c)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;
	int			loop, dummy, one = 1;

	memset(&ss, 0, sizeof(ss));
	sl = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == -1)
		ss.ss_family = AF_UNSPEC;
	c->peer_port = conn_sockaddr(&ss, c->peer, sizeof(c->peer), &loop);
	if (loop)
		c->flags |= C_LOOPBACK;
	/* Replies are flushed in batches already: no Nagle delay. */
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	memset(&ss, 0, sizeof(ss));
	sl = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == -1)
		ss.ss_family = AF_UNSPEC;
	c->local_port = conn_sockaddr(&ss, c->local, sizeof(c->local),
	    &dummy);
}

/* ---- life cycle ---------------------------------------------------- */

int
conn_stopped(struct kurir_conn *c)
{
	return (c->flags & (C_DEAD | C_FINALIZED)) != 0;
}

void
conn_unref(struct kurir_conn *c)
{
	if (--c->refs == 0)
		free(c);
}

/* Everything but the struct itself; callbacks are over for c. */
static void
conn_finalize(struct kurir_conn *c)
{
	if (c->flags & C_FINALIZED)
		return;
	c->flags |= C_FINALIZED | C_DEAD;
	TAILQ_REMOVE(&conn_all, c, entry);
	conn_n--;
	if (c->flags & C_FLUSHQ) {
		TAILQ_REMOVE(&conn_flushq, c, fentry);
		c->flags &= ~C_FLUSHQ;
	}
	ev_io_del(c->io);
	c->io = NULL;
	ev_timer_del(c->timer);
	c->timer = NULL;
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	conn_out_free(c);
	conn_log(c, KURIR_LOG_INFO, "closed");
	if ((c->flags & C_CONNECTED) && c->svc->ops->on_close != NULL)
		c->svc->ops->on_close(c->sess);
	c->sess = NULL;
	conn_unref(c);
}

static void
conn_finalize_cb(void *arg)
{
	struct kurir_conn	*c = arg;

	conn_finalize(c);
	conn_unref(c);
}

/* Close now, without flushing; on_close comes from a deferred call. */
void
conn_kill(struct kurir_conn *c)
{
	if (c->flags & (C_DEAD | C_FINALIZED))
		return;
	c->flags |= C_DEAD;
	if (c->io != NULL)
		ev_io_set(c->io, 0);
	c->refs++;
	if (ev_defer(ev_default(), conn_finalize_cb, c) == -1) {
		/* Out of memory: the idle timer finalizes instead. */
		c->refs--;
		log_warnx("cannot defer a connection close");
	}
}

static void
conn_kick_cb(void *arg)
{
	struct kurir_conn	*c = arg;

	c->flags &= ~C_KICKQ;
	if (!conn_stopped(c)) {
		conn_parse_buffered(c);
		if (!conn_stopped(c))
			conn_do_read(c);
		if (!conn_stopped(c))
			conn_update_io(c);
	}
	conn_unref(c);
}

/* Parse what is buffered and read again, from the loop (after
 * conn_resume, a drained output queue, a finished handshake). */
void
conn_schedule_kick(struct kurir_conn *c)
{
	if (c->flags & (C_KICKQ | C_DEAD | C_FINALIZED))
		return;
	c->refs++;
	if (ev_defer(ev_default(), conn_kick_cb, c) == -1) {
		c->refs--;
		conn_kill(c);
		return;
	}
	c->flags |= C_KICKQ;
}

static void
conn_flush_all(void *arg)
{
	struct conn_list	 batch = TAILQ_HEAD_INITIALIZER(batch);
	struct kurir_conn	*c;

	conn_flush_pending = 0;
	/* Connections queued again meanwhile wait for the next round. */
	TAILQ_CONCAT(&batch, &conn_flushq, fentry);
	while ((c = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, c, fentry);
		c->flags &= ~C_FLUSHQ;
		if (conn_stopped(c))
			continue;
		conn_flush(c);
		if (!conn_stopped(c))
			conn_update_io(c);
	}
}

/* Output is written in one batch per loop iteration. */
void
conn_schedule_flush(struct kurir_conn *c)
{
	if (c->flags & (C_FLUSHQ | C_DEAD | C_FINALIZED | C_WBLOCKED))
		return;
	if (!conn_flush_pending) {
		if (ev_defer(ev_default(), conn_flush_all, NULL) == -1) {
			conn_kill(c);
			return;
		}
		conn_flush_pending = 1;
	}
	TAILQ_INSERT_TAIL(&conn_flushq, c, fentry);
	c->flags |= C_FLUSHQ;
}

void
conn_update_io(struct kurir_conn *c)
{
	uint32_t	ev = 0;

	if (c->io == NULL)
		return;
	if (c->flags & (C_DEAD | C_FINALIZED))
		ev = 0;
	else if (c->flags & C_HANDSHAKE)
		ev = (c->flags & C_HS_WANTW) ? EV_WRITE : EV_READ;
	else {
		if (!(c->flags & (C_NOINPUT | C_EOF)) ||
		    (c->flags & C_SSL_WWANTR))
			ev |= EV_READ;
		if (((c->flags & C_WBLOCKED) && c->out_head != NULL) ||
		    (c->flags & C_SSL_RWANTW))
			ev |= EV_WRITE;
	}
	if (ev_io_set(c->io, ev) == -1 && ev != 0) {
		conn_log(c, KURIR_LOG_WARNING, "epoll: %s", strerror(errno));
		conn_kill(c);
	}
}

/* ---- timers: one per connection, moved lazily --------------------- */

/* ms deadline of the current phase, 0 for none. */
static uint64_t
conn_deadline(struct kurir_conn *c)
{
	uint32_t	s;

	if (c->flags & C_HANDSHAKE)
		s = conn_lim.tls_handshake_timeout;
	else {
		s = c->timeout ? c->timeout : conn_lim.idle_timeout;
		if ((c->flags & C_CLOSING) && (s == 0 || s > CONN_CLOSE_GRACE))
			s = CONN_CLOSE_GRACE;
	}
	if (s == 0)
		return 0;
	return c->last_active + (uint64_t)s * 1000;
}

static void	conn_timer_fired(void *arg);

/*
 * Activity only moves last_active; the timer, when it fires early, sets
 * itself again.  Only a deadline earlier than the armed one re-arms.
 */
void
conn_timer_arm(struct kurir_conn *c)
{
	uint64_t	when, now;

	if (conn_stopped(c))
		return;
	when = conn_deadline(c);
	if (c->timer != NULL && when != 0 && c->timer_when <= when)
		return;
	ev_timer_del(c->timer);
	c->timer = NULL;
	if (when == 0)
		return;
	now = ev_now_ms();
	c->timer = ev_timer_add(ev_default(), when > now ? when - now : 0,
	    conn_timer_fired, c);
	c->timer_when = when;
}

static void
conn_timer_fired(void *arg)
{
	struct kurir_conn	*c = arg;
	uint64_t		 when;

	c->timer = NULL;
	if (c->flags & C_FINALIZED)
		return;
	if (c->flags & C_DEAD) {
		/* Only when conn_kill could not defer the finalize. */
		conn_finalize(c);
		return;
	}
	when = conn_deadline(c);
	if (when == 0)
		return;
	if (when > ev_now_ms()) {
		conn_timer_arm(c);
		return;
	}
	if (c->flags & C_HANDSHAKE) {
		conn_log(c, KURIR_LOG_INFO, "TLS handshake timed out");
		if ((c->flags & C_CONNECTED) && c->svc->ops->on_tls != NULL)
			c->svc->ops->on_tls(c->sess, KURIR_E_TEMPFAIL);
		conn_kill(c);
		return;
	}
	if (c->flags & C_CLOSING) {
		conn_log(c, KURIR_LOG_INFO, "output not taken in time");
		conn_kill(c);
		return;
	}
	conn_log(c, KURIR_LOG_INFO, "idle timeout");
	if ((c->flags & C_CONNECTED) && c->svc->ops->on_timeout != NULL)
		c->svc->ops->on_timeout(c->sess);
	conn_close(c);
}

/* ---- creation ------------------------------------------------------ */

void
conn_connected(struct kurir_conn *c)
{
	void	*sess = NULL;

	if (c->svc->ops->on_connect(c, &sess) < 0) {
		conn_log(c, KURIR_LOG_INFO, "refused by the module");
		conn_kill(c);
		return;
	}
	c->sess = sess;
	c->flags |= C_CONNECTED;
}

struct kurir_conn *
conn_new(int fd, const struct conn_service *svc)
{
	static int		 sigpipe_ignored;
	struct kurir_conn	*c;
	int			 fl;

	if (!sigpipe_ignored) {
		/* OpenSSL writes with write(2): EPIPE, not a signal. */
		signal(SIGPIPE, SIG_IGN);
		sigpipe_ignored = 1;
	}
	if (svc->implicit_tls && svc->tls == NULL) {
		log_warnx("%s: implicit TLS without a certificate", svc->name);
		return NULL;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->svc = svc;
	c->refs = 1;
	c->id = conn_new_id();
	c->last_active = ev_now_ms();
	conn_addresses(c);
	if ((c->io = ev_io_add(ev_default(), fd, 0, conn_io_ready,
	    c)) == NULL) {
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&conn_all, c, entry);
	conn_n++;
	conn_log(c, KURIR_LOG_INFO, "connected to %s:%u", c->local,
	    c->local_port);
	if (svc->implicit_tls) {
		if (conn_tls_begin(c) == -1)
			conn_kill(c);
	} else
		conn_connected(c);
	if (!conn_stopped(c)) {
		conn_timer_arm(c);
		conn_update_io(c);
	}
	return c;
}

/* ---- stopping ------------------------------------------------------ */

void
conn_shutdown_all(void)
{
	struct kurir_conn	*c;

	/* Finalizing is deferred, so the list holds still meanwhile. */
	TAILQ_FOREACH(c, &conn_all, entry) {
		if (c->flags & (C_SHUTDOWN | C_DEAD | C_CLOSING))
			continue;
		c->flags |= C_SHUTDOWN;
		if (!(c->flags & C_CONNECTED))
			conn_kill(c);
		else if (c->svc->ops->on_shutdown != NULL)
			c->svc->ops->on_shutdown(c->sess);
		else
			conn_close(c);
	}
}

void
conn_close_all(void)
{
	struct kurir_conn	*c;

	while ((c = TAILQ_FIRST(&conn_all)) != NULL)
		conn_finalize(c);
}

/* ---- services ------------------------------------------------------ */

void
conn_close(struct kurir_conn *c)
{
	if (c->flags & (C_CLOSING | C_DEAD | C_FINALIZED))
		return;
	if (c->flags & C_HANDSHAKE) {
		conn_kill(c);
		return;
	}
	c->flags |= C_CLOSING;
	c->last_active = ev_now_ms();
	conn_timer_arm(c);
	conn_schedule_flush(c);
	conn_update_io(c);
}

void
conn_pause(struct kurir_conn *c)
{
	if (conn_stopped(c))
		return;
	c->flags |= C_PAUSED;
	conn_update_io(c);
}

void
conn_resume(struct kurir_conn *c)
{
	if (conn_stopped(c) || !(c->flags & C_PAUSED))
		return;
	c->flags &= ~C_PAUSED;
	/* Lines already buffered come from the loop, not from inside the
	 * caller (which may be on_line itself). */
	conn_schedule_kick(c);
}

void
conn_set_timeout(struct kurir_conn *c, uint32_t seconds)
{
	if (conn_stopped(c))
		return;
	c->timeout = seconds;
	/* Counted from now, like a fresh command. */
	c->last_active = ev_now_ms();
	ev_timer_del(c->timer);
	c->timer = NULL;
	conn_timer_arm(c);
}

int
conn_read_bytes(struct kurir_conn *c, uint64_t n)
{
	if (conn_stopped(c) || (c->flags & C_CLOSING))
		return KURIR_E_INVALID;
	if (c->svc->ops->on_data == NULL)
		return KURIR_E_UNSUPPORTED;
	if (n == 0 || c->data_left != 0)
		return KURIR_E_INVALID;
	c->data_left = n;
	/* Buffered bytes are delivered by the running parser, or else
	 * from the loop. */
	if (!(c->flags & C_PARSING) && c->in_len > 0)
		conn_schedule_kick(c);
	return KURIR_OK;
}

void
conn_discard_input(struct kurir_conn *c, const char *p, size_t len)
{
	char	esc[80];

	if (len == 0)
		return;
	log_escape(esc, sizeof(esc), p, len);
	conn_log(c, KURIR_LOG_NOTICE, "discarding %zu bytes of pipelined "
	    "plaintext before TLS: \"%s%s\"", len, esc,
	    len > 19 ? "..." : "");
}

int
conn_starttls(struct kurir_conn *c)
{
	if (conn_stopped(c) || (c->flags & C_CLOSING))
		return KURIR_E_INVALID;
	if (c->ssl != NULL || (c->flags & C_STARTTLS))
		return KURIR_E_INVALID;
	if (c->svc->tls == NULL)
		return KURIR_E_UNSUPPORTED;
	c->flags |= C_STARTTLS;
	c->flags &= ~C_DISCARD;
	c->data_left = 0;
	/* What is queued now goes out in plaintext; later writes wait for
	 * the handshake. */
	c->plain_left = c->out_bytes;
	/* The parser drops what follows the current line itself. */
	if (!(c->flags & C_PARSING) && c->in_len > 0) {
		conn_discard_input(c, c->in, c->in_len);
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
	}
	conn_schedule_flush(c);
	conn_update_io(c);
	return KURIR_OK;
}

int
conn_is_tls(struct kurir_conn *c)
{
	return (c->flags & C_TLS) != 0;
}

const char *
conn_tls_info(struct kurir_conn *c)
{
	static char	buf[128];

	if (!(c->flags & C_TLS) || c->ssl == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%s %s", SSL_get_version(c->ssl),
	    SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
	return buf;
}

int
conn_is_loopback(struct kurir_conn *c)
{
	return (c->flags & C_LOOPBACK) != 0;
}

const char *
conn_peer_addr(struct kurir_conn *c)
{
	return c->peer;
}

uint16_t
conn_peer_port(struct kurir_conn *c)
{
	return c->peer_port;
}

const char *
conn_local_addr(struct kurir_conn *c)
{
	return c->local;
}

uint16_t
conn_local_port(struct kurir_conn *c)
{
	return c->local_port;
}

const char *
conn_service(struct kurir_conn *c)
{
	return c->svc->name;
}

uint64_t
conn_id(struct kurir_conn *c)
{
	return c->id;
}

int
conn_plaintext_ok(struct kurir_conn *c)
{
	if (c->flags & C_TLS)
		return 1;
	return (c->flags & C_LOOPBACK) && conn_lim.allow_plaintext_loopback;
}

void
conn_log(struct kurir_conn *c, int level, const char *fmt, ...)
{
	char	prefix[160];
	va_list	ap;

	snprintf(prefix, sizeof(prefix), "%s[%016" PRIx64 "] %s:",
	    c->svc->name, c->id, c->peer);
	va_start(ap, fmt);
	log_msgv(level, prefix, fmt, ap);
	va_end(ap);
}
