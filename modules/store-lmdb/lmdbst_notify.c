/*
 * lmdbst_notify.c -- change notification for IDLE.  Every writer (any
 * process) rewrites the mailbox's STATE/.../notify/<id> file after its
 * commit (lmdbst_notify_touch); the reader watches that file through the
 * core's api->watch_path(), which keeps one inotify instance per worker
 * and one kernel watch per file however many handles watch it, and
 * polls when the kernel's limits are reached.
 *
 * notify_set() hands the caller's callback to the core directly.  The
 * older notify_fd() is an eventfd the same kind of watch writes to.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "lmdbst.h"

static int
have_watch(void)
{
	return KURIR_HAS(lmdbst_api, watch_path_del) &&
	    lmdbst_api->watch_path != NULL &&
	    lmdbst_api->watch_path_del != NULL;
}

static struct kurir_pathwatch *
watch_file(struct kurir_mailbox *mb, kurir_cb *cb, void *arg)
{
	char path[2100];
	int fd;

	if (lmdbst_notify_path(mb->st->e, mb->id, path, sizeof(path)) != 0)
		return NULL;
	/* a mailbox nobody wrote to since the upgrade has none yet */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return NULL;
	close(fd);
	return lmdbst_api->watch_path(path, KURIR_PATH_MODIFY, cb, arg);
}

int
lmdbst_notify_set(struct kurir_mailbox *mb, kurir_mbx_notify_cb *cb,
    void *arg)
{
	if (mb->nw != NULL) {
		lmdbst_api->watch_path_del(mb->nw);
		mb->nw = NULL;
	}
	if (cb == NULL)
		return KURIR_OK;
	if (!have_watch())
		return KURIR_E_UNSUPPORTED;
	if ((mb->nw = watch_file(mb, cb, arg)) == NULL)
		return KURIR_E_TEMPFAIL;
	return KURIR_OK;
}

static void
efd_wake(void *arg)
{
	struct kurir_mailbox *mb = arg;
	uint64_t one = 1;

	(void)write(mb->efd, &one, sizeof(one));
}

int
lmdbst_notify_fd(struct kurir_mailbox *mb)
{
	if (mb->efd != -1)
		return mb->efd;
	if (!have_watch())
		return -1;
	if ((mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	if ((mb->fdw = watch_file(mb, efd_wake, mb)) == NULL) {
		close(mb->efd);
		mb->efd = -1;
	}
	return mb->efd;
}

void
lmdbst_notify_clear(struct kurir_mailbox *mb)
{
	uint64_t n;

	if (mb->efd != -1)
		(void)read(mb->efd, &n, sizeof(n));
}

/* mailbox_close(): no more calls, no descriptor. */
void
lmdbst_notify_close(struct kurir_mailbox *mb)
{
	if (mb->nw != NULL)
		lmdbst_api->watch_path_del(mb->nw);
	if (mb->fdw != NULL)
		lmdbst_api->watch_path_del(mb->fdw);
	if (mb->efd != -1)
		close(mb->efd);
	mb->nw = mb->fdw = NULL;
	mb->efd = -1;
}
