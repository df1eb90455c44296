/*
 * conn_private.h -- struct kurir_conn and what conn.c, conn_io.c and
 * conn_tls.c share.  Nothing outside those files includes it.
 *
 * Memory: an idle connection holds only this struct (a few hundred
 * bytes), its ev_io and ev_timer; the input buffer exists only while
 * unparsed bytes wait, output chunks are freed as they are sent, and an
 * idle SSL object has released its record buffers.
 *
 * Closing never frees inside a module callback: conn_kill() marks the
 * connection dead and a deferred call finalizes it (on_close, free), so
 * code that ran a callback only has to check conn_stopped() afterwards.
 */
#ifndef KURIR_CORE_CONN_PRIVATE_H
#define KURIR_CORE_CONN_PRIVATE_H

#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/queue.h>

#include "conn.h"
#include "ev.h"

/* flags */
#define C_CONNECTED	0x00000001u	/* on_connect succeeded: sess valid */
#define C_PAUSED	0x00000002u	/* conn_pause */
#define C_CLOSING	0x00000004u	/* conn_close: flush, then finalize */
#define C_DEAD		0x00000008u	/* finalize is pending */
#define C_FINALIZED	0x00000010u	/* on_close done, fd closed */
#define C_EOF		0x00000020u	/* the peer sent EOF */
#define C_DISCARD	0x00000040u	/* dropping an overlong line's rest */
#define C_ABOVE_HIGH	0x00000080u	/* output went over the high mark */
#define C_TLS		0x00000100u	/* TLS established */
#define C_HANDSHAKE	0x00000200u	/* TLS handshake in progress */
#define C_STARTTLS	0x00000400u	/* conn_starttls: flush, then TLS */
#define C_PARSING	0x00000800u	/* conn_parse() is running */
#define C_FLUSHQ	0x00001000u	/* on the flush list */
#define C_WBLOCKED	0x00002000u	/* a write would block: EV_WRITE */
#define C_SSL_RWANTW	0x00004000u	/* SSL_read wants the fd writable */
#define C_SSL_WWANTR	0x00008000u	/* SSL_write wants it readable */
#define C_HS_WANTW	0x00010000u	/* the handshake wants writable */
#define C_KICKQ		0x00020000u	/* a deferred conn_kick is pending */
#define C_SHUTDOWN	0x00040000u	/* told that the server stops */
#define C_LOOPBACK	0x00080000u	/* peer on 127/8, ::1 or AF_UNIX */
#define C_TLS_CLOSED	0x00100000u	/* close_notify sent */

/* Any of these: no input is parsed or read. */
#define C_NOINPUT	(C_PAUSED | C_CLOSING | C_DEAD | C_FINALIZED | \
			 C_ABOVE_HIGH | C_HANDSHAKE | C_STARTTLS)

#define CONN_ADDRLEN	INET6_ADDRSTRLEN

struct conn_chunk {
	struct conn_chunk	*next;
	uint32_t		 off;		/* sent so far */
	uint32_t		 len;		/* queued */
	uint32_t		 cap;
	char			 data[];
};

struct kurir_conn {
	TAILQ_ENTRY(kurir_conn)	 entry;		/* conn_all */
	TAILQ_ENTRY(kurir_conn)	 fentry;	/* the flush list */
	const struct conn_service *svc;
	void			*sess;
	struct ev_io		*io;
	struct ev_timer		*timer;
	SSL			*ssl;
	char			*in;		/* unparsed input or NULL */
	uint32_t		 in_len, in_cap;
	uint64_t		 data_left;	/* conn_read_bytes() */
	struct conn_chunk	*out_head, *out_tail;
	size_t			 out_bytes;
	size_t			 plain_left;	/* STARTTLS: to send before TLS */
	uint64_t		 id;
	uint64_t		 last_active;	/* ms; start of a phase */
	uint64_t		 timer_when;	/* what c->timer is set for */
	uint32_t		 timeout;	/* s; 0: limits.idle_timeout */
	uint32_t		 flags;
	int			 fd;
	int			 refs;		/* 1 alive + pending defers */
	uint16_t		 peer_port, local_port;
	char			 peer[CONN_ADDRLEN];
	char			 local[CONN_ADDRLEN];
};

TAILQ_HEAD(conn_list, kurir_conn);

extern struct conn_limits	conn_lim;
/* One read buffer for the whole process (one loop, one thread). */
#define CONN_RBUF_SIZE	16384
extern char			conn_rbuf[CONN_RBUF_SIZE];

/* conn.c */
int	 conn_stopped(struct kurir_conn *c);
void	 conn_kill(struct kurir_conn *c);
void	 conn_unref(struct kurir_conn *c);
void	 conn_schedule_kick(struct kurir_conn *c);
void	 conn_schedule_flush(struct kurir_conn *c);
void	 conn_update_io(struct kurir_conn *c);
void	 conn_timer_arm(struct kurir_conn *c);
void	 conn_connected(struct kurir_conn *c);
void	 conn_discard_input(struct kurir_conn *c, const char *p,
	    size_t len);

/* conn_io.c */
void	 conn_io_ready(int fd, uint32_t revents, void *arg);
void	 conn_flush(struct kurir_conn *c);
void	 conn_do_read(struct kurir_conn *c);
void	 conn_parse_buffered(struct kurir_conn *c);
void	 conn_out_free(struct kurir_conn *c);

/* conn_tls.c */
int	 conn_tls_begin(struct kurir_conn *c);
void	 conn_tls_handshake(struct kurir_conn *c);
ssize_t	 conn_tls_read(struct kurir_conn *c, char *buf, size_t len);
ssize_t	 conn_tls_write(struct kurir_conn *c, const char *buf, size_t len);
void	 conn_tls_close_notify(struct kurir_conn *c);

#endif
