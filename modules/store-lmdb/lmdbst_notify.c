/*
 * lmdbst_notify.c -- change notification for IDLE: an inotify
 * descriptor on the mailbox's STATE/.../notify/<id> file, which every
 * writer (any process) rewrites after its commit.  Readable within
 * milliseconds of another process's change.
 */
#include <sys/inotify.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "lmdbst.h"

int
lmdbst_notify_fd(struct kurir_mailbox *mb)
{
	char path[2100];
	int fd;

	if (mb->ifd != -1)
		return mb->ifd;
	if (lmdbst_notify_path(mb->st->e, mb->id, path, sizeof(path)) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	close(fd);
	if ((mb->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (inotify_add_watch(mb->ifd, path, IN_MODIFY | IN_ATTRIB |
	    IN_DELETE_SELF) == -1) {
		LMDBST_LOG(KURIR_LOG_WARNING, "inotify %s failed", path);
		close(mb->ifd);
		mb->ifd = -1;
	}
	return mb->ifd;
}

void
lmdbst_notify_clear(struct kurir_mailbox *mb)
{
	char buf[4096];
	ssize_t n;

	if (mb->ifd == -1)
		return;
	do {
		n = read(mb->ifd, buf, sizeof(buf));
	} while (n > 0 || (n == -1 && errno == EINTR));
}
