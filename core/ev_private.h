/*
 * ev_private.h -- the event loop's internals, shared by ev.c and
 * ev_pool.c only.
 */
#ifndef KURIR_CORE_EV_PRIVATE_H
#define KURIR_CORE_EV_PRIVATE_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "ev.h"

struct ev_io {
	struct ev_loop	*loop;
	struct ev_io	*next, *prev;	/* loop->ios */
	struct ev_io	*next_dead;	/* loop->dead, freed after a batch */
	ev_io_cb	*cb;
	void		*arg;
	int		 fd;
	uint32_t	 events;
	unsigned	 registered:1;
	unsigned	 dead:1;
};

struct ev_timer {
	struct ev_loop	*loop;
	uint64_t	 when;		/* ev_now_ms() deadline */
	uint64_t	 seq;		/* FIFO among equal deadlines */
	size_t		 idx;		/* position in loop->heap */
	ev_cb		*cb;
	void		*arg;
};

struct ev_deferred {
	struct ev_deferred	*next;
	ev_cb			*cb;
	void			*arg;
};

struct ev_signal {
	struct ev_loop		*loop;
	struct ev_signal	*next;
	int			 signo;
	int			 dead;
	ev_signal_cb		*cb;
	void			*arg;
};

struct ev_job {
	struct ev_job	*next;
	ev_cb		*work;
	ev_cb		*done;
	void		*arg;
};

struct ev_pool {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct ev_job	*todo, *todo_tail;
	struct ev_job	*done, *done_tail;
	size_t		 queued;
	int		 quit;
	int		 efd;		/* eventfd: completions are waiting */
	struct ev_io	*io;
	pthread_t	*threads;
	unsigned	 nthreads;
	pid_t		 pid;		/* threads exist in this process only */
};

struct ev_loop {
	int			 epfd;
	pid_t			 pid;
	int			 stop;
	struct ev_io		*ios;
	struct ev_io		*dead;
	struct ev_timer		**heap;
	size_t			 ntimers, captimers;
	uint64_t		 timer_seq;
	struct ev_deferred	*defer_head, *defer_tail;
	int			 sigfd;
	sigset_t		 sigmask;
	struct ev_io		*sigio;
	struct ev_signal	*signals;
	int			 sig_dispatching;
	ev_cb			*before_sleep;
	void			*before_sleep_arg;
	struct ev_pool		*pool;
};

void	ev_pool_free(struct ev_loop *loop);
void	ev_signal_reap(struct ev_loop *loop);

#endif
