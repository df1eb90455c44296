/*
 * auth_pool.c -- hashing threads (see auth_pool.h).  Jobs wait in a FIFO
 * under a mutex; finished jobs go to a done list and an eventfd wakes the
 * loop, which calls their done() in order.  Nothing here touches a
 * connection: login.c keeps its exchange alive until done() runs.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth_pool.h"
#include "config.h"
#include "log.h"

struct apjob {
	TAILQ_ENTRY(apjob)	 entry;
	ev_cb			*work;
	ev_cb			*done;
	void			*arg;
};
TAILQ_HEAD(apjobs, apjob);

static pthread_mutex_t	 ap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 ap_cv = PTHREAD_COND_INITIALIZER;
static struct apjobs	 ap_todo = TAILQ_HEAD_INITIALIZER(ap_todo);
static struct apjobs	 ap_done = TAILQ_HEAD_INITIALIZER(ap_done);
static pid_t		 ap_pid;		/* process the threads run in */
static int		 ap_efd = -1;
static struct ev_io	*ap_io;
static unsigned		 ap_threads;
static unsigned		 ap_pending;
static unsigned		 ap_max_pending;
static int		 ap_nice;

static void *
ap_thread(void *unused)
{
	struct apjob	*j;
	uint64_t	 one = 1;

	/* Lower this thread only (Linux: nice is per thread). */
	if (ap_nice > 0)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
		    ap_nice);
	for (;;) {
		pthread_mutex_lock(&ap_mu);
		while (TAILQ_EMPTY(&ap_todo))
			pthread_cond_wait(&ap_cv, &ap_mu);
		j = TAILQ_FIRST(&ap_todo);
		TAILQ_REMOVE(&ap_todo, j, entry);
		pthread_mutex_unlock(&ap_mu);

		j->work(j->arg);

		pthread_mutex_lock(&ap_mu);
		TAILQ_INSERT_TAIL(&ap_done, j, entry);
		pthread_mutex_unlock(&ap_mu);
		while (write(ap_efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

static void
ap_wakeup(int fd, uint32_t revents, void *unused)
{
	struct apjobs	 done = TAILQ_HEAD_INITIALIZER(done);
	struct apjob	*j;
	uint64_t	 n;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("auth: eventfd read");
	pthread_mutex_lock(&ap_mu);
	TAILQ_CONCAT(&done, &ap_done, entry);
	pthread_mutex_unlock(&ap_mu);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		ap_pending--;
		j->done(j->arg);
		free(j);
	}
}

static int
ap_start(void)
{
	pthread_attr_t	attr;
	pthread_t	t;
	int64_t		v;
	unsigned	i, n;

	v = config_num("auth_threads");
	n = v < 0 ? 2 : (unsigned)v;
	v = config_num("auth_max_pending");
	ap_max_pending = v <= 0 ? 1000 : (unsigned)v;
	v = config_num("auth_thread_nice");
	ap_nice = v < 0 ? 10 : v > 19 ? 19 : (int)v;
	ap_pid = getpid();
	if (n == 0)
		return 0;
	if ((ap_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("auth: eventfd");
		return -1;
	}
	if ((ap_io = ev_io_add(ev_default(), ap_efd, EV_READ, ap_wakeup,
	    NULL)) == NULL) {
		close(ap_efd);
		ap_efd = -1;
		return -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < n; i++)
		if (pthread_create(&t, &attr, ap_thread, NULL) == 0)
			ap_threads++;
	pthread_attr_destroy(&attr);
	if (ap_threads == 0) {
		log_warnx("auth: cannot start hashing threads");
		return -1;
	}
	return 0;
}

int
auth_pool_run(ev_cb *work, ev_cb *done, void *arg)
{
	struct apjob	*j;

	if (ap_pid != getpid()) {
		/* first use in this process: threads do not survive fork */
		ap_threads = 0;
		ap_pending = 0;
		ap_io = NULL;
		ap_efd = -1;
		TAILQ_INIT(&ap_todo);
		TAILQ_INIT(&ap_done);
		if (ap_start() == -1)
			return -1;
	}
	if (ap_pending >= ap_max_pending)
		return -1;
	if (ap_threads == 0) {
		if (ev_run_blocking(ev_default(), work, done, arg) == -1)
			return -1;
		return 0;
	}
	if ((j = malloc(sizeof(*j))) == NULL)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&ap_mu);
	TAILQ_INSERT_TAIL(&ap_todo, j, entry);
	pthread_cond_signal(&ap_cv);
	pthread_mutex_unlock(&ap_mu);
	ap_pending++;
	return 0;
}

unsigned
auth_pool_pending(void)
{
	return ap_pending;
}
