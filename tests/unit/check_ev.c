/*
 * check_ev.c -- the event loop: timer order and deletion (against a
 * reference model), deferred calls, fds (deleting inside callbacks,
 * changing interest), signals, the thread pool and before_sleep.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "ev_private.h"

static int	order[4096];
static int	norder;

static void
record(void *arg)
{
	order[norder++] = (int)(intptr_t)arg;
}

static void
stop_cb(void *arg)
{
	ev_stop(ev_default());
}

START_TEST(timers_order)
{
	struct ev_loop	*loop = ev_default();

	norder = 0;
	ev_timer_add(loop, 30, record, (void *)3);
	ev_timer_add(loop, 10, record, (void *)1);
	ev_timer_add(loop, 20, record, (void *)2);
	/* Equal deadlines fire in the order they were added. */
	ev_timer_add(loop, 0, record, (void *)10);
	ev_timer_add(loop, 0, record, (void *)11);
	ev_timer_add(loop, 0, record, (void *)12);
	ev_timer_add(loop, 50, stop_cb, NULL);
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(norder, 6);
	ck_assert_int_eq(order[0], 10);
	ck_assert_int_eq(order[1], 11);
	ck_assert_int_eq(order[2], 12);
	ck_assert_int_eq(order[3], 1);
	ck_assert_int_eq(order[4], 2);
	ck_assert_int_eq(order[5], 3);
}
END_TEST

static uint64_t	fired_at[512];
static uint64_t	due[512];

static void
stamp(void *arg)
{
	int	i = (int)(intptr_t)arg;

	fired_at[i] = ev_now_ms();
	order[norder++] = i;
}

/* Random timers, a third deleted: exactly the rest fire, in deadline
 * order, never early. */
START_TEST(timers_heap_model)
{
	struct ev_loop	*loop = ev_default();
	struct ev_timer	*t[512];
	int		 deleted[512], i, alive = 0;
	uint64_t	 start = ev_now_ms();

	srandom(4242);
	norder = 0;
	for (i = 0; i < 512; i++) {
		uint64_t ms = (uint64_t)(random() % 200);

		t[i] = ev_timer_add(loop, ms, stamp, (void *)(intptr_t)i);
		ck_assert_ptr_nonnull(t[i]);
		due[i] = t[i]->when;
		ck_assert_uint_ge(due[i], start + ms);
		deleted[i] = 0;
	}
	for (i = 0; i < 512; i++) {
		if (random() % 3 == 0) {
			ev_timer_del(t[i]);
			deleted[i] = 1;
		} else
			alive++;
	}
	ev_timer_add(loop, 300, stop_cb, NULL);
	ev_run(loop);
	ck_assert_int_eq(norder, alive);
	for (i = 0; i < norder; i++) {
		ck_assert(!deleted[order[i]]);
		ck_assert_uint_ge(fired_at[order[i]], due[order[i]]);
		if (i > 0)
			ck_assert_uint_le(due[order[i - 1]], due[order[i]]);
	}
}
END_TEST

static struct ev_timer	*victim;

static void
kill_victim(void *arg)
{
	ev_timer_del(victim);
	record(arg);
}

START_TEST(timers_delete_from_callback)
{
	struct ev_loop	*loop = ev_default();

	norder = 0;
	ev_timer_add(loop, 5, kill_victim, (void *)1);
	victim = ev_timer_add(loop, 5, record, (void *)2);
	ev_timer_add(loop, 40, stop_cb, NULL);
	ev_run(loop);
	ck_assert_int_eq(norder, 1);
	ck_assert_int_eq(order[0], 1);
}
END_TEST

static void
defer_again(void *arg)
{
	record(arg);
	if ((intptr_t)arg < 3)
		ev_defer(ev_default(), defer_again,
		    (void *)((intptr_t)arg + 1));
}

static int	 before_sleeps;

static void
count_sleep(void *arg)
{
	before_sleeps++;
}

START_TEST(deferred_calls)
{
	struct ev_loop	*loop = ev_default();

	norder = 0;
	ev_defer(loop, record, (void *)7);
	ev_defer(loop, record, (void *)8);
	ev_defer(loop, defer_again, (void *)1);
	ev_set_before_sleep(loop, count_sleep, NULL);
	/* One iteration runs the calls queued before it only. */
	ev_run_once(loop, 0);
	ck_assert_int_eq(norder, 3);
	ck_assert_int_eq(order[0], 7);
	ck_assert_int_eq(order[1], 8);
	ck_assert_int_eq(order[2], 1);
	ck_assert_int_eq(before_sleeps, 1);
	ev_timer_add(loop, 20, stop_cb, NULL);
	ev_run(loop);
	ck_assert_int_eq(norder, 5);
	ck_assert_int_eq(order[3], 2);
	ck_assert_int_eq(order[4], 3);
	ck_assert_int_gt(before_sleeps, 1);
}
END_TEST

static int		 pfd[2][2];
static struct ev_io	*pio[2];
static int		 hits[2];

/* Whichever fd goes first deletes both: the other, though already in
 * the same epoll batch, must not be called. */
static void
io_del_both(int fd, uint32_t revents, void *arg)
{
	int	i = (int)(intptr_t)arg;

	hits[i]++;
	ck_assert(revents & EV_READ);
	ev_io_del(pio[0]);
	ev_io_del(pio[1]);
	ev_timer_add(ev_default(), 10, stop_cb, NULL);
}

START_TEST(io_delete_in_batch)
{
	struct ev_loop	*loop = ev_default();
	int		 i;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pipe(pfd[i]), 0);
		pio[i] = ev_io_add(loop, pfd[i][0], EV_READ, io_del_both,
		    (void *)(intptr_t)i);
		ck_assert_ptr_nonnull(pio[i]);
		ck_assert_int_eq(write(pfd[i][1], "x", 1), 1);
	}
	ev_run(loop);
	ck_assert_int_eq(hits[0] + hits[1], 1);
}
END_TEST

static int	wr_hits, rd_hits;

static void
io_rw(int fd, uint32_t revents, void *arg)
{
	if (revents & EV_WRITE)
		wr_hits++;
	if (revents & EV_READ)
		rd_hits++;
}

START_TEST(io_set_interest)
{
	struct ev_loop	*loop = ev_default();
	struct ev_io	*io;
	int		 p[2];

	ck_assert_int_eq(pipe(p), 0);
	io = ev_io_add(loop, p[1], EV_WRITE, io_rw, NULL);
	ev_run_once(loop, 50);
	ck_assert_int_eq(wr_hits, 1);
	/* No interest: nothing, even though the fd stays writable. */
	ck_assert_int_eq(ev_io_set(io, 0), 0);
	ev_run_once(loop, 20);
	ck_assert_int_eq(wr_hits, 1);
	ck_assert_int_eq(ev_io_set(io, EV_WRITE), 0);
	ev_run_once(loop, 50);
	ck_assert_int_eq(wr_hits, 2);
	ev_io_del(io);
	/* A read end whose writer is gone reports readable (EOF). */
	io = ev_io_add(loop, p[0], EV_READ, io_rw, NULL);
	close(p[1]);
	ev_run_once(loop, 50);
	ck_assert_int_eq(rd_hits, 1);
	ev_io_del(io);
}
END_TEST

static int	got_signo;

static void
on_signal(int signo, void *arg)
{
	got_signo = signo;
	ev_stop(ev_default());
}

START_TEST(signals)
{
	struct ev_loop		*loop = ev_default();
	struct ev_signal	*s;

	s = ev_signal_add(loop, SIGUSR1, on_signal, NULL);
	ck_assert_ptr_nonnull(s);
	kill(getpid(), SIGUSR1);
	ev_timer_add(loop, 2000, stop_cb, NULL);
	ev_run(loop);
	ck_assert_int_eq(got_signo, SIGUSR1);
	ev_signal_del(s);
}
END_TEST

#define NJOBS	200

struct job {
	int		 n;
	long		 result;
	pthread_t	 worker;
	int		 done_on_loop;
};

static struct job	jobs[NJOBS];
static int		njobs_done;
static pthread_t	loop_thread;

static void
job_work(void *arg)
{
	struct job	*j = arg;
	long		 s = 0;
	int		 i;

	for (i = 0; i <= j->n; i++)
		s += i;
	j->result = s;
	j->worker = pthread_self();
	usleep(1000);
}

static void
job_done(void *arg)
{
	struct job	*j = arg;

	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	if (++njobs_done == NJOBS)
		ev_stop(ev_default());
}

START_TEST(thread_pool)
{
	struct ev_loop	*loop = ev_default();
	pthread_t	 seen[NJOBS];
	int		 i, j, others = 0, nseen = 0;

	loop_thread = pthread_self();
	ev_set_threads(4);
	for (i = 0; i < NJOBS; i++) {
		jobs[i].n = i;
		ck_assert_int_eq(ev_run_blocking(loop, job_work, job_done,
		    &jobs[i]), 0);
	}
	ev_timer_add(loop, 10000, stop_cb, NULL);
	ev_run(loop);
	ck_assert_int_eq(njobs_done, NJOBS);
	for (i = 0; i < NJOBS; i++) {
		ck_assert_int_eq(jobs[i].result, (long)i * (i + 1) / 2);
		ck_assert(jobs[i].done_on_loop);
		if (!pthread_equal(jobs[i].worker, loop_thread))
			others++;
		for (j = 0; j < nseen; j++)
			if (pthread_equal(seen[j], jobs[i].worker))
				break;
		if (j == nseen)
			seen[nseen++] = jobs[i].worker;
	}
	ck_assert_int_eq(others, NJOBS);
	/* The jobs sleep: more than one thread took them, at most 4. */
	ck_assert_int_ge(nseen, 2);
	ck_assert_int_le(nseen, 4);
	ev_free_default();
}
END_TEST

static Suite *
ev_suite(void)
{
	Suite	*s = suite_create("ev");
	TCase	*tc;

	tc = tcase_create("timers");
	tcase_add_test(tc, timers_order);
	tcase_add_test(tc, timers_heap_model);
	tcase_add_test(tc, timers_delete_from_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("deferred");
	tcase_add_test(tc, deferred_calls);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_add_test(tc, io_delete_in_batch);
	tcase_add_test(tc, io_set_interest);
	tcase_add_test(tc, signals);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, thread_pool);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(ev_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
