/*
 * throttle.c -- failed-login throttling (see throttle.h).
 *
 * The table is one shared anonymous mapping (the pattern of the smtp
 * module's per-address connection counts: mapped before fork, so every
 * worker sees one table).  It is set-associative: an entry's key picks a
 * set of THROTTLE_WAYS slots, and a full set forgets its least recently
 * used entry that is not locked out, so a flood of made-up names cannot
 * grow memory or push a lockout out early.  Keys are a digest of
 * "i:ADDRESS" or "u:user" under a random per-table seed, so slots have a
 * fixed size and nobody can aim names at another entry's set.  One
 * robust process-shared mutex guards the table (a worker that dies
 * holding it does not wedge the others); it is held for a few slot
 * compares only.
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "throttle.h"

#define THROTTLE_WAYS		8
#define THROTTLE_KEY_MAX	400	/* longer names share a prefix entry */
#define THROTTLE_DIGEST		16

struct tslot {
	uint8_t		key[THROTTLE_DIGEST];
	uint64_t	seen;		/* recency stamp; 0: free slot */
	uint64_t	last_ms;	/* last failure */
	uint64_t	locked_until;	/* 0: not locked */
	uint32_t	failures;
	uint32_t	pad;
};

/* The shared part: every process that inherited the mapping uses it. */
struct tshared {
	pthread_mutex_t	mu;
	uint64_t	tick;		/* last recency stamp given */
	uint64_t	count;		/* slots in use */
	uint64_t	nsets;
	uint64_t	ways;
	uint8_t		seed[16];
	struct tslot	slot[];
};

/* The keys of an address and a user, hashed before the lock is taken;
 * ipk/userk NULL for one not given. */
struct tkeys {
	uint8_t		 ip[THROTTLE_DIGEST];
	uint8_t		 user[THROTTLE_DIGEST];
	const uint8_t	*ipk;
	const uint8_t	*userk;
};

struct tnet {
	int		family;
	uint8_t		addr[16];
	unsigned	prefix;
};

/* The per-process part: limits, exempt networks, the mapping. */
struct throttle {
	struct throttle_conf	 conf;
	struct tshared		*sh;
	size_t			 maplen;
	struct tnet		*nets;
	size_t			 nnets;
};

static void
geometry(size_t max_entries, uint64_t *nsets_r, uint64_t *ways_r)
{
	if (max_entries == 0)
		max_entries = 1;
	if (max_entries > THROTTLE_MAX_ENTRIES)
		max_entries = THROTTLE_MAX_ENTRIES;
	*ways_r = max_entries < THROTTLE_WAYS ? max_entries : THROTTLE_WAYS;
	*nsets_r = max_entries / *ways_r;
}

static void
seed_fill(uint8_t *seed, size_t len)
{
	struct timespec	ts;

	if (getrandom(seed, len, 0) == (ssize_t)len)
		return;
	/* no entropy yet: still a per-table seed, just a guessable one */
	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(seed, &ts, len < sizeof(ts) ? len : sizeof(ts));
	seed[0] ^= (uint8_t)getpid();
}

struct throttle *
throttle_new(const struct throttle_conf *conf)
{
	struct throttle		*t;
	struct tshared		*sh;
	pthread_mutexattr_t	 ma;
	uint64_t		 nsets, ways;
	size_t			 len;
	void			*p;

	geometry(conf->max_entries, &nsets, &ways);
	len = sizeof(*sh) + (size_t)(nsets * ways) * sizeof(struct tslot);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		free(t);
		return NULL;
	}
	sh = p;		/* zero-filled by the kernel */
	if (pthread_mutexattr_init(&ma) != 0 ||
	    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&sh->mu, &ma) != 0) {
		pthread_mutexattr_destroy(&ma);
		munmap(p, len);
		free(t);
		return NULL;
	}
	pthread_mutexattr_destroy(&ma);
	sh->nsets = nsets;
	sh->ways = ways;
	seed_fill(sh->seed, sizeof(sh->seed));
	t->conf = *conf;
	t->conf.max_entries = (size_t)(nsets * ways);
	t->sh = sh;
	t->maplen = len;
	return t;
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	/* Other processes may still use the mutex: unmap, never destroy. */
	munmap(t->sh, t->maplen);
	free(t->nets);
	free(t);
}

int
throttle_reconf(struct throttle *t, const struct throttle_conf *conf)
{
	uint64_t	nsets, ways;

	geometry(conf->max_entries, &nsets, &ways);
	if (nsets != t->sh->nsets || ways != t->sh->ways)
		return -1;
	t->conf = *conf;
	t->conf.max_entries = (size_t)(nsets * ways);
	return 0;
}

static void
tlock(struct tshared *sh)
{
	/* EOWNERDEAD: a worker died inside; the slots are plain values,
	 * at worst one of them is half updated. */
	if (pthread_mutex_lock(&sh->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&sh->mu);
}

static void
tunlock(struct tshared *sh)
{
	pthread_mutex_unlock(&sh->mu);
}

void
throttle_lock_hold(struct throttle *t)
{
	tlock(t->sh);
}

size_t
throttle_count(const struct throttle *t)
{
	size_t	n;

	tlock(t->sh);
	n = (size_t)t->sh->count;
	tunlock(t->sh);
	return n;
}

size_t
throttle_capacity(const struct throttle *t)
{
	return (size_t)(t->sh->nsets * t->sh->ways);
}

/* The digest of kind ('i' or 'u') and the lower-cased name. */
static int
key_digest(const struct tshared *sh, char kind, const char *name,
    uint8_t *out)
{
	uint8_t		buf[sizeof(sh->seed) + 2 + THROTTLE_KEY_MAX];
	uint8_t		md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;
	size_t		i, len, n;

	len = strlen(name);
	if (len > THROTTLE_KEY_MAX)
		len = THROTTLE_KEY_MAX;
	memcpy(buf, sh->seed, sizeof(sh->seed));
	n = sizeof(sh->seed);
	buf[n++] = (uint8_t)kind;
	buf[n++] = ':';
	for (i = 0; i < len; i++)
		buf[n++] = (uint8_t)tolower((unsigned char)name[i]);
	if (EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < THROTTLE_DIGEST)
		return -1;
	memcpy(out, md, THROTTLE_DIGEST);
	return 0;
}

static int
slot_locked(const struct tslot *e, uint64_t now)
{
	return e != NULL && e->locked_until != 0 && now < e->locked_until;
}

/* The slot a full set gives up: the least recently used one that is not
 * locked out, or, when all are, the least recently used. */
static struct tslot *
set_victim(struct tslot *set, uint64_t ways, uint64_t now)
{
	struct tslot	*best = NULL, *any = NULL;
	uint64_t	 i;

	for (i = 0; i < ways; i++) {
		if (any == NULL || set[i].seen < any->seen)
			any = &set[i];
		if (!slot_locked(&set[i], now) &&
		    (best == NULL || set[i].seen < best->seen))
			best = &set[i];
	}
	return best != NULL ? best : any;
}

/* The entry for a key_digest() (lock held), created when create is set;
 * an entry whose lockout is over, or whose last failure left the window,
 * starts again from zero.  NULL key: no entry. */
static struct tslot *
entry_get(struct throttle *t, const uint8_t *key, uint64_t now, int create)
{
	struct tshared	*sh = t->sh;
	struct tslot	*set, *e = NULL;
	uint64_t	 h, i;

	if (key == NULL)
		return NULL;
	memcpy(&h, key, sizeof(h));
	set = &sh->slot[(h % sh->nsets) * sh->ways];
	for (i = 0; i < sh->ways; i++)
		if (set[i].seen != 0 && memcmp(set[i].key, key,
		    THROTTLE_DIGEST) == 0) {
			e = &set[i];
			break;
		}
	if (e != NULL) {
		if (e->locked_until != 0 && now >= e->locked_until) {
			e->locked_until = 0;
			e->failures = 0;
		}
		if (e->locked_until == 0 && now >= e->last_ms &&
		    now - e->last_ms >= t->conf.window_ms)
			e->failures = 0;
		e->seen = ++sh->tick;
		return e;
	}
	if (!create)
		return NULL;
	for (i = 0; i < sh->ways && e == NULL; i++)
		if (set[i].seen == 0)
			e = &set[i];
	if (e == NULL)
		e = set_victim(set, sh->ways, now);
	else
		sh->count++;
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, THROTTLE_DIGEST);
	e->last_ms = now;
	e->seen = ++sh->tick;
	return e;
}

static void
keys_make(const struct throttle *t, const char *ip, const char *user,
    struct tkeys *k)
{
	k->ipk = ip != NULL && key_digest(t->sh, 'i', ip, k->ip) == 0 ?
	    k->ip : NULL;
	k->userk = user != NULL && *user != '\0' &&
	    key_digest(t->sh, 'u', user, k->user) == 0 ? k->user : NULL;
}

int
throttle_check(struct throttle *t, const char *ip, const char *user,
    uint64_t now_ms)
{
	struct tkeys	k;
	int		rc = 0;

	if (ip != NULL && throttle_is_exempt(t, ip))
		return 0;
	keys_make(t, ip, user, &k);
	tlock(t->sh);
	if (slot_locked(entry_get(t, k.ipk, now_ms, 0), now_ms) ||
	    slot_locked(entry_get(t, k.userk, now_ms, 0), now_ms))
		rc = -1;
	tunlock(t->sh);
	return rc;
}

static uint32_t
entry_fail(struct throttle *t, struct tslot *e, uint32_t limit,
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
	struct tkeys	k;
	uint32_t	n, m;
	uint64_t	delay;

	if (ip != NULL && throttle_is_exempt(t, ip))
		return 0;
	keys_make(t, ip, user, &k);
	tlock(t->sh);
	n = entry_fail(t, entry_get(t, k.ipk, now_ms, 1),
	    t->conf.ip_failures, now_ms);
	m = entry_fail(t, entry_get(t, k.userk, now_ms, 1),
	    t->conf.user_failures, now_ms);
	tunlock(t->sh);
	if (m > n)
		n = m;
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
	struct tkeys	 k;
	struct tslot	*e;

	keys_make(t, NULL, user, &k);
	if (k.userk == NULL)
		return;
	tlock(t->sh);
	if ((e = entry_get(t, k.userk, now_ms, 0)) != NULL) {
		memset(e, 0, sizeof(*e));
		t->sh->count--;
	}
	tunlock(t->sh);
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
