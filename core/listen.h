/*
 * listen.h -- listening sockets per service, bound by the master.
 */
#ifndef KURIR_CORE_LISTEN_H
#define KURIR_CORE_LISTEN_H

#include <stddef.h>

struct listener {
	char	service[32];	/* "imaps" */
	char	spec[96];	/* "127.0.0.1:2993", "[::1]:2993" */
	int	fd;		/* -1 until bound */
	int	from;		/* index of the reused old socket, or -1 */
};

struct listen_set {
	struct listener	*l;
	size_t		 n;
};

/* Adds the addresses of one `<service>_listen` value (space or comma
 * separated; "*:PORT" means every IPv4 and IPv6 address; empty: none). */
int	listen_parse(struct listen_set *ls, const char *service,
	    const char *value, const char *origin, char *err, size_t errlen);
/* Binds every unbound listener, taking over sockets from `old` (may be
 * NULL) with the same service and address.  On failure nothing changes. */
int	listen_bind(struct listen_set *ls, struct listen_set *old, char *err,
	    size_t errlen);
void	listen_close(struct listen_set *ls);
void	listen_free(struct listen_set *ls);

#endif
