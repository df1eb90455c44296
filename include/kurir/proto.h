/*
 * kurir/proto.h -- what a protocol module (kind KURIR_MOD_PROTOCOL) gives
 * the core: the services it serves and the callbacks of a connection.
 *
 * Part of the stable ABI; see the rules at the top of kurir/module.h.
 *
 * The core owns sockets and TLS.  A module sees a connection only as a
 * struct kurir_conn handle and a session pointer of its own; it reads
 * lines (on_line) or exact byte counts (on_data) and writes through the
 * core's conn_* services.  All callbacks run on the worker's event loop.
 */
#ifndef KURIR_PROTO_H
#define KURIR_PROTO_H

#include <stdint.h>

#include <kurir/api.h>

struct kurir_service_desc {
	const char	*name;		/* "submissions": <name>_listen key */
	const char	*default_listen; /* embedded default "127.0.0.1:2465" */
	uint32_t	 implicit_tls;	/* 1: handshake before on_connect */
};

struct kurir_proto_ops {
	uint32_t	 size;		/* sizeof(struct kurir_proto_ops) */
	/* Services this module serves, ended by a {NULL} entry. */
	const struct kurir_service_desc *services;

	/* A client connected (after the handshake on implicit-TLS
	 * services).  Write the greeting, set *sess_r.  A negative return
	 * closes the connection at once. */
	int	 (*on_connect)(struct kurir_conn *c, void **sess_r);
	/* One input line, without its line ending, NUL-terminated at
	 * line[len] (it may contain NULs).  flags: KURIR_LINE_*. */
	void	 (*on_line)(void *sess, char *line, size_t len,
		    uint32_t flags);
	/* Bytes requested with conn_read_bytes(); remaining is what is
	 * still to come after this chunk (0: the read is complete). */
	void	 (*on_data)(void *sess, const char *buf, size_t len,
		    uint64_t remaining);
	/* The STARTTLS handshake finished: status 0 on success, negative
	 * otherwise (the core closes the connection after a failure). */
	void	 (*on_tls)(void *sess, int status);
	/* The output queue fell below its low mark (may be NULL). */
	void	 (*on_drain)(void *sess);
	/* Idle timeout: write a farewell if the protocol has one; the core
	 * closes the connection after the call. */
	void	 (*on_timeout)(void *sess);
	/* The server is stopping: say goodbye (IMAP BYE) and close, or
	 * finish the current transaction first (may be NULL). */
	void	 (*on_shutdown)(void *sess);
	/* The connection is gone: free the session.  The kurir_conn handle
	 * must not be used after this returns. */
	void	 (*on_close)(void *sess);
};

#endif /* KURIR_PROTO_H */
