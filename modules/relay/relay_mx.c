/*
 * relay_mx.c -- next hops of a domain, RFC 5321 section 5.1.
 *
 * DNS: res_nquery() from libresolv, called on the relay's own delivery
 * threads (relay.h), where blocking is harmless.  c-ares would add a
 * dependency and a second event source on the loop for no gain here; a
 * resolver process would need its own IPC.  res_ninit gives each call
 * its own resolver state, so threads do not share any.
 *
 * Tests replace DNS with a stub file (dns_stub): lines "name TYPE value"
 * with TYPE MX ("10 mx.example.net", "0 ." for a null MX), A, AAAA,
 * NXDOMAIN or TEMPFAIL (no value).  A name without lines does not exist.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay.h"

#define Q_OK		0
#define Q_NXDOMAIN	1
#define Q_NODATA	2
#define Q_TEMPFAIL	3

struct mx {
	char	 host[RELAY_HOST_MAX + 1];
	unsigned pref;
	unsigned rnd;
};

static unsigned
rnd(void)
{
	static __thread unsigned	seed;

	if (seed == 0)
		seed = (unsigned)(uintptr_t)&seed ^ (unsigned)random();
	return (unsigned)rand_r(&seed);
}

static void
trim_dot(char *s)
{
	size_t	n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/* Look name/type up in the stub file: calls add() per value. */
static int
stub_query(const char *stub, const char *name, const char *type,
    int (*add)(void *, const char *), void *arg)
{
	char	 line[1024], *n, *t, *v, *save;
	FILE	*fp;
	int	 seen = 0, temp = 0, nx = 0, any = 0;

	if ((fp = fopen(stub, "re")) == NULL)
		return Q_TEMPFAIL;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((n = strtok_r(line, " \t", &save)) == NULL || *n == '#')
			continue;
		t = strtok_r(NULL, " \t", &save);
		v = strtok_r(NULL, "", &save);
		trim_dot(n);
		if (strcasecmp(n, name) != 0 || t == NULL)
			continue;
		any = 1;
		if (strcasecmp(t, "TEMPFAIL") == 0)
			temp = 1;
		else if (strcasecmp(t, "NXDOMAIN") == 0)
			nx = 1;
		else if (strcasecmp(t, type) == 0 && v != NULL) {
			while (isspace((unsigned char)*v))
				v++;
			if (add(arg, v) == 0)
				seen = 1;
		}
	}
	fclose(fp);
	if (temp)
		return Q_TEMPFAIL;
	if (nx || !any)
		return Q_NXDOMAIN;
	return seen ? Q_OK : Q_NODATA;
}

struct mxlist {
	struct mx	*mx;
	size_t		 n, cap;
};

static int
mx_add(void *arg, const char *value)
{
	struct mxlist	*l = arg;
	char		*end;
	unsigned long	 pref;

	pref = strtoul(value, &end, 10);
	if (end == value || !isspace((unsigned char)*end) || pref > 65535 ||
	    l->n == l->cap)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	snprintf(l->mx[l->n].host, sizeof(l->mx[0].host), "%.255s", end);
	l->mx[l->n].host[strcspn(l->mx[l->n].host, " \t")] = '\0';
	if (strcmp(l->mx[l->n].host, ".") != 0)
		trim_dot(l->mx[l->n].host);
	l->mx[l->n].pref = (unsigned)pref;
	l->n++;
	return 0;
}

static int
dns_rcode(res_state st)
{
	switch (st->res_h_errno) {
	case HOST_NOT_FOUND:
		return Q_NXDOMAIN;
	case NO_DATA:
		return Q_NODATA;
	default:
		return Q_TEMPFAIL;
	}
}

static int
dns_query_mx(const char *domain, struct mxlist *l)
{
	struct __res_state	 st;
	unsigned char		 ans[NS_PACKETSZ * 16];
	const unsigned char	*rd;
	char			 host[NS_MAXDNAME];
	ns_msg			 msg;
	ns_rr			 rr;
	int			 len, i, count, rc = Q_NODATA;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) == -1)
		return Q_TEMPFAIL;
	len = res_nquery(&st, domain, ns_c_in, ns_t_mx, ans, sizeof(ans));
	if (len < 0) {
		rc = dns_rcode(&st);
		res_nclose(&st);
		return rc;
	}
	res_nclose(&st);
	if (ns_initparse(ans, len, &msg) == -1)
		return Q_TEMPFAIL;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && l->n < l->cap; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
			return Q_TEMPFAIL;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		rd = ns_rr_rdata(rr);
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 2, host,
		    sizeof(host)) == -1)
			return Q_TEMPFAIL;
		snprintf(l->mx[l->n].host, sizeof(l->mx[0].host), "%.255s",
		    host[0] == '\0' ? "." : host);
		l->mx[l->n].pref = ns_get16(rd);
		l->n++;
		rc = Q_OK;
	}
	return rc;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct mx	*x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

struct addrlist {
	char	(*a)[64];
	size_t	 n, cap;
};

static int
addr_add(void *arg, const char *value)
{
	struct addrlist	*l = arg;

	if (l->n == l->cap)
		return -1;
	snprintf(l->a[l->n], 64, "%s", value);
	l->a[l->n][strcspn(l->a[l->n], " \t")] = '\0';
	l->n++;
	return 0;
}

int
relay_addr_lookup(const char *host, const char *stub, char addrs[][64],
    size_t cap, size_t *n_r)
{
	struct addrlist	 l = { addrs, 0, cap };
	struct addrinfo	 hints, *res, *ai;
	struct in6_addr	 a6;
	int		 rc4, rc6;

	*n_r = 0;
	if (inet_pton(AF_INET, host, &a6) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1) {
		addr_add(&l, host);
		*n_r = l.n;
		return KURIR_OK;
	}
	if (stub != NULL && *stub != '\0') {
		rc4 = stub_query(stub, host, "A", addr_add, &l);
		rc6 = stub_query(stub, host, "AAAA", addr_add, &l);
		*n_r = l.n;
		if (l.n > 0)
			return KURIR_OK;
		return rc4 == Q_TEMPFAIL || rc6 == Q_TEMPFAIL ?
		    KURIR_E_TEMPFAIL : KURIR_E_NOTFOUND;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	switch (getaddrinfo(host, NULL, &hints, &res)) {
	case 0:
		break;
	case EAI_NONAME:
	case EAI_NODATA:
		return KURIR_E_NOTFOUND;
	default:
		return KURIR_E_TEMPFAIL;
	}
	for (ai = res; ai != NULL && l.n < cap; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    (void *)ai->ai_addr)->sin_addr, addrs[l.n], 64);
		else if (ai->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    (void *)ai->ai_addr)->sin6_addr, addrs[l.n], 64);
		else
			continue;
		l.n++;
	}
	freeaddrinfo(res);
	*n_r = l.n;
	return l.n > 0 ? KURIR_OK : KURIR_E_NOTFOUND;
}

int
relay_mx_lookup(const char *domain, const char *stub, struct relay_hop *hops,
    size_t cap, size_t *n_r, int *nullmx_r, char *diag, size_t diagcap)
{
	struct mx	 mx[RELAY_MAX_HOPS];
	struct mxlist	 l = { mx, 0, RELAY_MAX_HOPS };
	char		 addrs[4][64];
	size_t		 i, k, na;
	int		 q, rc;

	*n_r = 0;
	*nullmx_r = 0;
	if (stub != NULL && *stub != '\0')
		q = stub_query(stub, domain, "MX", mx_add, &l);
	else
		q = dns_query_mx(domain, &l);
	if (q == Q_TEMPFAIL) {
		snprintf(diag, diagcap, "4.4.3 DNS lookup of %.200s failed "
		    "temporarily", domain);
		return KURIR_E_TEMPFAIL;
	}
	if (q == Q_NXDOMAIN) {
		snprintf(diag, diagcap, "5.1.2 domain %.200s does not exist",
		    domain);
		return KURIR_E_PERMFAIL;
	}
	/* RFC 7505: a lone MX "." says the domain takes no mail. */
	if (q == Q_OK && l.n == 1 && strcmp(mx[0].host, ".") == 0) {
		*nullmx_r = 1;
		snprintf(diag, diagcap, "5.1.10 domain %.200s accepts no mail "
		    "(null MX)", domain);
		return KURIR_E_PERMFAIL;
	}
	if (q == Q_OK) {
		for (i = 0; i < l.n; i++)
			mx[i].rnd = rnd();
		qsort(mx, l.n, sizeof(mx[0]), mx_cmp);
		for (i = 0, k = 0; i < l.n && k < cap; i++) {
			if (strcmp(mx[i].host, ".") == 0)
				continue;
			memset(&hops[k], 0, sizeof(hops[k]));
			snprintf(hops[k].host, sizeof(hops[k].host), "%.255s",
			    mx[i].host);
			hops[k].port = 25;
			hops[k].pref = (uint16_t)mx[i].pref;
			hops[k].tls = relay_conf.tls;
			k++;
		}
		*n_r = k;
		if (k > 0)
			return KURIR_OK;
	}
	/* No MX: the domain itself is the host (RFC 5321 5.1), if it has
	 * an address. */
	rc = relay_addr_lookup(domain, stub, addrs, 4, &na);
	if (rc == KURIR_E_TEMPFAIL) {
		snprintf(diag, diagcap, "4.4.3 DNS lookup of %.200s failed "
		    "temporarily", domain);
		return rc;
	}
	if (rc != KURIR_OK || cap == 0) {
		snprintf(diag, diagcap, "5.1.2 domain %.200s has no MX and no "
		    "address", domain);
		return KURIR_E_PERMFAIL;
	}
	memset(&hops[0], 0, sizeof(hops[0]));
	snprintf(hops[0].host, sizeof(hops[0].host), "%.255s", domain);
	hops[0].port = 25;
	hops[0].tls = relay_conf.tls;
	*n_r = 1;
	return KURIR_OK;
}
