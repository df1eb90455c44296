/*
 * watch.c -- api->watch_path(): change notification for paths, shared by
 * every module of a worker process.
 *
 * One inotify instance per process, read on the event loop.  Each path
 * is one `struct wpath` (hashed by path and by inotify watch descriptor)
 * with a list of callers (`struct kurir_pathwatch`); the kernel watch is
 * added with the first caller and removed with the last.  The per-user
 * kernel limits (fs.inotify.max_user_instances, 128 by default, and
 * max_user_watches) are why it is one instance: an instance per mailbox
 * handle ran out at 128 IDLE sessions.  When the kernel still cannot
 * watch a path (no instance or no watch left, the path missing or
 * deleted), the path is polled: its callers are called every
 * WATCH_POLL_MS, and every WATCH_RETRY_POLLS polls a kernel watch is
 * tried again.  This is the only timer fallback of change notification.
 *
 * Events read in one go are folded per path, so a caller is called at
 * most once per batch.  Callbacks may add and delete watches, any of
 * them: deleted callers are unlinked and freed after the batch.
 */
#include <sys/inotify.h>
#include <sys/queue.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "watch.h"

#define PATH_GONE	0x80000000u	/* internal: path deleted or moved */
#define PATH_ALL	(KURIR_PATH_MODIFY | KURIR_PATH_CREATE | \
			    KURIR_PATH_DELETE | KURIR_PATH_MOVED_IN | \
			    KURIR_PATH_MOVED_OUT | PATH_GONE)
#define READS_PER_WAKE	16	/* then back to the loop (level-triggered) */

struct wpath;

struct kurir_pathwatch {
	TAILQ_ENTRY(kurir_pathwatch) link;	/* wpath->callers */
	struct wpath	*p;
	kurir_cb	*cb;
	void		*arg;
	uint64_t	 gen;		/* dispatch round it was added in */
	uint32_t	 events;	/* KURIR_PATH_* */
	uint32_t	 dead;		/* deleted during a dispatch */
};

TAILQ_HEAD(callerq, kurir_pathwatch);

struct wpath {
	struct wpath	*hnext;		/* svc.byname chain */
	struct wpath	*wnext;		/* svc.bywd chain (kernel only) */
	struct wpath	*pnext;		/* svc.pending */
	struct wpath	*rnext;		/* svc.reap */
	TAILQ_ENTRY(wpath) plink;	/* svc.polled */
	struct callerq	 callers;
	size_t		 nlive;		/* callers not dead */
	uint32_t	 hash;
	int		 wd;		/* -1: polled */
	uint32_t	 kmask;		/* IN_* asked of the kernel */
	uint32_t	 fired;		/* PATH_* to dispatch */
	uint32_t	 queued;	/* on svc.pending */
	uint32_t	 reaping;	/* on svc.reap */
	uint64_t	 retry_at;	/* poll tick of the next kernel try */
	char		 path[];
};

TAILQ_HEAD(wpathq, wpath);

static struct {
	pid_t		 pid;		/* the process the state belongs to */
	int		 ifd;		/* inotify, -1: none (yet) */
	struct ev_io	*io;
	uint64_t	 init_retry_at;	/* poll tick of the next init try */
	struct wpath	**byname, **bywd;
	size_t		 nbuckets;	/* a power of two, or 0 */
	size_t		 npaths, nkernel, npolled;
	struct wpathq	 polled;
	struct ev_timer	*timer;
	uint64_t	 ticks;		/* polls done */
	struct wpath	*pending;	/* fired, to dispatch */
	struct wpath	*reap;		/* have dead callers */
	uint64_t	 gen;
	int		 depth;		/* dispatching */
	int		 warned;
	int		 test_fail;
} svc = { .ifd = -1, .polled = TAILQ_HEAD_INITIALIZER(svc.polled) };

static void	 watch_ready(int fd, uint32_t revents, void *arg);
static void	 poll_tick(void *arg);
static void	 path_free(struct wpath *p);

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static uint32_t
to_kernel(uint32_t events)
{
	uint32_t m = IN_DELETE_SELF | IN_MOVE_SELF;

	if (events & KURIR_PATH_MODIFY)
		m |= IN_MODIFY | IN_ATTRIB;
	if (events & KURIR_PATH_CREATE)
		m |= IN_CREATE;
	if (events & KURIR_PATH_DELETE)
		m |= IN_DELETE;
	if (events & KURIR_PATH_MOVED_IN)
		m |= IN_MOVED_TO;
	if (events & KURIR_PATH_MOVED_OUT)
		m |= IN_MOVED_FROM;
	return m;
}

static uint32_t
from_kernel(uint32_t m)
{
	uint32_t e = 0;

	if (m & (IN_MODIFY | IN_ATTRIB))
		e |= KURIR_PATH_MODIFY;
	if (m & IN_CREATE)
		e |= KURIR_PATH_CREATE;
	if (m & IN_DELETE)
		e |= KURIR_PATH_DELETE;
	if (m & IN_MOVED_TO)
		e |= KURIR_PATH_MOVED_IN;
	if (m & IN_MOVED_FROM)
		e |= KURIR_PATH_MOVED_OUT;
	if (m & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
		e |= PATH_GONE;
	return e;
}

/* Both tables keep about one path per bucket. */
static int
table_grow(void)
{
	struct wpath **byname, **bywd, *p, *next;
	size_t n, i, b;

	n = svc.nbuckets == 0 ? 64 : svc.nbuckets * 2;
	if ((byname = calloc(n, sizeof(*byname))) == NULL)
		return -1;
	if ((bywd = calloc(n, sizeof(*bywd))) == NULL) {
		free(byname);
		return -1;
	}
	for (i = 0; i < svc.nbuckets; i++) {
		for (p = svc.byname[i]; p != NULL; p = next) {
			next = p->hnext;
			b = p->hash & (n - 1);
			p->hnext = byname[b];
			byname[b] = p;
		}
		for (p = svc.bywd[i]; p != NULL; p = next) {
			next = p->wnext;
			b = (size_t)p->wd & (n - 1);
			p->wnext = bywd[b];
			bywd[b] = p;
		}
	}
	free(svc.byname);
	free(svc.bywd);
	svc.byname = byname;
	svc.bywd = bywd;
	svc.nbuckets = n;
	return 0;
}

static struct wpath *
find_name(const char *path, uint32_t h)
{
	struct wpath *p;

	if (svc.nbuckets == 0)
		return NULL;
	for (p = svc.byname[h & (svc.nbuckets - 1)]; p != NULL; p = p->hnext)
		if (p->hash == h && strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static void
wd_link(struct wpath *p)
{
	size_t b = (size_t)p->wd & (svc.nbuckets - 1);

	p->wnext = svc.bywd[b];
	svc.bywd[b] = p;
	svc.nkernel++;
}

static void
wd_unlink(struct wpath *p)
{
	struct wpath **pp;

	for (pp = &svc.bywd[(size_t)p->wd & (svc.nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->wnext)
		if (*pp == p) {
			*pp = p->wnext;
			svc.nkernel--;
			break;
		}
}

/* Another path string may name the same inode (same wd): its watch
 * must survive this path's removal. */
static int
wd_shared(const struct wpath *p)
{
	const struct wpath *q;

	for (q = svc.bywd[(size_t)p->wd & (svc.nbuckets - 1)]; q != NULL;
	    q = q->wnext)
		if (q != p && q->wd == p->wd)
			return 1;
	return 0;
}

static void
fire(struct wpath *p, uint32_t what)
{
	p->fired |= what;
	if (!p->queued) {
		p->queued = 1;
		p->pnext = svc.pending;
		svc.pending = p;
	}
}

static void
poll_arm(void)
{
	if (svc.timer == NULL && svc.npolled > 0)
		svc.timer = ev_timer_add(ev_default(), WATCH_POLL_MS,
		    poll_tick, NULL);
}

static void
set_polled(struct wpath *p, uint64_t retry_in)
{
	if (p->wd != -1) {
		wd_unlink(p);
		p->wd = -1;
	}
	p->kmask = 0;
	p->retry_at = svc.ticks + retry_in;
	TAILQ_INSERT_TAIL(&svc.polled, p, plink);
	svc.npolled++;
	poll_arm();
}

static void
limit_warn(const char *what, int err)
{
	if (svc.warned)
		return;
	svc.warned = 1;
	log_warnx("watch: %s: %s; change notification of such paths falls "
	    "back to polling every %d ms (raise fs.inotify.max_user_instances"
	    " or max_user_watches)", what, strerror(err), WATCH_POLL_MS);
}

static int
svc_init(void)
{
	if (svc.ifd != -1)
		return 0;
	if (svc.init_retry_at > svc.ticks)
		return -1;
	if (svc.test_fail == 1) {
		errno = EMFILE;
		goto fail;
	}
	if ((svc.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		goto fail;
	if ((svc.io = ev_io_add(ev_default(), svc.ifd, EV_READ, watch_ready,
	    NULL)) == NULL) {
		close(svc.ifd);
		svc.ifd = -1;
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	limit_warn("inotify_init1", errno);
	svc.init_retry_at = svc.ticks + WATCH_RETRY_POLLS;
	return -1;
}

/* Ask the kernel to watch p for mask too; p->wd is set on success. */
static int
kernel_add(struct wpath *p, uint32_t kmask)
{
	int wd;

	if (svc_init() == -1)
		return -1;
	if (svc.test_fail == 2) {
		errno = ENOSPC;
		wd = -1;
	} else
		wd = inotify_add_watch(svc.ifd, p->path, kmask | IN_MASK_ADD);
	if (wd == -1) {
		if (errno == ENOSPC || errno == ENOMEM)
			limit_warn("inotify_add_watch", errno);
		return -1;
	}
	if (p->wd == -1) {
		p->wd = wd;
		wd_link(p);
	}
	p->kmask |= kmask;
	return 0;
}

static void
dispatch(void)
{
	struct wpath *p;
	struct kurir_pathwatch *w;
	uint64_t gen;
	uint32_t what;

	svc.depth++;
	gen = ++svc.gen;
	while ((p = svc.pending) != NULL) {
		svc.pending = p->pnext;
		p->queued = 0;
		what = p->fired;
		p->fired = 0;
		TAILQ_FOREACH(w, &p->callers, link) {
			if (w->dead || w->gen == gen ||
			    (what & (w->events | PATH_GONE)) == 0)
				continue;
			w->cb(w->arg);
		}
	}
	if (--svc.depth > 0)
		return;
	while ((p = svc.reap) != NULL) {
		struct kurir_pathwatch *next;

		svc.reap = p->rnext;
		p->reaping = 0;
		for (w = TAILQ_FIRST(&p->callers); w != NULL; w = next) {
			next = TAILQ_NEXT(w, link);
			if (w->dead) {
				TAILQ_REMOVE(&p->callers, w, link);
				free(w);
			}
		}
		if (p->nlive == 0)
			path_free(p);
	}
}

static void
watch_ready(int fd, uint32_t revents, void *arg)
{
	char buf[8192] __attribute__((aligned(__alignof__(
	    struct inotify_event))));
	const struct inotify_event *ie;
	struct wpath *p, *next;
	ssize_t n, off;
	size_t b, i;
	int r;

	(void)revents;
	(void)arg;
	for (r = 0; r < READS_PER_WAKE; r++) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (off = 0; off + (ssize_t)sizeof(*ie) <= n;
		    off += (ssize_t)sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(void *)(buf + off);
			if (ie->mask & IN_Q_OVERFLOW) {
				/* events lost: everyone looks again */
				for (i = 0; i < svc.nbuckets; i++)
					for (p = svc.byname[i]; p != NULL;
					    p = p->hnext)
						fire(p, PATH_ALL);
				continue;
			}
			if (svc.nbuckets == 0)
				continue;
			b = (size_t)ie->wd & (svc.nbuckets - 1);
			for (p = svc.bywd[b]; p != NULL; p = next) {
				next = p->wnext;
				if (p->wd != ie->wd)
					continue;
				fire(p, from_kernel(ie->mask));
				/* The watch ended (IN_IGNORED) or no longer
				 * follows the path: poll, try again soon. */
				if (ie->mask & (IN_IGNORED | IN_MOVE_SELF)) {
					if (!(ie->mask & IN_IGNORED) &&
					    !wd_shared(p))
						(void)inotify_rm_watch(svc.ifd,
						    p->wd);
					set_polled(p, 1);
				}
			}
		}
	}
	dispatch();
}

static void
poll_tick(void *arg)
{
	struct wpath *p, *next;

	(void)arg;
	svc.timer = NULL;
	svc.ticks++;
	for (p = TAILQ_FIRST(&svc.polled); p != NULL; p = next) {
		next = TAILQ_NEXT(p, plink);
		if (p->retry_at <= svc.ticks && p->nlive > 0) {
			uint32_t want = 0;
			struct kurir_pathwatch *w;

			TAILQ_FOREACH(w, &p->callers, link)
				if (!w->dead)
					want |= w->events;
			if (kernel_add(p, to_kernel(want)) == 0) {
				TAILQ_REMOVE(&svc.polled, p, plink);
				svc.npolled--;
			} else
				p->retry_at = svc.ticks + WATCH_RETRY_POLLS;
		}
		fire(p, PATH_ALL);
	}
	dispatch();
	poll_arm();
}

static void
path_free(struct wpath *p)
{
	struct wpath **pp;

	for (pp = &svc.byname[p->hash & (svc.nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	if (p->queued)
		for (pp = &svc.pending; *pp != NULL; pp = &(*pp)->pnext)
			if (*pp == p) {
				*pp = p->pnext;
				break;
			}
	if (p->wd != -1) {
		if (!wd_shared(p))
			(void)inotify_rm_watch(svc.ifd, p->wd);
		wd_unlink(p);
	} else {
		TAILQ_REMOVE(&svc.polled, p, plink);
		svc.npolled--;
	}
	svc.npaths--;
	free(p);
	if (svc.npolled == 0 && svc.timer != NULL) {
		ev_timer_del(svc.timer);
		svc.timer = NULL;
	}
}

static void
after_fork(void)
{
	pid_t pid = getpid();

	if (svc.pid == pid)
		return;
	if (svc.pid != 0) {
		/* the parent's loop, timer and callers mean nothing here */
		svc.io = NULL;
		svc.timer = NULL;
		watch_free_all();
	}
	svc.pid = pid;
}

struct kurir_pathwatch *
watch_add(const char *path, uint32_t events, kurir_cb *cb, void *arg)
{
	struct kurir_pathwatch *w;
	struct wpath *p;
	size_t len;
	uint32_t h, kmask;

	if (path == NULL || *path == '\0' || cb == NULL ||
	    (events & ~(PATH_ALL & ~PATH_GONE)) != 0)
		return NULL;
	after_fork();
	if ((len = strlen(path)) >= PATH_MAX)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	w->events = events;
	/* added by a callback: not called in the current round */
	w->gen = svc.depth > 0 ? svc.gen : 0;
	kmask = to_kernel(events);
	h = name_hash(path);
	if ((p = find_name(path, h)) == NULL) {
		if (svc.npaths >= svc.nbuckets && table_grow() == -1)
			goto fail;
		if ((p = calloc(1, sizeof(*p) + len + 1)) == NULL)
			goto fail;
		memcpy(p->path, path, len + 1);
		p->hash = h;
		p->wd = -1;
		TAILQ_INIT(&p->callers);
		p->hnext = svc.byname[h & (svc.nbuckets - 1)];
		svc.byname[h & (svc.nbuckets - 1)] = p;
		svc.npaths++;
		if (kernel_add(p, kmask) == -1)
			set_polled(p, WATCH_RETRY_POLLS);
	} else if (p->wd != -1 && (p->kmask & kmask) != kmask)
		(void)kernel_add(p, kmask);
	w->p = p;
	TAILQ_INSERT_TAIL(&p->callers, w, link);
	p->nlive++;
	return w;
fail:
	free(w);
	return NULL;
}

void
watch_del(struct kurir_pathwatch *w)
{
	struct wpath *p;

	if (w == NULL || w->dead)
		return;
	p = w->p;
	p->nlive--;
	if (svc.depth > 0) {
		/* dispatch() may be walking this list: unlink afterwards */
		w->dead = 1;
		if (!p->reaping) {
			p->reaping = 1;
			p->rnext = svc.reap;
			svc.reap = p;
		}
		return;
	}
	TAILQ_REMOVE(&p->callers, w, link);
	free(w);
	if (p->nlive == 0)
		path_free(p);
}

int
watch_is_kernel(const struct kurir_pathwatch *w)
{
	return w != NULL && w->p->wd != -1;
}

size_t
watch_count_kernel(void)
{
	return svc.nkernel;
}

size_t
watch_count_polled(void)
{
	return svc.npolled;
}

void
watch_free_all(void)
{
	struct kurir_pathwatch *w;
	struct wpath *p;
	size_t i;

	for (i = 0; i < svc.nbuckets; i++)
		while ((p = svc.byname[i]) != NULL) {
			svc.byname[i] = p->hnext;
			while ((w = TAILQ_FIRST(&p->callers)) != NULL) {
				TAILQ_REMOVE(&p->callers, w, link);
				free(w);
			}
			free(p);
		}
	free(svc.byname);
	free(svc.bywd);
	if (svc.timer != NULL)
		ev_timer_del(svc.timer);
	if (svc.io != NULL)
		ev_io_del(svc.io);
	if (svc.ifd != -1)
		close(svc.ifd);
	memset(&svc, 0, sizeof(svc));
	svc.ifd = -1;
	TAILQ_INIT(&svc.polled);
}

void
watch_test_fail(int what)
{
	svc.test_fail = what;
	svc.init_retry_at = 0;
	svc.warned = 0;
}
