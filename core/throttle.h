/*
 * throttle.h -- failed-login throttling per client address and per user:
 * each failure delays its answer a little more (delay, doubling up to
 * delay_max), and after N failures inside the window the address or user
 * is locked out for a while (answered with a temporary failure).  The
 * caller passes the clock, so tests inject one (CLOCK_MONOTONIC is the
 * same in every process).
 *
 * The counts live in shared memory: a table made before fork() is one
 * table for the process and all its children, so the master makes it
 * before it forks the workers and N workers do not allow N times the
 * failures.  Updates take a process-shared lock; the exempt networks and
 * the limits are per process (each worker generation has its own).
 */
#ifndef KURIR_CORE_THROTTLE_H
#define KURIR_CORE_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct throttle_conf {
	uint64_t	delay_ms;	/* answer delay after the 1st failure */
	uint64_t	delay_max_ms;	/* cap for the doubling delay */
	uint32_t	ip_failures;	/* lock an address after this many */
	uint32_t	user_failures;	/* lock a user after this many */
	uint64_t	window_ms;	/* failures older than this are forgotten */
	uint64_t	lockout_ms;	/* how long a lockout lasts */
	size_t		max_entries;	/* table bound: oldest entries go first */
};

/* Largest table (entries); a bigger max_entries is cut to it. */
#define THROTTLE_MAX_ENTRIES	(1u << 20)

struct throttle;

/* A table in shared anonymous memory: shared with processes forked
 * later.  NULL when it cannot be mapped. */
struct throttle	*throttle_new(const struct throttle_conf *conf);
/* This process's handle; the table stays for other processes mapping it. */
void		 throttle_free(struct throttle *t);
/* New limits for t, keeping its counts: 0, or -1 (nothing changed) when
 * conf needs another table size. */
int		 throttle_reconf(struct throttle *t,
		    const struct throttle_conf *conf);
/* Networks that are never throttled: "127.0.0.0/8, ::1, 10.1.2.3".
 * -1 with a message in err for a bad entry. */
int		 throttle_set_exempt(struct throttle *t, const char *list,
		    char *err, size_t errlen);
int		 throttle_is_exempt(const struct throttle *t, const char *ip);
/* Before trying: 0, or -1 while ip or user is locked out.  user may be
 * NULL when it is not known yet. */
int		 throttle_check(struct throttle *t, const char *ip,
		    const char *user, uint64_t now_ms);
/* A failure: returns how long to delay the answer (ms). */
uint64_t	 throttle_fail(struct throttle *t, const char *ip,
		    const char *user, uint64_t now_ms);
/* A success: forgets the user's failures (the address's stay). */
void		 throttle_success(struct throttle *t, const char *ip,
		    const char *user, uint64_t now_ms);
/* Addresses and users with an entry, and how many entries fit. */
size_t		 throttle_count(const struct throttle *t);
size_t		 throttle_capacity(const struct throttle *t);

/* Tests only: take the table's lock and keep it, as a worker that dies
 * inside an update would. */
void		 throttle_lock_hold(struct throttle *t);

/* One CIDR entry matcher, shared with tests: 1 if ip is in net. */
int		 throttle_cidr_match(const char *cidr, const char *ip);

#endif
