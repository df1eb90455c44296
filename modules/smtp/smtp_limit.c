/*
 * smtp_limit.c -- simultaneous connections per client address
 * (smtp_connections_per_ip), counted across every worker process.
 *
 * smtp_limit_init() runs in the master, before the workers are forked,
 * and maps a shared table that the workers inherit: one row of counters
 * per worker process, one counter per hash bucket of the client address.
 * A worker claims a free row the first time it counts (zeroing the rows
 * of workers that have died: their connections died with them), adds to
 * its own row only, and compares the sum of every row's bucket with the
 * limit.  Addresses that share a bucket are
 * counted together, which errs on the strict side; two workers admitting
 * at the same instant can each let one more in.  Without the shared table
 * (unit tests, a failed mmap) the same code counts in a private one.
 */
#include <sys/mman.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "smtp.h"

#define SMTP_LIMIT_ROWS		64	/* worker processes at once */
#define SMTP_LIMIT_BUCKETS	4096

struct smtp_limit_tab {
	_Atomic int32_t		 owner[SMTP_LIMIT_ROWS];	/* pid, 0: free */
	_Atomic uint32_t	 count[SMTP_LIMIT_ROWS][SMTP_LIMIT_BUCKETS];
};

static struct smtp_limit_tab *smtp_limit_tab;
static pid_t smtp_limit_pid;	/* the process that owns smtp_limit_row */
static int smtp_limit_row = -1;

static struct smtp_limit_tab *
smtp_limit_map(int flags)
{
	void *p;

	p = mmap(NULL, sizeof(struct smtp_limit_tab), PROT_READ | PROT_WRITE,
	    flags | MAP_ANONYMOUS, -1, 0);
	return (p == MAP_FAILED ? NULL : p);
}

int
smtp_limit_init(void)
{
	if (smtp_limit_tab == NULL &&
	    (smtp_limit_tab = smtp_limit_map(MAP_SHARED)) == NULL)
		return (KURIR_E_NOMEM);
	return (KURIR_OK);
}

static uint32_t
smtp_limit_bucket(const char *ip)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	const unsigned char *p;

	for (p = (const unsigned char *)ip; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return (h % SMTP_LIMIT_BUCKETS);
}

static int
smtp_limit_dead(int32_t pid)
{
	return (kill((pid_t)pid, 0) == -1 && errno == ESRCH);
}

/* This process's row, claimed once per process (after fork too).  Rows
 * of dead workers are zeroed and freed on the way: the connections they
 * counted died with them. */
static int
smtp_limit_claim(void)
{
	struct smtp_limit_tab *t = smtp_limit_tab;
	pid_t me = getpid();
	int32_t cur;
	int i, j;

	if (smtp_limit_row >= 0 && smtp_limit_pid == me)
		return (smtp_limit_row);
	smtp_limit_row = -1;
	smtp_limit_pid = me;
	for (i = 0; i < SMTP_LIMIT_ROWS; i++) {
		cur = atomic_load(&t->owner[i]);
		/* a dead worker's row, or a stale one with our reused pid */
		if (cur == 0 || (cur != (int32_t)me && !smtp_limit_dead(cur)) ||
		    !atomic_compare_exchange_strong(&t->owner[i], &cur,
		    (int32_t)me))
			continue;
		for (j = 0; j < SMTP_LIMIT_BUCKETS; j++)
			atomic_store(&t->count[i][j], 0);
		if (smtp_limit_row < 0)
			smtp_limit_row = i;
		else
			atomic_store(&t->owner[i], 0);
	}
	for (i = 0; smtp_limit_row < 0 && i < SMTP_LIMIT_ROWS; i++) {
		cur = 0;
		if (atomic_compare_exchange_strong(&t->owner[i], &cur,
		    (int32_t)me))
			smtp_limit_row = i;
	}
	return (smtp_limit_row);
}

int
smtp_limit_enter(const char *ip, uint32_t max)
{
	struct smtp_limit_tab *t;
	uint32_t b, sum = 0;
	int i, row;

	if (smtp_limit_tab == NULL &&
	    (smtp_limit_tab = smtp_limit_map(MAP_PRIVATE)) == NULL)
		return (KURIR_E_NOMEM);
	t = smtp_limit_tab;
	if ((row = smtp_limit_claim()) < 0)
		return (KURIR_OK);	/* more workers than rows: uncounted */
	b = smtp_limit_bucket(ip);
	if (max != 0) {
		for (i = 0; i < SMTP_LIMIT_ROWS; i++)
			sum += atomic_load_explicit(&t->count[i][b],
			    memory_order_relaxed);
		if (sum >= max)
			return (KURIR_E_TOOBIG);
	}
	atomic_fetch_add(&t->count[row][b], 1);
	return (KURIR_OK);
}

void
smtp_limit_leave(const char *ip)
{
	struct smtp_limit_tab *t = smtp_limit_tab;
	uint32_t b;
	int row;

	if (t == NULL || (row = smtp_limit_claim()) < 0)
		return;
	b = smtp_limit_bucket(ip);
	if (atomic_load(&t->count[row][b]) > 0)
		atomic_fetch_sub(&t->count[row][b], 1);
}
