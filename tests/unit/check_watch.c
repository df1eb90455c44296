/*
 * check_watch.c -- core/watch.c, the per-process path watch service
 * behind api->watch_path(): one kernel watch per path however many
 * callers (dedup, refcount), event kinds per caller, deletion from
 * inside callbacks, 300 paths on one inotify instance (more than the
 * 128 instances a user may have), a deleted path, and the timer
 * fallback when inotify is unavailable, with recovery.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "watch.h"

#define NCB	400

static char	 dir[256];
static int	 calls[NCB];
static struct kurir_pathwatch *w[NCB];

static void
count_cb(void *arg)
{
	calls[(intptr_t)arg]++;
}

/* Another process of this user may hold every inotify instance
 * (max_user_instances): the kernel cases cannot run then. */
static int
no_inotify(void)
{
	int fd;

	if ((fd = inotify_init1(IN_CLOEXEC)) == -1) {
		fprintf(stderr, "no inotify instance left for this user: "
		    "kernel watch cases not run\n");
		return 1;
	}
	close(fd);
	return 0;
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_watch.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(calls, 0, sizeof(calls));
	memset(w, 0, sizeof(w));
}

static void
teardown(void)
{
	char cmd[300];

	watch_free_all();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
touch(const char *name)
{
	char path[512];
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
}

/* Run the loop until calls[i] changes or ms pass; the time it took. */
static uint64_t
wait_call(int i, uint64_t ms)
{
	uint64_t t0 = ev_now_ms();
	int before = calls[i];

	while (calls[i] == before && ev_now_ms() - t0 < ms)
		ev_run_once(ev_default(), 20);
	return ev_now_ms() - t0;
}

/* Run the loop for ms, whatever happens. */
static void
spin(uint64_t ms)
{
	uint64_t t0 = ev_now_ms();

	while (ev_now_ms() - t0 < ms)
		ev_run_once(ev_default(), 10);
}

START_TEST(dedup_refcount)
{
	char path[512];

	if (no_inotify())
		return;

	touch("f");
	path_of(path, sizeof(path), "f");
	w[0] = watch_add(path, KURIR_PATH_MODIFY, count_cb, (void *)0);
	w[1] = watch_add(path, KURIR_PATH_MODIFY, count_cb, (void *)1);
	ck_assert_ptr_nonnull(w[0]);
	ck_assert_ptr_nonnull(w[1]);
	ck_assert(watch_is_kernel(w[0]) && watch_is_kernel(w[1]));
	ck_assert_uint_eq(watch_count_kernel(), 1);
	ck_assert_uint_eq(watch_count_polled(), 0);
	/* the same file by another spelling: the same inode, kept apart */
	snprintf(path, sizeof(path), "%s/./f", dir);
	w[2] = watch_add(path, KURIR_PATH_MODIFY, count_cb, (void *)2);
	ck_assert_uint_eq(watch_count_kernel(), 2);

	touch("f");
	wait_call(0, 2000);
	spin(50);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], 1);
	ck_assert_int_eq(calls[2], 1);

	/* one caller leaves: the other still hears */
	watch_del(w[0]);
	watch_del(w[2]);
	ck_assert_uint_eq(watch_count_kernel(), 1);
	touch("f");
	wait_call(1, 2000);
	ck_assert_int_eq(calls[1], 2);
	ck_assert_int_eq(calls[0], 1);
	watch_del(w[1]);
	ck_assert_uint_eq(watch_count_kernel(), 0);
	touch("f");
	spin(100);
	ck_assert_int_eq(calls[1], 2);

	/* bad arguments */
	ck_assert_ptr_null(watch_add("", KURIR_PATH_MODIFY, count_cb, NULL));
	ck_assert_ptr_null(watch_add(path, KURIR_PATH_MODIFY, NULL, NULL));
	ck_assert_ptr_null(watch_add(path, 0x8000, count_cb, NULL));
	watch_del(NULL);
}
END_TEST

START_TEST(event_kinds)
{
	char path[512], from[512], to[512];

	if (no_inotify())
		return;

	ck_assert_int_eq(mkdir(strcat(strcpy(path, dir), "/d"), 0700), 0);
	w[0] = watch_add(path, KURIR_PATH_CREATE, count_cb, (void *)0);
	w[1] = watch_add(path, KURIR_PATH_MOVED_IN, count_cb, (void *)1);
	w[2] = watch_add(path, KURIR_PATH_DELETE | KURIR_PATH_MOVED_OUT,
	    count_cb, (void *)2);
	ck_assert_uint_eq(watch_count_kernel(), 1);

	touch("d/a");			/* CREATE only */
	wait_call(0, 2000);
	spin(50);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], 0);
	ck_assert_int_eq(calls[2], 0);

	touch("b");			/* renamed in: MOVED_IN only */
	path_of(from, sizeof(from), "b");
	path_of(to, sizeof(to), "d/b");
	ck_assert_int_eq(rename(from, to), 0);
	wait_call(1, 2000);
	spin(50);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], 1);
	ck_assert_int_eq(calls[2], 0);

	ck_assert_int_eq(unlink(to), 0);	/* DELETE */
	wait_call(2, 2000);
	spin(50);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], 1);
	ck_assert_int_eq(calls[2], 1);
}
END_TEST

/* Deleting from inside callbacks. */
static char	 repath[512];

static void
del_other_cb(void *arg)
{
	calls[(intptr_t)arg]++;
	/* delete self, the next caller, and add a new one on the path */
	watch_del(w[0]);
	watch_del(w[1]);
	w[3] = watch_add(repath, KURIR_PATH_MODIFY, count_cb, (void *)3);
}

START_TEST(delete_while_dispatching)
{
	if (no_inotify())
		return;
	path_of(repath, sizeof(repath), "f");
	touch("f");
	w[0] = watch_add(repath, KURIR_PATH_MODIFY, del_other_cb, (void *)0);
	w[1] = watch_add(repath, KURIR_PATH_MODIFY, count_cb, (void *)1);
	w[2] = watch_add(repath, KURIR_PATH_MODIFY, count_cb, (void *)2);
	touch("f");
	wait_call(0, 2000);
	spin(50);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], 0);	/* deleted before its turn */
	ck_assert_int_eq(calls[2], 1);
	ck_assert_int_eq(calls[3], 0);	/* added during the round */
	ck_assert_uint_eq(watch_count_kernel(), 1);
	touch("f");
	wait_call(3, 2000);
	ck_assert_int_eq(calls[3], 1);
	ck_assert_int_eq(calls[2], 2);
	ck_assert_int_eq(calls[0], 1);
	/* the last callers go: the path with them */
	watch_del(w[2]);
	watch_del(w[3]);
	ck_assert_uint_eq(watch_count_kernel(), 0);
}
END_TEST

/* A callback that removes the last caller of its own path. */
static void
del_self_cb(void *arg)
{
	calls[(intptr_t)arg]++;
	watch_del(w[(intptr_t)arg]);
}

START_TEST(delete_last_in_callback)
{
	char path[512];

	if (no_inotify())
		return;

	path_of(path, sizeof(path), "f");
	touch("f");
	w[0] = watch_add(path, KURIR_PATH_MODIFY, del_self_cb, (void *)0);
	touch("f");
	wait_call(0, 2000);
	spin(50);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_uint_eq(watch_count_kernel(), 0);
	touch("f");
	spin(100);
	ck_assert_int_eq(calls[0], 1);
}
END_TEST

/* 300 paths: one process used to need an inotify instance each (128
 * per user); all are kernel watches now, and a change wakes only its
 * own callers, at once. */
START_TEST(many_paths)
{
	char name[32], path[512];
	uint64_t took;
	int i;

	if (no_inotify())
		return;

	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		touch(name);
		path_of(path, sizeof(path), name);
		w[i] = watch_add(path, KURIR_PATH_MODIFY, count_cb,
		    (void *)(intptr_t)i);
		ck_assert_ptr_nonnull(w[i]);
		ck_assert(watch_is_kernel(w[i]));
	}
	ck_assert_uint_eq(watch_count_kernel(), 300);
	ck_assert_uint_eq(watch_count_polled(), 0);
	for (i = 290; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		touch(name);
		took = wait_call(i, 5000);
		ck_assert_int_eq(calls[i], 1);
		/* generous: polling would take up to WATCH_POLL_MS */
		ck_assert_uint_lt(took, 400);
	}
	spin(50);
	for (i = 0; i < 290; i++)
		ck_assert_int_eq(calls[i], 0);
	for (i = 0; i < 300; i += 2)
		watch_del(w[i]);
	ck_assert_uint_eq(watch_count_kernel(), 150);
}
END_TEST

/* The path is deleted: its callers hear it, it is polled, and once it
 * exists again it gets a kernel watch back. */
START_TEST(path_deleted)
{
	char path[512];

	if (no_inotify())
		return;

	path_of(path, sizeof(path), "f");
	touch("f");
	w[0] = watch_add(path, KURIR_PATH_MODIFY, count_cb, (void *)0);
	ck_assert(watch_is_kernel(w[0]));
	ck_assert_int_eq(unlink(path), 0);
	wait_call(0, 2000);
	ck_assert_int_ge(calls[0], 1);
	spin(50);
	ck_assert(!watch_is_kernel(w[0]));
	ck_assert_uint_eq(watch_count_polled(), 1);
	touch("f");
	spin(WATCH_POLL_MS * 2 + 200);
	ck_assert(watch_is_kernel(w[0]));
	ck_assert_uint_eq(watch_count_polled(), 0);
	calls[0] = 0;
	touch("f");
	ck_assert_uint_lt(wait_call(0, 2000), 400);
	watch_del(w[0]);
	ck_assert_uint_eq(watch_count_kernel(), 0);
}
END_TEST

/* No inotify instance to be had (as past max_user_instances): every
 * path is polled by the one timer, and a kernel watch is taken once
 * inotify works again. */
START_TEST(fallback_no_instance)
{
	char path[512];
	uint64_t t0;
	int i;

	touch("p0");
	touch("p1");
	touch("p2");
	watch_test_fail(1);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/p%d", dir, i);
		w[i] = watch_add(path, KURIR_PATH_MODIFY, count_cb,
		    (void *)(intptr_t)i);
		ck_assert_ptr_nonnull(w[i]);
		ck_assert(!watch_is_kernel(w[i]));
	}
	/* the same path twice is still one polled entry */
	w[3] = watch_add(path, KURIR_PATH_MODIFY, count_cb, (void *)3);
	ck_assert_uint_eq(watch_count_polled(), 3);
	ck_assert_uint_eq(watch_count_kernel(), 0);
	t0 = ev_now_ms();
	wait_call(0, 3000);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_uint_ge(ev_now_ms() - t0, WATCH_POLL_MS - 50);
	ck_assert_uint_lt(ev_now_ms() - t0, WATCH_POLL_MS + 1000);
	spin(20);
	ck_assert_int_eq(calls[2], 1);
	ck_assert_int_eq(calls[3], 1);
	/* a polled path deleted inside the loop stops being called */
	watch_del(w[1]);
	ck_assert_uint_eq(watch_count_polled(), 2);

	watch_test_fail(0);
	t0 = ev_now_ms();
	while (watch_count_polled() > 0 &&
	    ev_now_ms() - t0 < WATCH_POLL_MS * (WATCH_RETRY_POLLS + 4))
		ev_run_once(ev_default(), 50);
	ck_assert_uint_eq(watch_count_polled(), 0);
	ck_assert(watch_is_kernel(w[0]) && watch_is_kernel(w[3]));
	ck_assert_int_eq(calls[1], 1);
	/* kernel now: a change is heard at once */
	memset(calls, 0, sizeof(calls));
	spin(50);
	touch("p0");
	ck_assert_uint_lt(wait_call(0, 2000), 400);
}
END_TEST

/* inotify works but no watch can be added (max_user_watches). */
START_TEST(fallback_no_watch)
{
	char path[512];

	touch("f");
	path_of(path, sizeof(path), "f");
	watch_test_fail(2);
	w[0] = watch_add(path, KURIR_PATH_MODIFY, count_cb, (void *)0);
	ck_assert(!watch_is_kernel(w[0]));
	ck_assert_uint_eq(watch_count_polled(), 1);
	touch("f");
	wait_call(0, 3000);
	ck_assert_int_eq(calls[0], 1);
	watch_del(w[0]);
	ck_assert_uint_eq(watch_count_polled(), 0);
	spin(WATCH_POLL_MS + 100);
	ck_assert_int_eq(calls[0], 1);
}
END_TEST

static Suite *
watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, dedup_refcount);
	tcase_add_test(tc, event_kinds);
	tcase_add_test(tc, delete_while_dispatching);
	tcase_add_test(tc, delete_last_in_callback);
	tcase_add_test(tc, many_paths);
	tcase_add_test(tc, path_deleted);
	tcase_add_test(tc, fallback_no_instance);
	tcase_add_test(tc, fallback_no_watch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(watch_suite());
	int nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
