/*
 * pop3_lock.c -- one POP3 session per user (RFC 2449 IN-USE).  The lock is
 * an flock(2) on state_dir/pop3-locks/<user>: it holds across worker
 * processes, and the kernel drops it when the session closes the file or
 * its process dies, so a crash never leaves a user locked out.  The files
 * stay (unlinking them would race with the next locker).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3.h"

#define POP3_LOCK_NAME_MAX	200

/* A file name for the user: safe bytes as they are, the rest as %XX;
 * a long name is cut and made unique with a hash of the whole. */
static void
pop3_lock_name(const char *user, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char enc[3 * KURIR_ADDR_MAX + 4];
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	const unsigned char *p;
	size_t o = 0;

	for (p = (const unsigned char *)user; *p != '\0'; p++) {
		int safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '@' ||
		    *p == '-' || *p == '_' || *p == '+' ||
		    (*p == '.' && o > 0);

		h = (h ^ *p) * 0x100000001b3ULL;
		if (o + 4 > sizeof(enc))
			continue;
		if (safe)
			enc[o++] = (char)*p;
		else {
			enc[o++] = '%';
			enc[o++] = hex[*p >> 4];
			enc[o++] = hex[*p & 15];
		}
	}
	enc[o] = '\0';
	if (o <= POP3_LOCK_NAME_MAX - 20)
		snprintf(out, cap, "%s", enc);
	else
		snprintf(out, cap, "%.160s~%016llx", enc,
		    (unsigned long long)h);
}

int
pop3_lock_take(const char *user, int *fd_r)
{
	char name[POP3_LOCK_NAME_MAX + 32], path[sizeof(pop3_conf.lockdir) +
	    sizeof(name) + 2];
	int fd, flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW;

	*fd_r = -1;
	pop3_lock_name(user, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", pop3_conf.lockdir, name);
	if ((fd = open(path, flags, 0600)) == -1 && errno == ENOENT) {
		/* The directory went away (or init_worker could not make
		 * it yet): try once more. */
		(void)mkdir(pop3_conf.lockdir, 0700);
		fd = open(path, flags, 0600);
	}
	if (fd == -1) {
		pop3_api->log(pop3_mod, KURIR_LOG_ERR, "open %s: %s", path,
		    strerror(errno));
		return KURIR_E_TEMPFAIL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return KURIR_E_BUSY;
		pop3_api->log(pop3_mod, KURIR_LOG_ERR, "flock %s: %s", path,
		    strerror(e));
		return KURIR_E_TEMPFAIL;
	}
	*fd_r = fd;
	return KURIR_OK;
}

void
pop3_lock_release(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}
