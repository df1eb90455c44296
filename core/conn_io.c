/*
 * conn_io.c -- moving bytes: reading into the process's read buffer, the
 * bounded line reader and exact byte-count reads, and the output queue
 * with its high and low marks.
 *
 * Input is parsed straight from the read buffer; only what is left over
 * (a partial line, or lines held back by a pause) is copied into the
 * connection's own buffer, which is freed again once empty.  While that
 * buffer holds a partial line, reads are limited so that it never grows
 * past max_line + 2 bytes (the line and its CR LF).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn_private.h"
#include "log.h"

#define CONN_CHUNK	4000	/* output chunk payload */
#define CONN_IOV	64
#define CONN_READS	16	/* reads per event, for fairness */

/* ---- output -------------------------------------------------------- */

void
conn_out_free(struct kurir_conn *c)
{
	struct conn_chunk	*ch, *next;

	for (ch = c->out_head; ch != NULL; ch = next) {
		next = ch->next;
		free(ch);
	}
	c->out_head = c->out_tail = NULL;
	c->out_bytes = 0;
}

int
conn_write(struct kurir_conn *c, const void *buf, size_t len)
{
	struct conn_chunk	*ch;
	const char		*p = buf;
	size_t			 n, cap;

	if (c->flags & (C_CLOSING | C_DEAD | C_FINALIZED))
		return KURIR_E_INVALID;
	if (len == 0)
		return KURIR_OK;
	if (len > conn_lim.out_max || c->out_bytes > conn_lim.out_max - len) {
		conn_log(c, KURIR_LOG_WARNING, "output queue over "
		    "output_buffer_max (%zu bytes): closing", conn_lim.out_max);
		conn_kill(c);
		return KURIR_E_TOOBIG;
	}
	/* Fill the last chunk first, then one new chunk for the rest. */
	if ((ch = c->out_tail) != NULL && ch->cap > ch->len) {
		n = ch->cap - ch->len;
		if (n > len)
			n = len;
		memcpy(ch->data + ch->len, p, n);
		ch->len += n;
		p += n;
		len -= n;
		c->out_bytes += n;
	}
	if (len > 0) {
		cap = len > CONN_CHUNK ? len : CONN_CHUNK;
		if ((ch = malloc(sizeof(*ch) + cap)) == NULL) {
			conn_log(c, KURIR_LOG_WARNING, "out of memory");
			conn_kill(c);
			return KURIR_E_NOMEM;
		}
		ch->next = NULL;
		ch->off = 0;
		ch->len = len;
		ch->cap = cap;
		memcpy(ch->data, p, len);
		if (c->out_tail != NULL)
			c->out_tail->next = ch;
		else
			c->out_head = ch;
		c->out_tail = ch;
		c->out_bytes += len;
	}
	if (c->out_bytes >= conn_lim.out_high)
		c->flags |= C_ABOVE_HIGH;
	conn_schedule_flush(c);
	return KURIR_OK;
}

int
conn_printf(struct kurir_conn *c, const char *fmt, ...)
{
	char	 buf[512], *big;
	va_list	 ap;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return KURIR_E_INVALID;
	if ((size_t)n < sizeof(buf))
		return conn_write(c, buf, (size_t)n);
	if ((big = malloc((size_t)n + 1)) == NULL)
		return KURIR_E_NOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = conn_write(c, big, (size_t)n);
	free(big);
	return rc;
}

/* False from crossing the high mark until on_drain (below the low). */
int
conn_writable(struct kurir_conn *c)
{
	if (c->flags & (C_CLOSING | C_DEAD | C_FINALIZED | C_ABOVE_HIGH))
		return 0;
	return c->out_bytes < conn_lim.out_high;
}

/* Drops n sent bytes from the head of the queue. */
static void
conn_out_consume(struct kurir_conn *c, size_t n)
{
	struct conn_chunk	*ch;
	size_t			 k;

	c->out_bytes -= n;
	while (n > 0 && (ch = c->out_head) != NULL) {
		k = ch->len - ch->off;
		if (k > n) {
			ch->off += n;
			return;
		}
		n -= k;
		c->out_head = ch->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		free(ch);
	}
}

/* >0 sent, -1 would block, -2 error. */
static ssize_t
conn_plain_write(struct kurir_conn *c, size_t limit)
{
	struct iovec		 iov[CONN_IOV];
	struct msghdr		 msg;
	struct conn_chunk	*ch;
	ssize_t			 n;
	int			 i = 0;

	for (ch = c->out_head; ch != NULL && i < CONN_IOV && limit > 0;
	    ch = ch->next) {
		iov[i].iov_base = ch->data + ch->off;
		iov[i].iov_len = ch->len - ch->off;
		if (iov[i].iov_len > limit)
			iov[i].iov_len = limit;
		limit -= iov[i].iov_len;
		i++;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = i;
	n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1 && errno == ENOTSOCK)
		n = writev(c->fd, iov, i);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -1;
	conn_log(c, KURIR_LOG_INFO, "write: %s", strerror(errno));
	return -2;
}

/*
 * Writes what the queue holds until the socket is full.  Afterwards: the
 * low mark gives on_drain and lets input flow again; an empty queue ends
 * a closing connection; after STARTTLS, once what was queued before it
 * is out, the handshake starts (later output waits for TLS).
 */
void
conn_flush(struct kurir_conn *c)
{
	const struct kurir_proto_ops	*ops = c->svc->ops;
	struct conn_chunk		*ch;
	ssize_t				 n;

	if (conn_stopped(c) || (c->flags & C_HANDSHAKE))
		return;
	c->flags &= ~(C_WBLOCKED | C_SSL_WWANTR);
	while ((ch = c->out_head) != NULL) {
		if (c->ssl != NULL)
			n = conn_tls_write(c, ch->data + ch->off,
			    ch->len - ch->off);
		else if (c->flags & C_STARTTLS) {
			if (c->plain_left == 0)
				break;
			n = conn_plain_write(c, c->plain_left);
			if (n > 0)
				c->plain_left -= (size_t)n;
		} else
			n = conn_plain_write(c, SIZE_MAX);
		if (n == -2) {
			conn_kill(c);
			return;
		}
		if (n <= 0) {
			if (!(c->flags & C_SSL_WWANTR))
				c->flags |= C_WBLOCKED;
			break;
		}
		conn_out_consume(c, (size_t)n);
		c->last_active = ev_now_ms();
	}
	if ((c->flags & C_ABOVE_HIGH) && c->out_bytes < conn_lim.out_low) {
		c->flags &= ~C_ABOVE_HIGH;
		if ((c->flags & (C_CONNECTED | C_CLOSING)) == C_CONNECTED &&
		    ops->on_drain != NULL) {
			ops->on_drain(c->sess);
			if (conn_stopped(c))
				return;
		}
		conn_schedule_kick(c);
	}
	if (c->flags & C_CLOSING) {
		if (c->out_head == NULL) {
			conn_tls_close_notify(c);
			conn_kill(c);
		}
	} else if ((c->flags & C_STARTTLS) && c->ssl == NULL &&
	    c->plain_left == 0) {
		if (conn_tls_begin(c) == -1)
			conn_kill(c);
	}
}

/* ---- input --------------------------------------------------------- */

static void
conn_deliver_line(struct kurir_conn *c, char *line, size_t len,
    uint32_t flags)
{
	line[len] = '\0';
	c->svc->ops->on_line(c->sess, line, len, flags);
}

/*
 * Feeds p[0..len) to the module until the connection stops taking input;
 * returns how many bytes were used.  After STARTTLS the rest is
 * discarded: a command pipelined behind it must never run under TLS.
 */
static size_t
conn_parse(struct kurir_conn *c, char *p, size_t len)
{
	const struct kurir_proto_ops	*ops = c->svc->ops;
	size_t				 off = 0, l, chunk;
	size_t				 max = conn_lim.max_line;
	uint32_t			 fl;
	char				*lf;

	c->flags |= C_PARSING;
	while (off < len && !(c->flags & C_NOINPUT)) {
		if (c->data_left > 0) {
			chunk = len - off;
			if (chunk > c->data_left)
				chunk = c->data_left;
			c->data_left -= chunk;
			ops->on_data(c->sess, p + off, chunk, c->data_left);
			off += chunk;
			continue;
		}
		lf = memchr(p + off, '\n', len - off);
		if (c->flags & C_DISCARD) {
			if (lf == NULL) {
				off = len;
				break;
			}
			c->flags &= ~C_DISCARD;
			off = (size_t)(lf - p) + 1;
			continue;
		}
		if (lf == NULL) {
			/* Without LF, more than max + CR LF cannot be a
			 * line: say so now and drop the rest of it. */
			if (len - off >= max + 2) {
				c->flags |= C_DISCARD;
				l = off;
				off = len;
				conn_deliver_line(c, p + l, max,
				    KURIR_LINE_TOOLONG);
			}
			break;
		}
		l = (size_t)(lf - (p + off));
		fl = KURIR_LINE_LF;
		if (l > 0 && p[off + l - 1] == '\r') {
			l--;
			fl = KURIR_LINE_CRLF;
		}
		if (l > max) {
			/* Like the no-LF case, whatever the split. */
			l = max;
			fl = KURIR_LINE_TOOLONG;
		}
		chunk = off;
		off = (size_t)(lf - p) + 1;
		conn_deliver_line(c, p + chunk, l, fl);
	}
	c->flags &= ~C_PARSING;
	if ((c->flags & C_STARTTLS) && !conn_stopped(c) && off < len) {
		conn_discard_input(c, p + off, len - off);
		off = len;
	}
	return off;
}

/* Keeps p[off..len) (p may be c->in itself) as the buffered input. */
static void
conn_keep(struct kurir_conn *c, const char *p, size_t off, size_t len)
{
	size_t	rest = len - off;
	char	*n;

	if (rest == 0 || conn_stopped(c)) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		return;
	}
	if (p == c->in) {
		memmove(c->in, c->in + off, rest);
		c->in_len = rest;
		return;
	}
	if ((n = malloc(rest)) == NULL) {
		conn_log(c, KURIR_LOG_WARNING, "out of memory");
		conn_kill(c);
		return;
	}
	memcpy(n, p + off, rest);
	c->in = n;
	c->in_len = c->in_cap = rest;
}

/* New bytes from the peer (in conn_rbuf). */
static void
conn_input(struct kurir_conn *c, char *buf, size_t n)
{
	size_t	need, cap, off;
	char	*nb;

	if (c->in_len == 0) {
		off = conn_parse(c, buf, n);
		conn_keep(c, buf, off, n);
		return;
	}
	need = c->in_len + n;
	if (need > c->in_cap) {
		cap = c->in_cap * 2;
		if (cap < need)
			cap = need;
		if (cap > conn_lim.max_line + 2 && need <= conn_lim.max_line + 2)
			cap = conn_lim.max_line + 2;
		if ((nb = realloc(c->in, cap)) == NULL) {
			conn_log(c, KURIR_LOG_WARNING, "out of memory");
			conn_kill(c);
			return;
		}
		c->in = nb;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, buf, n);
	c->in_len = need;
	off = conn_parse(c, c->in, c->in_len);
	conn_keep(c, c->in, off, c->in_len);
}

/* Delivers what was held back by a pause, a full output queue or a
 * conn_read_bytes() made outside the parser. */
void
conn_parse_buffered(struct kurir_conn *c)
{
	size_t	off;

	if (c->in_len == 0 || (c->flags & C_NOINPUT))
		return;
	off = conn_parse(c, c->in, c->in_len);
	conn_keep(c, c->in, off, c->in_len);
}

static void
conn_eof(struct kurir_conn *c)
{
	c->flags |= C_EOF;
	if (c->in_len > 0)
		conn_log(c, KURIR_LOG_DEBUG, "EOF after %u bytes of an "
		    "unfinished line", c->in_len);
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	/* The peer may still read: flush the replies, then close. */
	conn_close(c);
}

/* >0 read, 0 EOF, -1 would block, -2 error. */
static ssize_t
conn_plain_read(struct kurir_conn *c, char *buf, size_t len)
{
	ssize_t	n;

	n = read(c->fd, buf, len);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -1;
	if (errno == ECONNRESET)
		conn_log(c, KURIR_LOG_DEBUG, "read: %s", strerror(errno));
	else
		conn_log(c, KURIR_LOG_INFO, "read: %s", strerror(errno));
	return -2;
}

void
conn_do_read(struct kurir_conn *c)
{
	size_t	room;
	ssize_t	n;
	int	i;

	if (c->in_len > 0)
		conn_parse_buffered(c);
	c->flags &= ~C_SSL_RWANTW;
	for (i = 0; i < CONN_READS; i++) {
		if (c->flags & (C_NOINPUT | C_EOF))
			return;
		room = sizeof(conn_rbuf);
		/* What is buffered now is a partial line: bound it. */
		if (c->in_len > 0 && c->data_left == 0 &&
		    !(c->flags & C_DISCARD)) {
			if (c->in_len >= conn_lim.max_line + 2)
				return;	/* cannot happen: parse said so */
			if (room > conn_lim.max_line + 2 - c->in_len)
				room = conn_lim.max_line + 2 - c->in_len;
		}
		if (c->ssl != NULL)
			n = conn_tls_read(c, conn_rbuf, room);
		else
			n = conn_plain_read(c, conn_rbuf, room);
		if (n == -1)
			return;
		if (n == -2) {
			conn_kill(c);
			return;
		}
		if (n == 0) {
			conn_eof(c);
			return;
		}
		c->last_active = ev_now_ms();
		conn_input(c, conn_rbuf, (size_t)n);
		if (c->ssl == NULL && (size_t)n < room)
			return;	/* the socket is empty now */
	}
	/* Out of turns: records OpenSSL holds give no epoll event. */
	if (c->ssl != NULL && SSL_has_pending(c->ssl))
		conn_schedule_kick(c);
}

void
conn_io_ready(int fd, uint32_t revents, void *arg)
{
	struct kurir_conn	*c = arg;

	if (conn_stopped(c))
		return;
	if (c->flags & C_HANDSHAKE) {
		conn_tls_handshake(c);
	} else {
		if ((revents & EV_WRITE) ||
		    ((revents & EV_READ) && (c->flags & C_SSL_WWANTR)))
			conn_flush(c);
		if (!conn_stopped(c) && ((revents & EV_READ) ||
		    ((revents & EV_WRITE) && (c->flags & C_SSL_RWANTW))))
			conn_do_read(c);
	}
	if (!conn_stopped(c))
		conn_update_io(c);
}
