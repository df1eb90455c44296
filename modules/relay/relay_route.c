/*
 * relay_route.c -- static routes (the core key relay_routes):
 *
 *	DOMAIN=HOST:PORT[;tls=none|opportunistic|verify][;auth=USER:PASS]
 *	*=HOST:PORT...		(smarthost for every other domain)
 *
 * separated by commas or spaces.  HOST may be [IPv6]:PORT.  A route's
 * tls overrides outbound_tls; auth makes the client log in (AUTH PLAIN,
 * only after TLS unless the route says tls=none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay.h"

static int
parse_opts(char *opts, struct relay_hop *h)
{
	char	*o, *save, *colon;

	for (o = strtok_r(opts, ";", &save); o != NULL;
	    o = strtok_r(NULL, ";", &save)) {
		if (strcasecmp(o, "tls=none") == 0)
			h->tls = RELAY_TLS_NONE;
		else if (strcasecmp(o, "tls=opportunistic") == 0)
			h->tls = RELAY_TLS_OPPORTUNISTIC;
		else if (strcasecmp(o, "tls=verify") == 0)
			h->tls = RELAY_TLS_VERIFY;
		else if (strncasecmp(o, "auth=", 5) == 0 &&
		    (colon = strchr(o + 5, ':')) != NULL) {
			*colon = '\0';
			snprintf(h->auth_user, sizeof(h->auth_user), "%s",
			    o + 5);
			snprintf(h->auth_pass, sizeof(h->auth_pass), "%s",
			    colon + 1);
		} else
			return -1;
	}
	return 0;
}

static int
parse_route(char *target, struct relay_hop *h)
{
	char		*opts, *port, *end;
	unsigned long	 p;

	memset(h, 0, sizeof(*h));
	h->tls = relay_conf.tls;
	if ((opts = strchr(target, ';')) != NULL)
		*opts++ = '\0';
	if (*target == '[') {
		if ((end = strchr(target, ']')) == NULL || end[1] != ':')
			return -1;
		*end = '\0';
		target++;
		port = end + 2;
	} else {
		if ((port = strrchr(target, ':')) == NULL)
			return -1;
		*port++ = '\0';
	}
	p = strtoul(port, &end, 10);
	if (*target == '\0' || *end != '\0' || p == 0 || p > 65535)
		return -1;
	snprintf(h->host, sizeof(h->host), "%s", target);
	h->port = (uint16_t)p;
	return opts != NULL ? parse_opts(opts, h) : 0;
}

int
relay_route_find(const char *routes, const char *domain,
    struct relay_hop *hop_r)
{
	char	*copy, *item, *save, *eq, *star = NULL;
	int	 rc = 0;

	if (routes == NULL || *routes == '\0')
		return 0;
	if ((copy = strdup(routes)) == NULL)
		return -1;
	for (item = strtok_r(copy, ", \t", &save); item != NULL;
	    item = strtok_r(NULL, ", \t", &save)) {
		if ((eq = strchr(item, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcasecmp(item, domain) == 0) {
			rc = parse_route(eq + 1, hop_r) == 0 ? 1 : -1;
			break;
		}
		if (strcmp(item, "*") == 0 && star == NULL)
			star = eq + 1;
	}
	if (rc == 0 && star != NULL)
		rc = parse_route(star, hop_r) == 0 ? 1 : -1;
	free(copy);
	return rc;
}
