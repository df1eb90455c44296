/*
 * listen.c -- the listening sockets.  The master binds them once (it may
 * be root for ports below 1024); workers inherit them and accept on them.
 * A reload keeps a socket whose service and address did not change, so
 * no connection is refused while new workers start.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

#define LISTEN_BACKLOG	1024

/* Splits "host:port", "[v6]:port" or "*:port" into host and port. */
static int
split_hostport(const char *spec, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*colon, *h = spec;
	size_t		 hl;

	if (*spec == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = spec + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - spec);
	}
	if (hl == 0 || hl >= hostlen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= portlen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	if (atoi(port) < 1 || atoi(port) > 65535)
		return -1;
	return 0;
}

static int
listen_add(struct listen_set *ls, const char *service, const char *spec,
    char *err, size_t errlen)
{
	struct listener	*n;

	n = reallocarray(ls->l, ls->n + 1, sizeof(*n));
	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ls->l = n;
	memset(&ls->l[ls->n], 0, sizeof(ls->l[0]));
	snprintf(ls->l[ls->n].service, sizeof(ls->l[0].service), "%s",
	    service);
	snprintf(ls->l[ls->n].spec, sizeof(ls->l[0].spec), "%s", spec);
	ls->l[ls->n].fd = -1;
	ls->l[ls->n].from = -1;
	ls->n++;
	return 0;
}

int
listen_parse(struct listen_set *ls, const char *service, const char *value,
    const char *origin, char *err, size_t errlen)
{
	char	*copy, *word, *save = NULL, host[256], port[8];
	int	 rc = 0;

	if ((copy = strdup(value)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (word = strtok_r(copy, " ,\t", &save); word != NULL;
	    word = strtok_r(NULL, " ,\t", &save)) {
		if (split_hostport(word, host, sizeof(host), port,
		    sizeof(port)) == -1) {
			snprintf(err, errlen, "%s: %s_listen: bad address "
			    "'%s' (expected HOST:PORT or [V6]:PORT)", origin,
			    service, word);
			rc = -1;
			break;
		}
		if (strcmp(host, "*") == 0) {
			snprintf(host, sizeof(host), "0.0.0.0:%s", port);
			if ((rc = listen_add(ls, service, host, err,
			    errlen)) == -1)
				break;
			snprintf(host, sizeof(host), "[::]:%s", port);
			if ((rc = listen_add(ls, service, host, err,
			    errlen)) == -1)
				break;
		} else if ((rc = listen_add(ls, service, word, err,
		    errlen)) == -1)
			break;
	}
	free(copy);
	return rc;
}

static int
bind_one(struct listener *l, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[256], port[8];
	int		 fd = -1, on = 1, gai;

	if (split_hostport(l->spec, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(err, errlen, "%s: bad address", l->spec);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s_listen %s: %s", l->service, l->spec,
		    gai_strerror(gai));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	freeaddrinfo(res);
	l->fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "%s_listen %s: %s", l->service, l->spec,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

int
listen_bind(struct listen_set *ls, struct listen_set *old, char *err,
    size_t errlen)
{
	size_t	i, j;

	for (i = 0; i < ls->n; i++) {
		if (ls->l[i].fd != -1)
			continue;
		/* Reuse the old socket for the same service and address. */
		for (j = 0; old != NULL && j < old->n; j++)
			if (old->l[j].fd != -1 &&
			    strcmp(old->l[j].service, ls->l[i].service) == 0 &&
			    strcmp(old->l[j].spec, ls->l[i].spec) == 0) {
				ls->l[i].fd = old->l[j].fd;
				ls->l[i].from = (int)j;
				old->l[j].fd = -1;
				break;
			}
		if (ls->l[i].fd == -1 && bind_one(&ls->l[i], err, errlen) == -1)
			goto undo;
	}
	return 0;
undo:
	/* Leave `old` as it was: a failed reload keeps serving. */
	for (i = 0; i < ls->n; i++) {
		if (ls->l[i].fd == -1)
			continue;
		if (ls->l[i].from >= 0)
			old->l[ls->l[i].from].fd = ls->l[i].fd;
		else
			close(ls->l[i].fd);
		ls->l[i].fd = -1;
	}
	return -1;
}

void
listen_close(struct listen_set *ls)
{
	size_t	i;

	for (i = 0; i < ls->n; i++)
		if (ls->l[i].fd != -1) {
			close(ls->l[i].fd);
			ls->l[i].fd = -1;
		}
}

void
listen_free(struct listen_set *ls)
{
	listen_close(ls);
	free(ls->l);
	ls->l = NULL;
	ls->n = 0;
}
