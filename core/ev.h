/*
 * ev.h -- the worker's event loop: epoll, timers (a binary min-heap),
 * deferred calls, signals (signalfd) and a small thread pool whose results
 * come back to the loop (eventfd).  One loop per process: ev_default().
 */
#ifndef KURIR_CORE_EV_H
#define KURIR_CORE_EV_H

#include <stdint.h>

#define EV_READ		0x01u
#define EV_WRITE	0x02u

struct ev_loop;
struct ev_io;
struct ev_timer;
struct ev_signal;

typedef void ev_io_cb(int fd, uint32_t revents, void *arg);
typedef void ev_cb(void *arg);
typedef void ev_signal_cb(int signo, void *arg);

struct ev_loop	*ev_default(void);	/* created on first call */
void		 ev_free_default(void);	/* e.g. in a child after fork */
int		 ev_run(struct ev_loop *loop);	/* until ev_stop */
void		 ev_stop(struct ev_loop *loop);
uint64_t	 ev_now_ms(void);		/* CLOCK_MONOTONIC */

struct ev_io	*ev_io_add(struct ev_loop *loop, int fd, uint32_t events,
		    ev_io_cb *cb, void *arg);
int		 ev_io_set(struct ev_io *io, uint32_t events);
void		 ev_io_del(struct ev_io *io);	/* safe inside its callback */

struct ev_timer	*ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_cb *cb,
		    void *arg);		/* one-shot */
void		 ev_timer_del(struct ev_timer *t);	/* before it fires */

int		 ev_defer(struct ev_loop *loop, ev_cb *cb, void *arg);
struct ev_signal *ev_signal_add(struct ev_loop *loop, int signo,
		    ev_signal_cb *cb, void *arg);
void		 ev_signal_del(struct ev_signal *s);

/* work(arg) on a pool thread (ev_threads, default 4), then done(arg) on
 * the loop.  Returns 0, or -1 when the pool cannot take the job. */
int		 ev_run_blocking(struct ev_loop *loop, ev_cb *work,
		    ev_cb *done, void *arg);
/* Called once per iteration before epoll_wait (batched flushes). */
void		 ev_set_before_sleep(struct ev_loop *loop, ev_cb *cb,
		    void *arg);

/* One iteration: deferred calls, before_sleep, at most max_ms of waiting
 * (-1: until an event or timer), events, due timers.  For tests and for
 * callers that interleave the loop with other work. */
int		 ev_run_once(struct ev_loop *loop, int max_ms);
/* Pool size (config key worker_threads); before the first job only. */
void		 ev_set_threads(unsigned n);

#endif
