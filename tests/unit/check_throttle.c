/*
 * check_throttle.c -- login throttling with an injected clock: growing
 * delays, lockouts and their expiry, the window, exempt networks (v4, v6,
 * v4-mapped) and the table bound.
 */
#include <stdio.h>
#include <string.h>

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
