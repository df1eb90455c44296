/*
 * auth_pool.h -- the worker's threads for password hashing.  Slow hashes
 * (yescrypt takes 50-250 ms and 16 MiB) run here rather than on the
 * shared ev pool, at a lower CPU priority (auth_thread_nice), so a burst
 * of logins neither starves the event loop of CPU nor queues storage work
 * behind it.  Threads start on first use in each process (after fork).
 */
#ifndef KURIR_CORE_AUTH_POOL_H
#define KURIR_CORE_AUTH_POOL_H

#include "ev.h"

/* work(arg) on an auth thread, then done(arg) on the loop.  0, or -1
 * when auth_max_pending jobs are already waiting (answer "try later").
 * With auth_threads = 0 the shared pool (ev_run_blocking) is used. */
int	auth_pool_run(ev_cb *work, ev_cb *done, void *arg);
/* Jobs queued or running now. */
unsigned auth_pool_pending(void);

#endif
