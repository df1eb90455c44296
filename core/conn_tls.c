/*
 * conn_tls.c -- TLS on a connection: the non-blocking handshake (for
 * implicit-TLS services before on_connect, for STARTTLS before on_tls)
 * and SSL_read/SSL_write mapped onto the conn_io.c conventions.  A read
 * that wants the socket writable (or a write that wants it readable)
 * sets a flag so that conn_update_io() arms the other event.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "conn_private.h"
#include "log.h"

/* Logs what OpenSSL says went wrong and clears its error queue. */
static void
conn_tls_log(struct kurir_conn *c, const char *what, int e)
{
	unsigned long	err = ERR_get_error();
	char		buf[256];

	if (err != 0)
		ERR_error_string_n(err, buf, sizeof(buf));
	else if (e == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(buf, sizeof(buf), "%s", strerror(errno));
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(buf, sizeof(buf), "connection closed");
	else
		snprintf(buf, sizeof(buf), "SSL error %d", e);
	conn_log(c, KURIR_LOG_INFO, "%s: %s", what, buf);
	ERR_clear_error();
}

int
conn_tls_begin(struct kurir_conn *c)
{
	ERR_clear_error();
	if ((c->ssl = SSL_new(c->svc->tls)) == NULL ||
	    !SSL_set_fd(c->ssl, c->fd)) {
		conn_tls_log(c, "TLS setup", 0);
		return -1;
	}
	SSL_set_accept_state(c->ssl);
	c->flags |= C_HANDSHAKE;
	c->flags &= ~C_HS_WANTW;
	c->last_active = ev_now_ms();
	conn_timer_arm(c);
	conn_tls_handshake(c);
	return 0;
}

void
conn_tls_handshake(struct kurir_conn *c)
{
	const struct kurir_proto_ops	*ops = c->svc->ops;
	int				 r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->flags &= ~(C_HANDSHAKE | C_HS_WANTW | C_STARTTLS);
		c->flags |= C_TLS;
		c->last_active = ev_now_ms();
		conn_log(c, KURIR_LOG_INFO, "TLS established: %s",
		    conn_tls_info(c));
		if (!(c->flags & C_CONNECTED))
			conn_connected(c);
		else if (ops->on_tls != NULL)
			ops->on_tls(c->sess, 0);
		if (conn_stopped(c))
			return;
		conn_timer_arm(c);
		/* The client may have sent more with its Finished. */
		conn_schedule_kick(c);
		if (c->out_head != NULL)
			conn_schedule_flush(c);
		conn_update_io(c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (e == SSL_ERROR_WANT_WRITE)
			c->flags |= C_HS_WANTW;
		else
			c->flags &= ~C_HS_WANTW;
		conn_update_io(c);
		return;
	}
	conn_tls_log(c, "TLS handshake failed", e);
	if ((c->flags & C_CONNECTED) && ops->on_tls != NULL)
		ops->on_tls(c->sess, KURIR_E_PERMFAIL);
	conn_kill(c);
}

ssize_t
conn_tls_read(struct kurir_conn *c, char *buf, size_t len)
{
	int	n, e;

	ERR_clear_error();
	errno = 0;
	n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return -1;
	case SSL_ERROR_WANT_WRITE:
		c->flags |= C_SSL_RWANTW;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		conn_tls_log(c, "TLS read", e);
		return -2;
	}
}

ssize_t
conn_tls_write(struct kurir_conn *c, const char *buf, size_t len)
{
	int	n, e;

	ERR_clear_error();
	errno = 0;
	n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	switch (e) {
	case SSL_ERROR_WANT_WRITE:
		return -1;
	case SSL_ERROR_WANT_READ:
		c->flags |= C_SSL_WWANTR;
		return -1;
	default:
		conn_tls_log(c, "TLS write", e);
		return -2;
	}
}

/* One close_notify, best effort: the socket closes right after. */
void
conn_tls_close_notify(struct kurir_conn *c)
{
	if (c->ssl == NULL || !(c->flags & C_TLS) ||
	    (c->flags & C_TLS_CLOSED))
		return;
	c->flags |= C_TLS_CLOSED;
	ERR_clear_error();
	SSL_shutdown(c->ssl);
	ERR_clear_error();
}
