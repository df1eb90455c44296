/*
 * maildir_notify.c -- change notification for IDLE: new/, cur/ and the
 * folder directory (where kurir-uidlist is replaced) are watched through
 * the core's api->watch_path(), so new mail, flag renames and expunges
 * by any process, kurir or not, wake the caller.  The core keeps one
 * inotify instance per worker and one kernel watch per directory however
 * many handles watch it, and polls when the kernel's limits are reached.
 *
 * notify_set() hands the caller's callback to the core directly.  The
 * older notify_fd() is an eventfd the same watches write to.
 */
#include "autoconf.h"

#include <sys/eventfd.h>

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "maildir.h"

static int
have_watch(void)
{
	return KURIR_HAS(md_api, watch_path_del) &&
	    md_api->watch_path != NULL && md_api->watch_path_del != NULL;
}

static void
unwatch(struct kurir_pathwatch **w)
{
	int i;

	for (i = 0; i < MD_NOTIFY_PATHS; i++) {
		if (w[i] != NULL)
			md_api->watch_path_del(w[i]);
		w[i] = NULL;
	}
}

static int
watch_dirs(struct kurir_mailbox *mb, kurir_cb *cb, void *arg,
    struct kurir_pathwatch **w)
{
	static const char *const subs[MD_NOTIFY_PATHS] = { "new", "cur", "" };
	const uint32_t entries = KURIR_PATH_CREATE | KURIR_PATH_DELETE |
	    KURIR_PATH_MOVED_IN | KURIR_PATH_MOVED_OUT;
	char path[4096];
	int i;

	for (i = 0; i < MD_NOTIFY_PATHS; i++) {
		snprintf(path, sizeof(path), "%s%s%s", mb->dir,
		    *subs[i] != '\0' ? "/" : "", subs[i]);
		/* the folder itself: only kurir-uidlist being replaced */
		w[i] = md_api->watch_path(path, *subs[i] != '\0' ? entries :
		    KURIR_PATH_MOVED_IN, cb, arg);
		if (w[i] == NULL) {
			unwatch(w);
			return KURIR_E_NOMEM;
		}
	}
	return KURIR_OK;
}

int
md_notify_set(struct kurir_mailbox *mb, kurir_mbx_notify_cb *cb, void *arg)
{
	if (mb->nw[0] != NULL)
		unwatch(mb->nw);
	if (cb == NULL)
		return KURIR_OK;
	if (!have_watch())
		return KURIR_E_UNSUPPORTED;
	return watch_dirs(mb, cb, arg, mb->nw);
}

static void
efd_wake(void *arg)
{
	struct kurir_mailbox *mb = arg;
	uint64_t one = 1;

	(void)write(mb->efd, &one, sizeof(one));
}

int
md_notify_fd(struct kurir_mailbox *mb)
{
	if (mb->efd != -1)
		return mb->efd;
	if (!have_watch())
		return -1;
	if ((mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	if (watch_dirs(mb, efd_wake, mb, mb->fdw) != KURIR_OK) {
		close(mb->efd);
		mb->efd = -1;
	}
	return mb->efd;
}

void
md_notify_clear(struct kurir_mailbox *mb)
{
	uint64_t n;

	if (mb->efd != -1)
		(void)read(mb->efd, &n, sizeof(n));
}

/* mailbox_close(): no more calls, no descriptor. */
void
md_notify_close(struct kurir_mailbox *mb)
{
	if (mb->nw[0] != NULL)
		unwatch(mb->nw);
	if (mb->fdw[0] != NULL)
		unwatch(mb->fdw);
	if (mb->efd != -1)
		close(mb->efd);
	mb->efd = -1;
}
