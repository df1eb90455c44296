/*
 * throttle.c -- failed-login throttling (see throttle.h).  A small hash
 * table of "i:ADDRESS" and "u:USER" entries with a least-recently-used
 * list, so a flood of made-up names cannot grow memory past max_entries.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "throttle.h"

#define THROTTLE_BUCKETS	4096
#define THROTTLE_KEY_MAX	400

struct tentry {
	LIST_ENTRY(tentry)	 hash;
	TAILQ_ENTRY(tentry)	 lru;
	uint32_t		 failures;
	uint64_t		 last_ms;
	uint64_t		 locked_until;
	char			 key[];
};

struct tnet {
	int		family;
	uint8_t		addr[16];
	unsigned	prefix;
};

struct throttle {
	struct throttle_conf	 conf;
	LIST_HEAD(, tentry)	 buckets[THROTTLE_BUCKETS];
	TAILQ_HEAD(, tentry)	 lru;
	size_t			 count;
	struct tnet		*nets;
	size_t			 nnets;
};

static uint32_t
hash_key(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct throttle *
throttle_new(const struct throttle_conf *conf)
{
	struct throttle	*t;
	size_t		 i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->conf = *conf;
	if (t->conf.max_entries == 0)
		t->conf.max_entries = 1;
	for (i = 0; i < THROTTLE_BUCKETS; i++)
		LIST_INIT(&t->buckets[i]);
	TAILQ_INIT(&t->lru);
	return t;
}

static void
entry_del(struct throttle *t, struct tentry *e)
{
	LIST_REMOVE(e, hash);
	TAILQ_REMOVE(&t->lru, e, lru);
	t->count--;
	free(e);
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	while (!TAILQ_EMPTY(&t->lru))
		entry_del(t, TAILQ_FIRST(&t->lru));
	free(t->nets);
	free(t);
}

size_t
throttle_count(const struct throttle *t)
{
	return t->count;
}

/* The entry for kind ('i' or 'u') and name, created when create is set;
 * an entry whose lockout is over and whose last failure left the window
 * starts again from zero. */
static struct tentry *
entry_get(struct throttle *t, char kind, const char *name, uint64_t now,
    int create)
{
	char		 key[THROTTLE_KEY_MAX];
	struct tentry	*e;
	uint32_t	 b;
	size_t		 i, len;

	len = strlen(name);
	if (len + 3 > sizeof(key))
		len = sizeof(key) - 3;	/* long names share a prefix entry */
	key[0] = kind;
	key[1] = ':';
	for (i = 0; i < len; i++)
		key[2 + i] = (char)tolower((unsigned char)name[i]);
	key[2 + len] = '\0';
	b = hash_key(key) % THROTTLE_BUCKETS;
	LIST_FOREACH(e, &t->buckets[b], hash)
		if (strcmp(e->key, key) == 0)
			break;
	if (e != NULL) {
		if (e->locked_until != 0 && now >= e->locked_until) {
			e->locked_until = 0;
			e->failures = 0;
		}
		if (e->locked_until == 0 && now >= e->last_ms &&
		    now - e->last_ms >= t->conf.window_ms)
			e->failures = 0;
		TAILQ_REMOVE(&t->lru, e, lru);
		TAILQ_INSERT_TAIL(&t->lru, e, lru);
		return e;
	}
	if (!create)
		return NULL;
	while (t->count >= t->conf.max_entries)
		entry_del(t, TAILQ_FIRST(&t->lru));
	if ((e = calloc(1, sizeof(*e) + len + 3)) == NULL)
		return NULL;
	memcpy(e->key, key, len + 3);
	e->last_ms = now;
	LIST_INSERT_HEAD(&t->buckets[b], e, hash);
	TAILQ_INSERT_TAIL(&t->lru, e, lru);
	t->count++;
	return e;
}

static int
locked(struct tentry *e, uint64_t now)
{
	return e != NULL && e->locked_until != 0 && now < e->locked_until;
}

int
throttle_check(struct throttle *t, const char *ip, const char *user,
    uint64_t now_ms)
{
	if (ip != NULL && throttle_is_exempt(t, ip))
		return 0;
	if (ip != NULL && locked(entry_get(t, 'i', ip, now_ms, 0), now_ms))
		return -1;
	if (user != NULL && locked(entry_get(t, 'u', user, now_ms, 0), now_ms))
		return -1;
	return 0;
}

static uint32_t
entry_fail(struct throttle *t, struct tentry *e, uint32_t limit,
    uint64_t now)
{
	if (e == NULL)
		return 0;
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_ms = now;
	if (limit != 0 && e->failures >= limit && e->locked_until == 0)
		e->locked_until = now + t->conf.lockout_ms;
	return e->failures;
}

uint64_t
throttle_fail(struct throttle *t, const char *ip, const char *user,
    uint64_t now_ms)
{
	uint32_t	n = 0, m;
	uint64_t	delay;

	if (ip != NULL && throttle_is_exempt(t, ip))
		return 0;
	if (ip != NULL)
		n = entry_fail(t, entry_get(t, 'i', ip, now_ms, 1),
		    t->conf.ip_failures, now_ms);
	if (user != NULL && *user != '\0') {
		m = entry_fail(t, entry_get(t, 'u', user, now_ms, 1),
		    t->conf.user_failures, now_ms);
		if (m > n)
			n = m;
	}
	/* delay * 2^(n-1), capped */
	delay = t->conf.delay_ms;
	while (n > 1 && delay < t->conf.delay_max_ms) {
		delay *= 2;
		n--;
	}
	if (delay > t->conf.delay_max_ms)
		delay = t->conf.delay_max_ms;
	return delay;
}

void
throttle_success(struct throttle *t, const char *ip, const char *user,
    uint64_t now_ms)
{
	struct tentry	*e;

	if (user != NULL && (e = entry_get(t, 'u', user, now_ms, 0)) != NULL)
		entry_del(t, e);
}

/* ---- exempt networks -------------------------------------------------- */

static int
net_parse(const char *s, struct tnet *n)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long	 p;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		n->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		n->prefix = 128;
	} else
		return -1;
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return -1;
		p = strtoul(slash, &end, 10);
		if (*end != '\0' || p > n->prefix)
			return -1;
		n->prefix = (unsigned)p;
	}
	return 0;
}

static int
net_match(const struct tnet *n, const char *ip)
{
	uint8_t		 a[16];
	const uint8_t	*cmp = a;
	int		 fam;
	unsigned	 bits, i;
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (inet_pton(AF_INET, ip, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1) {
		fam = AF_INET6;
		/* ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket */
		if (n->family == AF_INET && memcmp(a, v4mapped, 12) == 0) {
			fam = AF_INET;
			cmp = a + 12;
		}
	} else
		return 0;
	if (fam != n->family)
		return 0;
	bits = n->prefix;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (cmp[i] != n->addr[i])
			return 0;
	if (bits > 0 && ((cmp[i] ^ n->addr[i]) & (0xff00u >> bits) & 0xff))
		return 0;
	return 1;
}

int
throttle_cidr_match(const char *cidr, const char *ip)
{
	struct tnet	n;

	if (net_parse(cidr, &n) == -1)
		return 0;
	return net_match(&n, ip);
}

int
throttle_set_exempt(struct throttle *t, const char *list, char *err,
    size_t errlen)
{
	struct tnet	*nets = NULL, *tmp;
	size_t		 nnets = 0, len;
	const char	*p = list, *q;
	char		 word[INET6_ADDRSTRLEN + 8];

	while (p != NULL && *p != '\0') {
		p += strspn(p, " ,\t");
		if (*p == '\0')
			break;
		len = strcspn(p, " ,\t");
		q = p + len;
		if (len >= sizeof(word)) {
			snprintf(err, errlen, "auth_throttle_exempt: bad "
			    "network \"%.40s...\"", p);
			goto fail;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		if ((tmp = reallocarray(nets, nnets + 1,
		    sizeof(*nets))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		nets = tmp;
		if (net_parse(word, &nets[nnets]) == -1) {
			snprintf(err, errlen, "auth_throttle_exempt: bad "
			    "network \"%s\"", word);
			goto fail;
		}
		nnets++;
		p = q;
	}
	free(t->nets);
	t->nets = nets;
	t->nnets = nnets;
	return 0;
fail:
	free(nets);
	return -1;
}

int
throttle_is_exempt(const struct throttle *t, const char *ip)
{
	size_t	i;

	for (i = 0; i < t->nnets; i++)
		if (net_match(&t->nets[i], ip))
			return 1;
	return 0;
}
