/*
 * net_harness.h -- a tiny protocol module for the connection tests.  It
 * records every callback in a transcript the tests compare against, and
 * obeys a few commands:
 *
 *   ECHO x      reply "x"
 *   LIT n       the next n bytes come through on_data
 *   PAUSE       conn_pause (the test resumes)
 *   STARTTLS    reply "OK go", then conn_starttls (its result is logged)
 *   STARTTLS+   the same, then write "SECRET" (must go out under TLS)
 *   FLOOD n     write n bytes at once, ignoring conn_writable (a bad module)
 *   STREAM n    write n bytes while conn_writable, the rest from on_drain
 *   QUIT        reply "BYE", conn_close
 */
#ifndef NET_HARNESS_H
#define NET_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct tsess {
	struct kurir_conn	*c;
	char			 tr[65536];	/* transcript */
	size_t			 trlen;
	size_t			 lines;
	size_t			 data_bytes;
	int			 connected;
	int			 closed;
	int			 drains;
	int			 timeouts;
	int			 shutdowns;
	int			 tls_status;	/* 1: not called yet */
	int			 starttls_rc;
	uint64_t		 stream_left;
	size_t			 max_out;	/* highest out queue seen */
	int			 last_write_rc;
	int			 refuse;	/* on_connect returns -1 */
	int			 close_at_once;	/* on_connect closes */
};

extern struct tsess		 ts;		/* the one session under test */
extern struct conn_service	 t_svc;		/* plaintext */
extern struct conn_service	 t_svc_tls;	/* STARTTLS available */
extern struct conn_service	 t_svc_itls;	/* implicit TLS */

void	 t_reset(void);
void	 t_limits(size_t max_line, size_t high, size_t low, size_t max,
	    uint32_t idle);
/* A connected socketpair; the server end is handed to conn_new(). */
struct kurir_conn *t_conn(const struct conn_service *svc, int *client_r);
/* Runs the loop until cond() is true or ms have passed; returns cond(). */
int	 t_pump(int (*cond)(void), int ms);
/* Runs the loop for ms. */
void	 t_spin(int ms);
int	 t_closed(void);
void	 t_send(int fd, const void *buf, size_t len);
/* Reads whatever is there within ms into buf; returns bytes (-1: EOF
 * before anything). */
ssize_t	 t_recv(int fd, char *buf, size_t cap, int ms);
int	 t_contains(const char *needle);
/* Private TLS material in a fresh temp dir. */
SSL_CTX	*t_tls_ctx(char *cert, size_t certlen);

#endif
