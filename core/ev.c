/*
 * ev.c -- the worker's event loop: epoll (level-triggered) for fds, a
 * binary min-heap of one-shot timers, a FIFO of deferred calls and a
 * signalfd for signals.  The thread pool lives in ev_pool.c.
 *
 * An ev_io deleted while epoll_wait's batch still refers to it is only
 * marked dead and freed after the batch, so ev_io_del is safe from any
 * callback, including one for another fd of the same batch.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "ev_private.h"

#define EV_MAXEVENTS	256

static struct ev_loop	*ev_default_loop;

uint64_t
ev_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev_loop *
ev_default(void)
{
	struct ev_loop	*loop;

	if (ev_default_loop != NULL)
		return ev_default_loop;
	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(loop);
		return NULL;
	}
	loop->pid = getpid();
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	ev_default_loop = loop;
	return loop;
}

static void
ev_io_free_list(struct ev_io *io)
{
	struct ev_io	*next;

	for (; io != NULL; io = next) {
		next = io->next_dead;
		free(io);
	}
}

void
ev_free_default(void)
{
	struct ev_loop		*loop = ev_default_loop;
	struct ev_io		*io, *next;
	struct ev_deferred	*d, *dn;
	struct ev_signal	*s, *sn;
	size_t			 i;

	if (loop == NULL)
		return;
	ev_default_loop = NULL;
	/* The epoll set is shared with the parent after fork: a child only
	 * closes its copy and never touches the registrations. */
	ev_pool_free(loop);
	for (io = loop->ios; io != NULL; io = next) {
		next = io->next;
		free(io);
	}
	ev_io_free_list(loop->dead);
	for (i = 0; i < loop->ntimers; i++)
		free(loop->heap[i]);
	free(loop->heap);
	for (d = loop->defer_head; d != NULL; d = dn) {
		dn = d->next;
		free(d);
	}
	for (s = loop->signals; s != NULL; s = sn) {
		sn = s->next;
		free(s);
	}
	if (loop->sigfd != -1) {
		close(loop->sigfd);
		sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
	}
	close(loop->epfd);
	free(loop);
}

void
ev_stop(struct ev_loop *loop)
{
	loop->stop = 1;
}

void
ev_set_before_sleep(struct ev_loop *loop, ev_cb *cb, void *arg)
{
	loop->before_sleep = cb;
	loop->before_sleep_arg = arg;
}

/* ---- fds ---------------------------------------------------------- */

static uint32_t
ev_epoll_events(uint32_t events)
{
	uint32_t	e = 0;

	if (events & EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

struct ev_io *
ev_io_add(struct ev_loop *loop, int fd, uint32_t events, ev_io_cb *cb,
    void *arg)
{
	struct ev_io		*io;
	struct epoll_event	 ee;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->loop = loop;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->events = events & (EV_READ | EV_WRITE);
	if (io->events != 0) {
		memset(&ee, 0, sizeof(ee));
		ee.events = ev_epoll_events(io->events);
		ee.data.ptr = io;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) == -1) {
			free(io);
			return NULL;
		}
		io->registered = 1;
	}
	io->next = loop->ios;
	if (loop->ios != NULL)
		loop->ios->prev = io;
	loop->ios = io;
	return io;
}

/*
 * No interest at all unregisters the fd: epoll reports EPOLLHUP even with
 * an empty event mask, and level-triggered that would spin.
 */
int
ev_io_set(struct ev_io *io, uint32_t events)
{
	struct epoll_event	ee;
	int			op;

	events &= EV_READ | EV_WRITE;
	if (io->dead)
		return -1;
	if (events == io->events && (events != 0) == io->registered)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = ev_epoll_events(events);
	ee.data.ptr = io;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (io->registered)
		op = EPOLL_CTL_MOD;
	else
		op = EPOLL_CTL_ADD;
	if (epoll_ctl(io->loop->epfd, op, io->fd, &ee) == -1)
		return -1;
	io->registered = events != 0;
	io->events = events;
	return 0;
}

void
ev_io_del(struct ev_io *io)
{
	struct ev_loop	*loop;

	if (io == NULL || io->dead)
		return;
	loop = io->loop;
	if (io->registered)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->registered = 0;
	io->dead = 1;
	if (io->prev != NULL)
		io->prev->next = io->next;
	else
		loop->ios = io->next;
	if (io->next != NULL)
		io->next->prev = io->prev;
	io->next_dead = loop->dead;
	loop->dead = io;
}

/* ---- timers: binary min-heap on (deadline, sequence) --------------- */

static int
ev_timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->seq < b->seq;
}

static void
ev_heap_set(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->idx = i;
}

static void
ev_heap_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer	*t = loop->heap[i];
	size_t		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!ev_timer_before(t, loop->heap[parent]))
			break;
		ev_heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	ev_heap_set(loop, i, t);
}

static void
ev_heap_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer	*t = loop->heap[i];
	size_t		 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= loop->ntimers)
			break;
		if (child + 1 < loop->ntimers &&
		    ev_timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!ev_timer_before(loop->heap[child], t))
			break;
		ev_heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	ev_heap_set(loop, i, t);
}

static void
ev_heap_remove(struct ev_loop *loop, size_t i)
{
	struct ev_timer	*last;

	last = loop->heap[--loop->ntimers];
	if (i == loop->ntimers)
		return;
	ev_heap_set(loop, i, last);
	if (i > 0 && ev_timer_before(last, loop->heap[(i - 1) / 2]))
		ev_heap_up(loop, i);
	else
		ev_heap_down(loop, i);
}

struct ev_timer *
ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_cb *cb, void *arg)
{
	struct ev_timer	**heap;
	struct ev_timer	 *t;
	size_t		  ncap;

	if (loop->ntimers == loop->captimers) {
		ncap = loop->captimers ? loop->captimers * 2 : 64;
		if ((heap = reallocarray(loop->heap, ncap,
		    sizeof(*heap))) == NULL)
			return NULL;
		loop->heap = heap;
		loop->captimers = ncap;
	}
	if ((t = malloc(sizeof(*t))) == NULL)
		return NULL;
	t->loop = loop;
	t->when = ev_now_ms() + ms;
	t->seq = loop->timer_seq++;
	t->cb = cb;
	t->arg = arg;
	loop->heap[loop->ntimers++] = t;
	ev_heap_up(loop, loop->ntimers - 1);
	return t;
}

void
ev_timer_del(struct ev_timer *t)
{
	if (t == NULL)
		return;
	ev_heap_remove(t->loop, t->idx);
	free(t);
}

/* Fire due timers; ones added meanwhile wait for the next round. */
static void
ev_timers_run(struct ev_loop *loop)
{
	struct ev_timer	*t;
	uint64_t	 now = ev_now_ms(), limit = loop->timer_seq;
	ev_cb		*cb;
	void		*arg;

	while (loop->ntimers > 0 && !loop->stop) {
		t = loop->heap[0];
		if (t->when > now || t->seq >= limit)
			break;
		ev_heap_remove(loop, 0);
		cb = t->cb;
		arg = t->arg;
		free(t);
		cb(arg);
	}
}

static int
ev_timers_timeout(struct ev_loop *loop)
{
	uint64_t	now, when;

	if (loop->ntimers == 0)
		return -1;
	when = loop->heap[0]->when;
	now = ev_now_ms();
	if (when <= now)
		return 0;
	if (when - now > 3600 * 1000)
		return 3600 * 1000;
	return (int)(when - now);
}

/* ---- deferred calls ------------------------------------------------ */

int
ev_defer(struct ev_loop *loop, ev_cb *cb, void *arg)
{
	struct ev_deferred	*d;

	if ((d = malloc(sizeof(*d))) == NULL)
		return -1;
	d->cb = cb;
	d->arg = arg;
	d->next = NULL;
	if (loop->defer_tail != NULL)
		loop->defer_tail->next = d;
	else
		loop->defer_head = d;
	loop->defer_tail = d;
	return 0;
}

/* Runs the calls queued so far; calls they defer run next round. */
static void
ev_deferred_run(struct ev_loop *loop)
{
	struct ev_deferred	*d, *next;

	d = loop->defer_head;
	loop->defer_head = loop->defer_tail = NULL;
	for (; d != NULL; d = next) {
		next = d->next;
		d->cb(d->arg);
		free(d);
	}
}

/* ---- signals ------------------------------------------------------- */

static void
ev_signal_ready(int fd, uint32_t revents, void *arg)
{
	struct ev_loop			*loop = arg;
	struct signalfd_siginfo		 si;
	struct ev_signal		*s, *next;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		loop->sig_dispatching++;
		for (s = loop->signals; s != NULL; s = next) {
			next = s->next;
			if (!s->dead && s->signo == (int)si.ssi_signo)
				s->cb(s->signo, s->arg);
		}
		loop->sig_dispatching--;
		ev_signal_reap(loop);
	}
}

void
ev_signal_reap(struct ev_loop *loop)
{
	struct ev_signal	**sp, *s;

	if (loop->sig_dispatching > 0)
		return;
	for (sp = &loop->signals; (s = *sp) != NULL;) {
		if (s->dead) {
			*sp = s->next;
			free(s);
		} else
			sp = &s->next;
	}
}

static int
ev_signal_update(struct ev_loop *loop)
{
	int	fd;

	fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK |
	    SFD_CLOEXEC);
	if (fd == -1)
		return -1;
	if (loop->sigfd == -1) {
		loop->sigfd = fd;
		if ((loop->sigio = ev_io_add(loop, fd, EV_READ,
		    ev_signal_ready, loop)) == NULL) {
			close(fd);
			loop->sigfd = -1;
			return -1;
		}
	}
	return 0;
}

struct ev_signal *
ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb *cb, void *arg)
{
	struct ev_signal	*s;
	sigset_t		 one;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	s->signo = signo;
	s->cb = cb;
	s->arg = arg;
	sigemptyset(&one);
	sigaddset(&one, signo);
	sigaddset(&loop->sigmask, signo);
	/* Blocked so that it is queued for the signalfd instead. */
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1 ||
	    ev_signal_update(loop) == -1) {
		free(s);
		return NULL;
	}
	s->next = loop->signals;
	loop->signals = s;
	return s;
}

void
ev_signal_del(struct ev_signal *s)
{
	struct ev_loop		*loop;
	struct ev_signal	*o;
	sigset_t		 one;

	if (s == NULL || s->dead)
		return;
	loop = s->loop;
	s->dead = 1;
	for (o = loop->signals; o != NULL; o = o->next)
		if (!o->dead && o->signo == s->signo)
			break;
	if (o == NULL) {
		/* The last handler: back to the default disposition. */
		sigdelset(&loop->sigmask, s->signo);
		ev_signal_update(loop);
		sigemptyset(&one);
		sigaddset(&one, s->signo);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
	}
	ev_signal_reap(loop);
}

/* ---- the loop ------------------------------------------------------ */

int
ev_run_once(struct ev_loop *loop, int max_ms)
{
	struct epoll_event	 evs[EV_MAXEVENTS];
	struct ev_io		*io;
	uint32_t		 rev;
	int			 n, i, timeout;

	ev_deferred_run(loop);
	if (loop->stop)
		return 0;
	if (loop->before_sleep != NULL)
		loop->before_sleep(loop->before_sleep_arg);
	timeout = loop->defer_head != NULL ? 0 : ev_timers_timeout(loop);
	if (max_ms >= 0 && (timeout < 0 || timeout > max_ms))
		timeout = max_ms;
	n = epoll_wait(loop->epfd, evs, EV_MAXEVENTS, timeout);
	if (n == -1 && errno != EINTR)
		return -1;
	for (i = 0; i < n && !loop->stop; i++) {
		io = evs[i].data.ptr;
		if (io->dead)
			continue;
		rev = 0;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP |
		    EPOLLERR))
			rev |= EV_READ;
		if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			rev |= EV_WRITE;
		rev &= io->events;
		if (rev != 0)
			io->cb(io->fd, rev, io->arg);
	}
	ev_io_free_list(loop->dead);
	loop->dead = NULL;
	ev_timers_run(loop);
	return 0;
}

int
ev_run(struct ev_loop *loop)
{
	loop->stop = 0;
	while (!loop->stop)
		if (ev_run_once(loop, -1) == -1)
			return -1;
	loop->stop = 0;
	return 0;
}
