/*
 * worker.c -- one worker process: drops privileges, opens per-process
 * module state (init_worker), then runs one event loop that accepts on
 * the listeners inherited from the master and hands each connection to
 * its service's protocol module.
 *
 * SIGTERM (or SIGINT) drains: the worker closes its copies of the
 * listeners, asks every session to finish (on_shutdown), and exits when
 * none is left or shutdown_grace has passed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "boot.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "module.h"
#include "privsep.h"
#include "worker.h"

#define ACCEPT_RETRY_MS		100	/* after EMFILE or max_connections */
#define DRAIN_POLL_MS		50

struct worker_listener {
	int			 fd;
	const struct conn_service *svc;
	struct ev_io		*io;
	struct ev_timer		*retry;
};

static struct worker_listener	*wl;
static size_t			 nwl;
static size_t			 max_conns;
static int			 draining;

static void	accept_ready(int fd, uint32_t revents, void *arg);

static void
accept_resume(void *arg)
{
	struct worker_listener	*l = arg;

	l->retry = NULL;
	if (!draining && l->io == NULL)
		l->io = ev_io_add(ev_default(), l->fd, EV_READ, accept_ready,
		    l);
}

/* Stop accepting on l for a moment; the kernel queues meanwhile. */
static void
accept_pause(struct worker_listener *l)
{
	if (l->io != NULL) {
		ev_io_del(l->io);
		l->io = NULL;
	}
	if (l->retry == NULL)
		l->retry = ev_timer_add(ev_default(), ACCEPT_RETRY_MS,
		    accept_resume, l);
}

static void
accept_ready(int fd, uint32_t revents, void *arg)
{
	struct worker_listener	*l = arg;
	int			 cfd;

	for (;;) {
		if (conn_count() >= max_conns) {
			accept_pause(l);
			return;
		}
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept on %s", l->svc->name);
				accept_pause(l);
			}
			/* EAGAIN: another worker took it; others: the
			 * client went away before we got to it. */
			return;
		}
		if (conn_new(cfd, l->svc) == NULL)
			close(cfd);
	}
}

static void
drain_check(void *arg)
{
	if (conn_count() == 0) {
		ev_stop(ev_default());
		return;
	}
	ev_timer_add(ev_default(), DRAIN_POLL_MS, drain_check, NULL);
}

static void
grace_over(void *arg)
{
	log_info("shutdown grace over, closing %zu connections",
	    conn_count());
	conn_close_all();
	ev_stop(ev_default());
}

static void
worker_drain(int signo, void *arg)
{
	size_t	i;

	if (draining)
		return;
	draining = 1;
	for (i = 0; i < nwl; i++) {
		if (wl[i].io != NULL)
			ev_io_del(wl[i].io);
		if (wl[i].retry != NULL)
			ev_timer_del(wl[i].retry);
		wl[i].io = NULL;
		wl[i].retry = NULL;
		close(wl[i].fd);
	}
	log_info("draining %zu connections", conn_count());
	conn_shutdown_all();
	ev_timer_add(ev_default(), (uint64_t)config_num("shutdown_grace") *
	    1000, grace_over, NULL);
	drain_check(NULL);
}

static void
worker_limits(void)
{
	struct conn_limits	lim;

	memset(&lim, 0, sizeof(lim));
	lim.max_line = (size_t)config_num("max_line_length");
	lim.out_high = (size_t)config_num("output_high_water");
	lim.out_low = (size_t)config_num("output_low_water");
	lim.out_max = (size_t)config_num("output_buffer_max");
	lim.idle_timeout = (uint32_t)config_num("idle_timeout");
	lim.tls_handshake_timeout = (uint32_t)config_num(
	    "tls_handshake_timeout");
	lim.allow_plaintext_loopback = config_num("allow_plaintext_loopback")
	    == 1;
	conn_set_limits(&lim);
	max_conns = (size_t)config_num("max_connections");
	ev_set_threads((unsigned)config_num("worker_threads"));
}

static const struct conn_service *
service_find(const struct boot *b, const char *name)
{
	size_t	i;

	for (i = 0; i < b->nservices; i++)
		if (strcmp(b->services[i].name, name) == 0)
			return &b->services[i];
	return NULL;
}

void
worker_main(struct boot *b)
{
	char	err[1024];
	size_t	i;

	log_set_role("worker");
	/* Die with the master rather than serve on unsupervised. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (privsep_drop(err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (module_init_worker_all(err, sizeof(err)) == -1)
		fatalx("%s", err);
	worker_limits();
	if ((wl = calloc(b->ls.n, sizeof(*wl))) == NULL)
		fatal("calloc");
	for (i = 0; i < b->ls.n; i++) {
		wl[nwl].fd = b->ls.l[i].fd;
		wl[nwl].svc = service_find(b, b->ls.l[i].service);
		if (wl[nwl].svc == NULL)
			continue;
		if ((wl[nwl].io = ev_io_add(ev_default(), wl[nwl].fd, EV_READ,
		    accept_ready, &wl[nwl])) == NULL)
			fatalx("cannot watch %s", b->ls.l[i].spec);
		nwl++;
	}
	if (ev_signal_add(ev_default(), SIGTERM, worker_drain, NULL) == NULL ||
	    ev_signal_add(ev_default(), SIGINT, worker_drain, NULL) == NULL)
		fatalx("cannot watch signals");
	ev_run(ev_default());
	module_close_all();
	exit(0);
}
