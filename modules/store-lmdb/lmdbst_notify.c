/*
 * lmdbst_notify.c -- change notification for IDLE: an inotify
 * descriptor on the mailbox's STATE/.../notify/<id> file, which every
 * writer (any process) rewrites after its commit.  Readable within
 * milliseconds of another process's change.
 *
 * inotify instances are few (fs.inotify.max_user_instances, 128 by
 * default, for all processes of the user): when none is left the
 * descriptor is a timer that fires every LMDBST_NOTIFY_POLL_MS instead,
 * so a session in IDLE still learns of changes within one second, at
 * the cost of a sync per tick.
 */
#include <sys/inotify.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lmdbst.h"

/* A descriptor readable every LMDBST_NOTIFY_POLL_MS; -1 on failure. */
int
lmdbst_notify_timer(void)
{
	struct itimerspec its;
	int fd;

	if ((fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1)
		return -1;
	its.it_interval.tv_sec = 0;
	its.it_interval.tv_nsec = LMDBST_NOTIFY_POLL_MS * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
notify_fallback(const char *what)
{
	static int warned;

	if (!warned) {
		warned = 1;
		LMDBST_LOG(KURIR_LOG_WARNING, "%s: %s; change notification "
		    "falls back to polling every %d ms (raise "
		    "fs.inotify.max_user_instances)", what, strerror(errno),
		    LMDBST_NOTIFY_POLL_MS);
	}
	return lmdbst_notify_timer();
}

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
		return mb->ifd = notify_fallback("inotify_init1");
	if (inotify_add_watch(mb->ifd, path, IN_MODIFY | IN_ATTRIB |
	    IN_DELETE_SELF) == -1) {
		close(mb->ifd);
		mb->ifd = notify_fallback("inotify_add_watch");
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
