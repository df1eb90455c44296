/*
 * check_throttle.c -- login throttling with an injected clock: growing
 * delays, lockouts and their expiry, the window, exempt networks (v4, v6,
 * v4-mapped), the table bound, and the table shared by processes forked
 * after it was made (the master and its workers).
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "throttle.h"

static const struct throttle_conf conf = {
	.delay_ms = 1000,
	.delay_max_ms = 8000,
	.ip_failures = 6,
	.user_failures = 4,
	.window_ms = 600000,
	.lockout_ms = 300000,
	.max_entries = 100,
};

START_TEST(test_growing_delay)
{
	struct throttle	*t = throttle_new(&conf);
	uint64_t	 now = 1000;

	ck_assert_int_eq(throttle_check(t, "192.0.2.1", "alice", now), 0);
	ck_assert_uint_eq(throttle_fail(t, "192.0.2.1", "alice", now), 1000);
	ck_assert_uint_eq(throttle_fail(t, "192.0.2.1", "alice", now), 2000);
	ck_assert_uint_eq(throttle_fail(t, "192.0.2.1", "alice", now), 4000);
	ck_assert_int_eq(throttle_check(t, "192.0.2.1", "alice", now), 0);
	/* 4th failure for alice: capped delay, and she is locked */
	ck_assert_uint_eq(throttle_fail(t, "192.0.2.1", "alice", now), 8000);
	ck_assert_int_eq(throttle_check(t, "192.0.2.1", "alice", now), -1);
	ck_assert_int_eq(throttle_check(t, "192.0.2.9", "alice", now), -1);
	/* the address is not locked yet: another user may try */
	ck_assert_int_eq(throttle_check(t, "192.0.2.1", "bob", now), 0);
	/* the lockout ends */
	now += conf.lockout_ms - 1;
	ck_assert_int_eq(throttle_check(t, "192.0.2.9", "alice", now), -1);
	now += 1;
	ck_assert_int_eq(throttle_check(t, "192.0.2.9", "alice", now), 0);
	throttle_free(t);
}
END_TEST

START_TEST(test_ip_lockout)
{
	struct throttle	*t = throttle_new(&conf);
	uint64_t	 now = 5;
	char		 user[32];
	int		 i;

	/* a different user each time: only the address counts up */
	for (i = 0; i < 5; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		throttle_fail(t, "2001:db8::1", user, now);
		ck_assert_int_eq(throttle_check(t, "2001:db8::1", "x", now), 0);
	}
	ck_assert_uint_eq(throttle_fail(t, "2001:db8::1", "user9", now), 8000);
	ck_assert_int_eq(throttle_check(t, "2001:db8::1", NULL, now), -1);
	ck_assert_int_eq(throttle_check(t, "2001:db8::2", NULL, now), 0);
	/* a success does not lift an address lockout */
	throttle_success(t, "2001:db8::1", "user9", now);
	ck_assert_int_eq(throttle_check(t, "2001:db8::1", NULL, now), -1);
	ck_assert_int_eq(throttle_check(t, "2001:db8::1", NULL,
	    now + conf.lockout_ms), 0);
	throttle_free(t);
}
END_TEST

START_TEST(test_window_and_success)
{
	struct throttle	*t = throttle_new(&conf);
	uint64_t	 now = 0;

	throttle_fail(t, "198.51.100.7", "carol", now);
	ck_assert_uint_eq(throttle_fail(t, "198.51.100.7", "carol", now),
	    2000);
	/* quiet for the whole window: forgotten */
	now += conf.window_ms;
	ck_assert_uint_eq(throttle_fail(t, "198.51.100.7", "carol", now),
	    1000);
	/* a success forgets the user's count but not the address's */
	throttle_fail(t, "198.51.100.7", "carol", now);
	throttle_success(t, "198.51.100.7", "carol", now);
	ck_assert_uint_eq(throttle_fail(t, "198.51.100.8", "carol", now),
	    1000);
	ck_assert_uint_eq(throttle_fail(t, "198.51.100.7", "dave", now),
	    4000);
	throttle_free(t);
}
END_TEST

START_TEST(test_user_case)
{
	struct throttle	*t = throttle_new(&conf);
	int		 i;

	for (i = 0; i < 4; i++)
		throttle_fail(t, NULL, "Alice@Example.ORG", 0);
	ck_assert_int_eq(throttle_check(t, NULL, "alice@example.org", 0), -1);
	throttle_free(t);
}
END_TEST

START_TEST(test_exempt)
{
	struct throttle	*t = throttle_new(&conf);
	char		 err[128];
	int		 i;

	ck_assert_int_eq(throttle_set_exempt(t, "127.0.0.0/8, ::1 10.0.0.0/9",
	    err, sizeof(err)), 0);
	ck_assert(throttle_is_exempt(t, "127.0.0.1"));
	ck_assert(throttle_is_exempt(t, "127.255.1.2"));
	ck_assert(throttle_is_exempt(t, "::ffff:127.0.0.1"));
	ck_assert(throttle_is_exempt(t, "::1"));
	ck_assert(throttle_is_exempt(t, "10.127.0.1"));
	ck_assert(!throttle_is_exempt(t, "10.128.0.1"));
	ck_assert(!throttle_is_exempt(t, "128.0.0.1"));
	ck_assert(!throttle_is_exempt(t, "::2"));
	ck_assert(!throttle_is_exempt(t, "garbage"));
	for (i = 0; i < 20; i++)
		ck_assert_uint_eq(throttle_fail(t, "127.0.0.1", "alice", 0), 0);
	ck_assert_int_eq(throttle_check(t, "127.0.0.1", "alice", 0), 0);
	ck_assert_uint_eq(throttle_count(t), 0);

	ck_assert_int_eq(throttle_set_exempt(t, "10.0.0.0/33", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "10.0.0.0/33"));
	ck_assert_int_eq(throttle_set_exempt(t, "example.org", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(throttle_set_exempt(t, "::/x", err, sizeof(err)), -1);
	/* a failed set keeps the old list */
	ck_assert(throttle_is_exempt(t, "127.0.0.1"));
	ck_assert_int_eq(throttle_set_exempt(t, "", err, sizeof(err)), 0);
	ck_assert(!throttle_is_exempt(t, "127.0.0.1"));
	throttle_free(t);
}
END_TEST

START_TEST(test_cidr)
{
	ck_assert(throttle_cidr_match("0.0.0.0/0", "203.0.113.9"));
	ck_assert(throttle_cidr_match("::/0", "2001:db8::5"));
	ck_assert(!throttle_cidr_match("::/0", "203.0.113.9"));
	ck_assert(throttle_cidr_match("2001:db8::/32", "2001:db8:ffff::1"));
	ck_assert(!throttle_cidr_match("2001:db8::/32", "2001:db9::1"));
	ck_assert(throttle_cidr_match("192.0.2.128/25", "192.0.2.200"));
	ck_assert(!throttle_cidr_match("192.0.2.128/25", "192.0.2.100"));
}
END_TEST

START_TEST(test_bounded)
{
	struct throttle	*t = throttle_new(&conf);
	char		 user[32];
	int		 i;

	for (i = 0; i < 1000; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		throttle_fail(t, NULL, user, 0);
		ck_assert_uint_le(throttle_count(t), conf.max_entries);
	}
	/* the newest entries survive */
	for (i = 0; i < 3; i++)
		throttle_fail(t, NULL, "u999", 0);
	ck_assert_int_eq(throttle_check(t, NULL, "u999", 0), -1);
	throttle_free(t);
}
END_TEST

/* Runs fn in a child process; its exit status (0: its asserts held). */
static int
in_child(void (*fn)(struct throttle *, int), struct throttle *t, int fd)
{
	pid_t	pid;
	int	status;

	if ((pid = fork()) == 0) {
		fn(t, fd);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void
child_fails(struct throttle *t, int fd)
{
	char	user[32];
	int	i;

	for (i = 0; i < 3; i++) {
		snprintf(user, sizeof(user), "child%d", i);
		throttle_fail(t, "192.0.2.77", user, 1000);
	}
}

static void
child_sees_lock(struct throttle *t, int fd)
{
	char	c;

	/* wait until the parent, after our fork, has failed 4 times */
	if (read(fd, &c, 1) != 1)
		_exit(2);
	_exit(throttle_check(t, "192.0.2.200", "erin", 1000) == -1 ? 0 : 1);
}

/* Failures counted in one process are seen by the other, both ways, when
 * the table was made before the fork. */
START_TEST(test_shared_fork)
{
	struct throttle	*t = throttle_new(&conf);
	int		 p[2], i;
	pid_t		 pid;
	int		 status;

	/* child -> parent: 3 failures there, 3 here make 6: locked */
	ck_assert_int_eq(in_child(child_fails, t, -1), 0);
	ck_assert_int_eq(throttle_check(t, "192.0.2.77", NULL, 1000), 0);
	ck_assert_uint_eq(throttle_count(t), 4);
	/* the 4th failure of the address waits 8 s, not 1 s */
	ck_assert_uint_eq(throttle_fail(t, "192.0.2.77", "p1", 1000), 8000);
	throttle_fail(t, "192.0.2.77", "p2", 1000);
	ck_assert_int_eq(throttle_check(t, "192.0.2.77", NULL, 1000), 0);
	throttle_fail(t, "192.0.2.77", "p3", 1000);
	ck_assert_int_eq(throttle_check(t, "192.0.2.77", NULL, 1000), -1);

	/* parent -> child, with the child already running */
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[1]);
		child_sees_lock(t, p[0]);
	}
	ck_assert_int_gt(pid, 0);
	close(p[0]);
	for (i = 0; i < 4; i++)
		throttle_fail(t, NULL, "erin", 1000);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	throttle_free(t);
}
END_TEST

static void
hold_and_exit(struct throttle *t, int fd)
{
	throttle_lock_hold(t);
	_exit(0);
}

static void
child_hammer(struct throttle *t, int fd)
{
	int	i;

	for (i = 0; i < 2000; i++)
		throttle_fail(t, "198.51.100.99", NULL, 1000);
}

/* Two processes failing at once lose no count: 2 x 2000 failures lock at
 * exactly 4001 and not before. */
START_TEST(test_shared_concurrent)
{
	struct throttle_conf	 c = conf;
	struct throttle		*t;
	pid_t			 pid;
	int			 status;

	c.ip_failures = 4001;
	t = throttle_new(&c);
	ck_assert_ptr_nonnull(t);
	if ((pid = fork()) == 0) {
		child_hammer(t, -1);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	child_hammer(t, -1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(throttle_check(t, "198.51.100.99", NULL, 1000), 0);
	throttle_fail(t, "198.51.100.99", NULL, 1000);
	ck_assert_int_eq(throttle_check(t, "198.51.100.99", NULL, 1000), -1);
	throttle_free(t);
}
END_TEST

/* A worker killed while it holds the table's lock does not wedge the
 * others (robust mutex): a wedge shows as the test's timeout. */
START_TEST(test_killed_holder)
{
	struct throttle	*t = throttle_new(&conf);
	pid_t		 pid;
	int		 p[2], status;
	char		 c;

	throttle_fail(t, NULL, "heidi", 1000);
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		throttle_lock_hold(t);
		if (write(p[1], "h", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(read(p[0], &c, 1), 1);		/* it holds it */
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* and one that exits holding it */
	ck_assert_int_eq(in_child(hold_and_exit, t, -1), 0);
	throttle_fail(t, NULL, "heidi", 1000);
	throttle_fail(t, NULL, "heidi", 1000);
	throttle_fail(t, NULL, "heidi", 1000);
	ck_assert_int_eq(throttle_check(t, NULL, "heidi", 1000), -1);
	close(p[0]);
	close(p[1]);
	throttle_free(t);
}
END_TEST

/* New limits on the same table keep the counts (a reload); another size
 * is refused, so the caller makes a new table. */
START_TEST(test_reconf)
{
	struct throttle_conf	 c = conf;
	struct throttle		*t = throttle_new(&conf);

	ck_assert_uint_eq(throttle_capacity(t), 96);	/* 12 sets of 8 */
	throttle_fail(t, NULL, "frank", 0);
	throttle_fail(t, NULL, "frank", 0);
	c.user_failures = 3;
	c.delay_ms = 100;
	ck_assert_int_eq(throttle_reconf(t, &c), 0);
	ck_assert_uint_eq(throttle_fail(t, NULL, "frank", 0), 400);
	ck_assert_int_eq(throttle_check(t, NULL, "frank", 0), -1);
	c.max_entries = 1000;
	ck_assert_int_eq(throttle_reconf(t, &c), -1);
	ck_assert_int_eq(throttle_check(t, NULL, "frank", 0), -1);
	c.max_entries = 97;		/* still 12 sets of 8 */
	ck_assert_int_eq(throttle_reconf(t, &c), 0);
	c.max_entries = (size_t)THROTTLE_MAX_ENTRIES * 4;
	throttle_free(t);
	t = throttle_new(&c);
	ck_assert_uint_eq(throttle_capacity(t), THROTTLE_MAX_ENTRIES);
	throttle_free(t);
}
END_TEST

/* A full set gives up an unlocked entry before a locked one. */
START_TEST(test_lock_survives_flood)
{
	struct throttle_conf	 c = conf;
	struct throttle		*t;
	char			 user[32];
	int			 i;

	c.max_entries = 8;		/* one set */
	t = throttle_new(&c);
	for (i = 0; i < 4; i++)
		throttle_fail(t, NULL, "grace", 0);
	ck_assert_int_eq(throttle_check(t, NULL, "grace", 0), -1);
	for (i = 0; i < 500; i++) {
		snprintf(user, sizeof(user), "flood%d", i);
		throttle_fail(t, NULL, user, 0);
	}
	ck_assert_uint_eq(throttle_count(t), 8);
	ck_assert_int_eq(throttle_check(t, NULL, "grace", 0), -1);
	throttle_free(t);
}
END_TEST

static Suite *
throttle_suite(void)
{
	Suite	*s = suite_create("throttle");
	TCase	*tc = tcase_create("throttle");

	tcase_add_test(tc, test_growing_delay);
	tcase_add_test(tc, test_ip_lockout);
	tcase_add_test(tc, test_window_and_success);
	tcase_add_test(tc, test_user_case);
	tcase_add_test(tc, test_exempt);
	tcase_add_test(tc, test_cidr);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_shared_fork);
	tcase_add_test(tc, test_shared_concurrent);
	tcase_add_test(tc, test_killed_holder);
	tcase_add_test(tc, test_reconf);
	tcase_add_test(tc, test_lock_survives_flood);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(throttle_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
