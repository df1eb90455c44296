/*
 * ev_pool.c -- the loop's thread pool for blocking work (password
 * hashing, fsync-heavy storage calls).  Jobs wait in a FIFO; a pool
 * thread runs work(arg) and puts the job on the done list, then wakes the
 * loop through an eventfd; the loop runs done(arg) in completion order.
 * Threads start with the first job and block every signal, so signals
 * stay with the loop's signalfd.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ev.h"
#include "ev_private.h"

#define EV_POOL_DEFAULT		4
#define EV_POOL_MAX_THREADS	256
#define EV_POOL_MAX_QUEUED	100000	/* then ev_run_blocking fails */

static unsigned	ev_pool_size = EV_POOL_DEFAULT;

void
ev_set_threads(unsigned n)
{
	if (n == 0)
		n = EV_POOL_DEFAULT;
	if (n > EV_POOL_MAX_THREADS)
		n = EV_POOL_MAX_THREADS;
	ev_pool_size = n;
}

static void *
ev_pool_thread(void *arg)
{
	struct ev_pool	*p = arg;
	struct ev_job	*j;
	uint64_t	 one = 1;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->todo == NULL && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->todo == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		j = p->todo;
		if ((p->todo = j->next) == NULL)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);

		j->work(j->arg);

		j->next = NULL;
		pthread_mutex_lock(&p->mu);
		if (p->done_tail != NULL)
			p->done_tail->next = j;
		else
			p->done = j;
		p->done_tail = j;
		pthread_mutex_unlock(&p->mu);
		while (write(p->efd, &one, sizeof(one)) == -1 &&
		    errno == EINTR)
			;
	}
}

/* On the loop: finish what the threads have done, oldest first. */
static void
ev_pool_ready(int fd, uint32_t revents, void *arg)
{
	struct ev_pool	*p = arg;
	struct ev_job	*j, *next;
	uint64_t	 n;

	if (read(fd, &n, sizeof(n)) == -1)
		return;
	pthread_mutex_lock(&p->mu);
	j = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		pthread_mutex_lock(&p->mu);
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static int
ev_pool_start(struct ev_loop *loop)
{
	struct ev_pool	*p;
	sigset_t	 all, old;
	unsigned	 i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	if ((p->threads = calloc(ev_pool_size, sizeof(*p->threads))) == NULL)
		goto out_free;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->pid = getpid();
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto out_sync;
	if ((p->io = ev_io_add(loop, p->efd, EV_READ, ev_pool_ready,
	    p)) == NULL)
		goto out_efd;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < ev_pool_size; i++) {
		if (pthread_create(&p->threads[i], NULL, ev_pool_thread,
		    p) != 0)
			break;
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	loop->pool = p;
	if (p->nthreads == 0) {
		ev_pool_free(loop);
		return -1;
	}
	return 0;

out_efd:
	close(p->efd);
out_sync:
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
out_free:
	free(p);
	return -1;
}

int
ev_run_blocking(struct ev_loop *loop, ev_cb *work, ev_cb *done, void *arg)
{
	struct ev_pool	*p;
	struct ev_job	*j;

	if (loop->pool == NULL && ev_pool_start(loop) == -1)
		return -1;
	p = loop->pool;
	if ((j = malloc(sizeof(*j))) == NULL)
		return -1;
	j->next = NULL;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->mu);
	if (p->queued >= EV_POOL_MAX_QUEUED) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -1;
	}
	p->queued++;
	if (p->todo_tail != NULL)
		p->todo_tail->next = j;
	else
		p->todo = j;
	p->todo_tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void
ev_job_free_list(struct ev_job *j)
{
	struct ev_job	*next;

	for (; j != NULL; j = next) {
		next = j->next;
		free(j);
	}
}

/*
 * Lets the threads finish their current job and quit; queued jobs that
 * never started are dropped.  In a forked child the threads do not exist:
 * only the memory goes.
 */
void
ev_pool_free(struct ev_loop *loop)
{
	struct ev_pool	*p = loop->pool;
	unsigned	 i;

	if (p == NULL)
		return;
	loop->pool = NULL;
	if (p->pid == getpid()) {
		pthread_mutex_lock(&p->mu);
		ev_job_free_list(p->todo);
		p->todo = p->todo_tail = NULL;
		p->quit = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		for (i = 0; i < p->nthreads; i++)
			pthread_join(p->threads[i], NULL);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
	}
	ev_job_free_list(p->done);
	if (p->io != NULL && p->pid == getpid())
		ev_io_del(p->io);
	close(p->efd);
	free(p->threads);
	free(p);
}
