/*
 * relay_run.c -- the relay's threads: one scheduler keeps an index of the
 * queue (id, next retry, hold), kept fresh by the inotify events the loop
 * passes on (relay_run_changed) plus a full rescan now and then, and
 * hands due entries to relay_concurrency delivery threads.  An entry is
 * in one thread's hands at a time; per-destination slots cap how many
 * threads talk to one domain at once.
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay.h"

#define RESCAN_SECS	300	/* full rescan even without events */
#define MAX_CHANGED	4096	/* past this, rescan everything */

struct item {
	char		 id[KURIR_QID_MAX + 1];
	int64_t		 next;
	uint32_t	 hold;
	uint32_t	 busy;	/* queued for or in a delivery thread */
	char		*parked; /* waits for a slot of this domain */
};

struct slot {
	char		 key[RELAY_HOST_MAX + 1];
	uint32_t	 n;
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 sched_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 job_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 slot_cv = PTHREAD_COND_INITIALIZER;
static struct item	*items;
static size_t		 nitems, items_cap;
static char		(*changed)[KURIR_QID_MAX + 1];
static size_t		 nchanged;
static int		 rescan = 1, stopping, started;
static char		(*jobs)[KURIR_QID_MAX + 1];
static size_t		 jhead, jlen, jcap;
static struct slot	*slots;
static size_t		 nslots;
static pthread_t	 sched_tid, *tids;
static struct relay_conncache *caches;
static uint32_t		 nthreads;

static struct item *
find(const char *id)
{
	size_t	i;

	for (i = 0; i < nitems; i++)
		if (strcmp(items[i].id, id) == 0)
			return &items[i];
	return NULL;
}

/* With mtx held. */
static void
upsert(const char *id, int64_t next, uint32_t hold)
{
	struct item	*it, *tmp;

	if ((it = find(id)) == NULL) {
		if (nitems == items_cap) {
			tmp = reallocarray(items, items_cap ? items_cap * 2 :
			    256, sizeof(*tmp));
			if (tmp == NULL)
				return;	/* the next rescan retries */
			items = tmp;
			items_cap = items_cap ? items_cap * 2 : 256;
		}
		it = &items[nitems++];
		memset(it, 0, sizeof(*it));
		snprintf(it->id, sizeof(it->id), "%s", id);
	}
	it->next = next;
	it->hold = hold;
}

/* With mtx held: forget items[k]. */
static void
remove_at(size_t k)
{
	free(items[k].parked);
	items[k] = items[--nitems];
}

static void
drop(const char *id)
{
	struct item	*it = find(id);

	if (it != NULL && !it->busy)
		remove_at((size_t)(it - items));
}

static struct slot *
slot_find(const char *key)
{
	size_t	i;

	for (i = 0; i < nslots; i++)
		if (strcmp(slots[i].key, key) == 0)
			return &slots[i];
	return NULL;
}

/* With mtx held: every slot of domain key is taken. */
static int
slot_full(const char *key)
{
	struct slot	*s = slot_find(key);

	return s != NULL && s->n >= relay_conf.dest_concurrency;
}

struct scan {
	char	(*ids)[KURIR_QID_MAX + 1];
	int64_t	*next;
	uint32_t *hold;
	size_t	 n, cap;
};

static int
scan_cb(void *arg, const char *id, int64_t next, uint32_t hold)
{
	struct scan	*s = arg;
	void		*a, *b, *c;
	size_t		 cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 256;
		a = reallocarray(s->ids, cap, sizeof(*s->ids));
		if (a != NULL)
			s->ids = a;
		b = reallocarray(s->next, cap, sizeof(*s->next));
		if (b != NULL)
			s->next = b;
		c = reallocarray(s->hold, cap, sizeof(*s->hold));
		if (c != NULL)
			s->hold = c;
		if (a == NULL || b == NULL || c == NULL)
			return 1;
		s->cap = cap;
	}
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
	s->next[s->n] = next;
	s->hold[s->n++] = hold;
	return 0;
}

/* A full scan, outside the lock, then the index replaced. */
static void
full_scan(void)
{
	struct scan	s = { NULL, NULL, NULL, 0, 0 };
	size_t		i, k;

	relay_api->queue_scan(scan_cb, &s);
	pthread_mutex_lock(&mtx);
	for (k = 0; k < nitems; ) {	/* gone from disk, not busy */
		for (i = 0; i < s.n; i++)
			if (strcmp(s.ids[i], items[k].id) == 0)
				break;
		if (i == s.n && !items[k].busy)
			remove_at(k);
		else
			k++;
	}
	for (i = 0; i < s.n; i++)
		upsert(s.ids[i], s.next[i], s.hold[i]);
	pthread_mutex_unlock(&mtx);
	free(s.ids);
	free(s.next);
	free(s.hold);
}

static void
refresh(const char *id)
{
	struct kurir_queue_entry	*e;
	struct kurir_queue_info		 info;
	int				 rc;

	rc = relay_api->queue_open(id, &e);
	pthread_mutex_lock(&mtx);
	if (rc == KURIR_OK) {
		info.size = sizeof(info);
		relay_api->queue_info(e, &info);
		upsert(id, info.next_retry, info.hold);
	} else if (rc == KURIR_E_NOTFOUND)
		drop(id);
	pthread_mutex_unlock(&mtx);
	if (rc == KURIR_OK)
		relay_api->queue_close(e);
}

static void *
sched_main(void *arg)
{
	char		 id[KURIR_QID_MAX + 1];
	struct timespec	 ts;
	int64_t		 now, wake, last_scan = 0;
	size_t		 i;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&mtx);
		if (stopping) {
			pthread_mutex_unlock(&mtx);
			return NULL;
		}
		now = time(NULL);
		if (rescan || now - last_scan >= RESCAN_SECS) {
			rescan = 0;
			nchanged = 0;
			pthread_mutex_unlock(&mtx);
			full_scan();
			last_scan = now;
			continue;
		}
		if (nchanged > 0) {
			snprintf(id, sizeof(id), "%s", changed[--nchanged]);
			pthread_mutex_unlock(&mtx);
			refresh(id);
			continue;
		}
		wake = now + RESCAN_SECS;
		for (i = 0; i < nitems; i++) {
			if (items[i].busy || items[i].hold ||
			    (items[i].parked != NULL &&
			    slot_full(items[i].parked)))
				continue;
			if (items[i].next <= now && jlen < jcap) {
				items[i].busy = 1;
				snprintf(jobs[(jhead + jlen++) % jcap],
				    sizeof(jobs[0]), "%s", items[i].id);
				pthread_cond_signal(&job_cv);
			} else if (items[i].next < wake)
				wake = items[i].next > now ? items[i].next :
				    now + 1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wake - now;
		if (nchanged == 0 && !rescan && !stopping)
			pthread_cond_timedwait(&sched_cv, &mtx, &ts);
		pthread_mutex_unlock(&mtx);
	}
}

static void *
worker_main(void *arg)
{
	struct relay_conncache	*cc = arg;
	char			 id[KURIR_QID_MAX + 1];
	char			 busy[RELAY_HOST_MAX + 1];
	struct timespec		 ts;
	struct item		*it;
	int64_t			 next;

	for (;;) {
		pthread_mutex_lock(&mtx);
		while (jlen == 0 && !stopping) {
			if (cc->c == NULL) {
				pthread_cond_wait(&job_cv, &mtx);
				continue;
			}
			/* Keep a connection a moment for the next message
			 * to the same host, then say goodbye. */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 2;
			if (pthread_cond_timedwait(&job_cv, &mtx, &ts) ==
			    ETIMEDOUT && jlen == 0) {
				pthread_mutex_unlock(&mtx);
				relay_client_close(cc->c, 1);
				cc->c = NULL;
				cc->fd = -1;
				pthread_mutex_lock(&mtx);
			}
		}
		if (stopping) {
			pthread_mutex_unlock(&mtx);
			break;
		}
		snprintf(id, sizeof(id), "%s", jobs[jhead]);
		jhead = (jhead + 1) % jcap;
		jlen--;
		pthread_mutex_unlock(&mtx);

		next = relay_deliver(id, cc, busy);

		pthread_mutex_lock(&mtx);
		if ((it = find(id)) != NULL) {
			it->busy = 0;
			free(it->parked);
			it->parked = NULL;
			if (next == 0)
				remove_at((size_t)(it - items));
			else {
				it->next = next;
				if (busy[0] != '\0')
					it->parked = strdup(busy);
			}
		}
		pthread_cond_signal(&sched_cv);
		pthread_mutex_unlock(&mtx);
	}
	if (cc->c != NULL)
		relay_client_close(cc->c, 0);
	cc->c = NULL;
	return NULL;
}

void
relay_run_changed(const char *id)
{
	pthread_mutex_lock(&mtx);
	if (id == NULL || nchanged == MAX_CHANGED)
		rescan = 1;
	else if (changed != NULL)
		snprintf(changed[nchanged++], sizeof(changed[0]), "%s", id);
	pthread_cond_signal(&sched_cv);
	pthread_mutex_unlock(&mtx);
}

void
relay_slot_get(const char *key)
{
	struct slot	*s = NULL, *tmp;
	size_t		 i;

	pthread_mutex_lock(&mtx);
	for (;;) {
		for (i = 0, s = NULL; i < nslots; i++)
			if (strcmp(slots[i].key, key) == 0)
				s = &slots[i];
		if (s == NULL) {
			if ((tmp = reallocarray(slots, nslots + 1,
			    sizeof(*tmp))) == NULL)
				break;	/* no memory: go without a slot */
			slots = tmp;
			s = &slots[nslots++];
			snprintf(s->key, sizeof(s->key), "%s", key);
			s->n = 0;
		}
		if (s->n < relay_conf.dest_concurrency || stopping) {
			s->n++;
			break;
		}
		pthread_cond_wait(&slot_cv, &mtx);
	}
	pthread_mutex_unlock(&mtx);
}

int
relay_slot_try(const char *key)
{
	struct slot	*s, *tmp;
	int		 got = 1;

	pthread_mutex_lock(&mtx);
	if ((s = slot_find(key)) == NULL) {
		if ((tmp = reallocarray(slots, nslots + 1, sizeof(*tmp))) !=
		    NULL) {
			slots = tmp;
			s = &slots[nslots++];
			snprintf(s->key, sizeof(s->key), "%s", key);
			s->n = 0;
		}
	}
	if (s != NULL && s->n >= relay_conf.dest_concurrency && !stopping)
		got = 0;
	else if (s != NULL)
		s->n++;
	pthread_mutex_unlock(&mtx);
	return got;
}

void
relay_slot_put(const char *key)
{
	size_t	i;

	pthread_mutex_lock(&mtx);
	for (i = 0; i < nslots; i++)
		if (strcmp(slots[i].key, key) == 0) {
			if (slots[i].n > 0 && --slots[i].n == 0)
				slots[i] = slots[--nslots];
			break;
		}
	pthread_cond_broadcast(&slot_cv);
	pthread_cond_signal(&sched_cv);	/* parked entries may go */
	pthread_mutex_unlock(&mtx);
}

static void
join_all(uint32_t nworkers, int sched)
{
	uint32_t	i;
	int		fd;

	pthread_mutex_lock(&mtx);
	stopping = 1;
	/* Cut conversations short: blocked reads return at once. */
	for (i = 0; i < nworkers; i++)
		if ((fd = caches[i].fd) != -1)
			shutdown(fd, SHUT_RDWR);
	pthread_cond_broadcast(&sched_cv);
	pthread_cond_broadcast(&job_cv);
	pthread_cond_broadcast(&slot_cv);
	pthread_mutex_unlock(&mtx);
	if (sched)
		pthread_join(sched_tid, NULL);
	for (i = 0; i < nworkers; i++)
		pthread_join(tids[i], NULL);
	free(jobs);
	free(changed);
	free(tids);
	free(caches);
	while (nitems > 0)
		remove_at(nitems - 1);
	free(items);
	free(slots);
	jobs = NULL;
	changed = NULL;
	tids = NULL;
	caches = NULL;
	items = NULL;
	slots = NULL;
	nitems = items_cap = nslots = nchanged = jhead = jlen = 0;
}

int
relay_run_start(const char **errstr_r)
{
	uint32_t	i;

	stopping = 0;
	rescan = 1;
	nthreads = relay_conf.concurrency > 0 ? relay_conf.concurrency : 1;
	jcap = (size_t)nthreads * 2;
	if ((jobs = calloc(jcap, sizeof(*jobs))) == NULL ||
	    (changed = calloc(MAX_CHANGED, sizeof(*changed))) == NULL ||
	    (tids = calloc(nthreads, sizeof(*tids))) == NULL ||
	    (caches = calloc(nthreads, sizeof(*caches))) == NULL) {
		*errstr_r = "out of memory";
		join_all(0, 0);
		return -1;
	}
	for (i = 0; i < nthreads; i++)
		caches[i].fd = -1;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, worker_main, &caches[i])
		    != 0) {
			*errstr_r = "cannot start delivery threads";
			join_all(i, 0);
			return -1;
		}
	if (pthread_create(&sched_tid, NULL, sched_main, NULL) != 0) {
		*errstr_r = "cannot start the queue scheduler";
		join_all(nthreads, 0);
		return -1;
	}
	started = 1;
	return 0;
}

void
relay_run_stop(void)
{
	if (!started)
		return;
	join_all(nthreads, 1);
	started = 0;
}
