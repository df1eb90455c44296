/*
 * master.c -- the supervising process.  It holds the listeners, forks
 * `workers` workers, restarts one that dies (with a growing back-off),
 * reloads on SIGHUP (new workers with the new configuration take new
 * connections while the old ones drain) and stops on SIGTERM/SIGINT.
 *
 * The master runs no event loop: it waits for signals with
 * sigtimedwait(), which keeps it small and keeps epoll state out of the
 * workers it forks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "ev.h"
#include "log.h"
#include "login.h"
#include "master.h"
#include "worker.h"

#define RESTART_MIN_MS		500
#define RESTART_MAX_MS		30000
#define STABLE_MS		60000	/* a worker this old resets back-off */
#define STOP_EXTRA_MS		5000	/* beyond the grace, then SIGKILL */

struct worker_slot {
	pid_t		 pid;		/* 0: empty, waiting for restart */
	uint64_t	 started;
	uint64_t	 restart_at;
	uint64_t	 backoff;
};

static struct worker_slot	*slots;
static size_t			 nslots;
static pid_t			*old_pids;	/* previous generations, draining */
static size_t			 nold;

static size_t
worker_count(void)
{
	long	n = (long)config_num("workers");

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

static pid_t
spawn(struct boot *b)
{
	pid_t	pid;

	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		return -1;
	case 0:
		worker_main(b);
		/* NOTREACHED */
	default:
		log_debug("worker %d started", (int)pid);
		return pid;
	}
}

static int
spawn_all(struct boot *b)
{
	size_t	i;

	/* Before the fork: the workers share one failed-login table. */
	login_share();
	nslots = worker_count();
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		return -1;
	for (i = 0; i < nslots; i++) {
		slots[i].backoff = RESTART_MIN_MS;
		slots[i].started = ev_now_ms();
		if ((slots[i].pid = spawn(b)) == -1)
			return -1;
	}
	return 0;
}

/* Moves the current generation to the draining list and signals it. */
static void
retire_all(int signo)
{
	size_t	i;
	pid_t	*n;

	n = reallocarray(old_pids, nold + nslots, sizeof(*n));
	if (n != NULL)
		old_pids = n;
	for (i = 0; i < nslots; i++) {
		if (slots[i].pid <= 0)
			continue;
		kill(slots[i].pid, signo);
		if (n != NULL)
			old_pids[nold++] = slots[i].pid;
	}
	free(slots);
	slots = NULL;
	nslots = 0;
}

static void
describe_exit(pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("worker %d exited", (int)pid);
	else if (WIFEXITED(status))
		log_warnx("worker %d exited with status %d", (int)pid,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("worker %d killed by signal %d", (int)pid,
		    WTERMSIG(status));
}

static void
reap(int stopping)
{
	uint64_t	now = ev_now_ms();
	size_t		i;
	pid_t		pid;
	int		status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		describe_exit(pid, status);
		for (i = 0; i < nold; i++)
			if (old_pids[i] == pid)
				old_pids[i] = old_pids[--nold];
		for (i = 0; i < nslots; i++) {
			if (slots[i].pid != pid)
				continue;
			slots[i].pid = 0;
			if (stopping)
				break;
			if (now - slots[i].started >= STABLE_MS)
				slots[i].backoff = RESTART_MIN_MS;
			slots[i].restart_at = now + slots[i].backoff;
			log_warnx("restarting worker in %llu ms",
			    (unsigned long long)slots[i].backoff);
			slots[i].backoff *= 2;
			if (slots[i].backoff > RESTART_MAX_MS)
				slots[i].backoff = RESTART_MAX_MS;
		}
	}
}

static void
restart_due(struct boot *b)
{
	uint64_t	now = ev_now_ms();
	size_t		i;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid == 0 && now >= slots[i].restart_at) {
			slots[i].started = now;
			if ((slots[i].pid = spawn(b)) == -1)
				slots[i].pid = 0;
		}
}

static size_t
live_workers(void)
{
	size_t	i, n = nold;

	for (i = 0; i < nslots; i++)
		n += slots[i].pid > 0;
	return n;
}

/* SIGHUP: a new boot from the same file and overrides.  On any error the
 * running configuration stays and the reason is logged. */
static struct boot *
reload(struct boot *cur, const struct master_args *a)
{
	struct boot	*nb;
	char		 err[1024];

	if ((nb = calloc(1, sizeof(*nb))) == NULL)
		return cur;
	if (boot_load(nb, a->config_path, a->overrides, a->noverrides, 0,
	    err, sizeof(err)) == -1)
		goto fail;
	if (boot_tls(nb, 1, err, sizeof(err)) == -1 ||
	    listen_bind(&nb->ls, &cur->ls, err, sizeof(err)) == -1) {
		boot_free(nb);
		goto fail;
	}
	boot_activate(nb);
	retire_all(SIGTERM);
	if (spawn_all(nb) == -1)
		log_warnx("reload: could not start every worker");
	boot_free(cur);
	free(cur);
	log_info("configuration reloaded");
	return nb;
fail:
	free(nb);
	log_warnx("reload failed, keeping the running configuration: %s",
	    err);
	return cur;
}

/*
 * Blocked from before the listeners exist until sigtimedwait() takes
 * them, so a SIGTERM that races start-up is a clean stop, not a kill.
 */
void
master_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigprocmask(SIG_BLOCK, set, NULL);
}

int
master_run(struct boot *b, const struct master_args *a)
{
	struct timespec	 tick = { 0, 200 * 1000 * 1000 };
	sigset_t	 set;
	siginfo_t	 si;
	uint64_t	 deadline = 0;
	int		 sig, stopping = 0;

	master_block_signals(&set);
	signal(SIGPIPE, SIG_IGN);

	log_set_role("master");
	if (spawn_all(b) == -1)
		fatalx("cannot start workers");
	log_info("kurird started with %zu workers", nslots);
	for (;;) {
		sig = sigtimedwait(&set, &si, &tick);
		if (sig == SIGCHLD || sig == -1)
			reap(stopping);
		if (sig == SIGHUP && !stopping)
			b = reload(b, a);
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			log_info("stopping");
			deadline = ev_now_ms() + (uint64_t)config_num(
			    "shutdown_grace") * 1000 + STOP_EXTRA_MS;
			retire_all(SIGTERM);
		}
		if (!stopping)
			restart_due(b);
		else {
			reap(1);
			if (live_workers() == 0)
				break;
			if (ev_now_ms() >= deadline) {
				while (nold > 0)
					kill(old_pids[--nold], SIGKILL);
				break;
			}
		}
	}
	log_info("stopped");
	login_reset();
	boot_free(b);
	free(b);
	free(old_pids);
	return 0;
}
