/*
 * watch.h -- change notification for paths, one per worker process:
 * a single inotify instance on the process's event loop, one kernel watch
 * per watched inode however many callers watch it (refcounted), a list
 * of callbacks per path, and the one timer fallback (polling) for paths
 * the kernel cannot watch (no inotify instance left: the per-user
 * fs.inotify.max_user_instances; no watch left: max_user_watches).
 * Modules reach it as api->watch_path()/watch_path_del().
 */
#ifndef KURIR_CORE_WATCH_H
#define KURIR_CORE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>

/* Period of the fallback polling, milliseconds. */
#define WATCH_POLL_MS		500
/* Polled paths try to get a kernel watch again every this many polls. */
#define WATCH_RETRY_POLLS	10

/*
 * cb(arg) runs on the event loop after a change of the kinds in `events`
 * (KURIR_PATH_* of kurir/api.h) to path; changes may be folded into one
 * call and calls may be spurious.  NULL on a bad argument or no memory.
 * watch_del() is safe from any callback, for any watch.
 */
struct kurir_pathwatch *watch_add(const char *path, uint32_t events,
		    kurir_cb *cb, void *arg);
void		 watch_del(struct kurir_pathwatch *w);

/* Whether w is served by the kernel (1) or polled (0). */
int		 watch_is_kernel(const struct kurir_pathwatch *w);
/* Kernel watches in use, and paths polled, in this process. */
size_t		 watch_count_kernel(void);
size_t		 watch_count_polled(void);
/* Frees everything (tests; a child after fork).  No watch may be used
 * afterwards. */
void		 watch_free_all(void);
/* Tests: make inotify_init1 (what = 1) or inotify_add_watch (what = 2)
 * fail as when the kernel's limits are reached; 0 clears. */
void		 watch_test_fail(int what);

#endif
