/*
 * conn.h -- client connections (core-private side).  conn.c implements the
 * conn_* services of struct kurir_core_api with the same names and
 * signatures (see kurir/api.h); this header adds what the worker needs to
 * create, count and stop connections.
 */
#ifndef KURIR_CORE_CONN_H
#define KURIR_CORE_CONN_H

#include <sys/socket.h>
#include <openssl/ssl.h>

#include <kurir/api.h>
#include <kurir/proto.h>

/* A listening service as the worker sees it. */
struct conn_service {
	const char			*name;	/* "imaps" */
	const struct kurir_proto_ops	*ops;
	SSL_CTX				*tls;	/* NULL: no TLS configured */
	int				 implicit_tls;
};

/* Limits, read from config when the worker starts (config keys). */
struct conn_limits {
	size_t		max_line;	/* max_line_length */
	size_t		out_high;	/* output_high_water */
	size_t		out_low;	/* output_low_water */
	size_t		out_max;	/* output_buffer_max: then close */
	uint32_t	idle_timeout;	/* idle_timeout, seconds */
	uint32_t	tls_handshake_timeout;
	int		allow_plaintext_loopback;
};
void	 conn_set_limits(const struct conn_limits *lim);

/* Take ownership of an accepted, connected fd. */
struct kurir_conn *conn_new(int fd, const struct conn_service *svc);
/* Live connections in this process. */
size_t	 conn_count(void);
/* Tell every connection the server is stopping (on_shutdown, or close
 * when the module has none). */
void	 conn_shutdown_all(void);
/* Close every connection now (end of the grace time). */
void	 conn_close_all(void);

/* The services of kurir/api.h (same signatures). */
int	 conn_write(struct kurir_conn *c, const void *buf, size_t len);
int	 conn_printf(struct kurir_conn *c, const char *fmt, ...)
	    KURIR_PRINTF(2, 3);
int	 conn_writable(struct kurir_conn *c);
int	 conn_read_bytes(struct kurir_conn *c, uint64_t n);
void	 conn_pause(struct kurir_conn *c);
void	 conn_resume(struct kurir_conn *c);
int	 conn_starttls(struct kurir_conn *c);
void	 conn_close(struct kurir_conn *c);
void	 conn_set_timeout(struct kurir_conn *c, uint32_t seconds);
int	 conn_is_tls(struct kurir_conn *c);
const char *conn_tls_info(struct kurir_conn *c);
int	 conn_is_loopback(struct kurir_conn *c);
const char *conn_peer_addr(struct kurir_conn *c);
uint16_t conn_peer_port(struct kurir_conn *c);
const char *conn_local_addr(struct kurir_conn *c);
uint16_t conn_local_port(struct kurir_conn *c);
const char *conn_service(struct kurir_conn *c);
uint64_t conn_id(struct kurir_conn *c);
int	 conn_plaintext_ok(struct kurir_conn *c);
void	 conn_log(struct kurir_conn *c, int level, const char *fmt, ...)
	    KURIR_PRINTF(3, 4);

#endif
