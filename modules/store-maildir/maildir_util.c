/*
 * maildir_util.c -- small file-system helpers of the Maildir backend:
 * errno mapping, durable writes, directory fsync, locks, tmp/ cleaning.
 */
#include "autoconf.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"

/* errno -> KURIR_E_*: a full disk is NOSPACE, the rest mostly TEMPFAIL. */
int
md_errno(int e)
{
	switch (e) {
	case 0:
		return KURIR_OK;
	case ENOENT:
	case ENOTDIR:
		return KURIR_E_NOTFOUND;
	case EEXIST:
	case ENOTEMPTY:
		return KURIR_E_EXISTS;
	case ENOSPC:
	case EFBIG:
	case EDQUOT:
		return KURIR_E_NOSPACE;
	case ENOMEM:
		return KURIR_E_NOMEM;
	case ENAMETOOLONG:
	case EINVAL:
		return KURIR_E_INVALID;
	default:
		return KURIR_E_TEMPFAIL;
	}
}

void
md_log(int level, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	if (md_api == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	md_api->log(md_mod, level, "%s", buf);
}

int
md_fsync(int fd)
{
	if (!md_conf.fsync)
		return 0;
	while (fsync(fd) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int
md_fsync_dir(const char *dir)
{
	int	 fd, rc, e;

	if (!md_conf.fsync)
		return 0;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = md_fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* "a/b/c" with NULL parts left out; NULL on allocation failure. */
char *
md_path(const char *a, const char *b, const char *c)
{
	char	*p;
	int	 n;

	if (c != NULL)
		n = asprintf(&p, "%s/%s/%s", a, b, c);
	else if (b != NULL)
		n = asprintf(&p, "%s/%s", a, b);
	else
		n = asprintf(&p, "%s", a);
	return n < 0 ? NULL : p;
}

int
md_mkdir_p(const char *path, mode_t mode)
{
	char	 buf[4096], *s;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	for (s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Make cur/ new/ tmp/ under dir (which must exist); folder = Maildir++
 * subfolder, which also gets its `maildirfolder` marker. */
int
md_make_maildir(const char *dir, int folder)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char	 p[4096];
	size_t	 i;
	int	 fd;

	for (i = 0; i < 3; i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, sub[i]) >=
		    sizeof(p)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			return -1;
	}
	if (folder) {
		snprintf(p, sizeof(p), "%s/%s", dir, MD_FOLDERMARK);
		fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd == -1)
			return -1;
		close(fd);
	}
	return 0;
}

int
md_rm_rf(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		*p;
	int		 rc = 0;

	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((p = md_path(path, de->d_name, NULL)) == NULL) {
			rc = -1;
			break;
		}
		if (md_rm_rf(p) == -1)
			rc = -1;
		free(p);
	}
	closedir(d);
	if (rmdir(path) == -1)
		rc = -1;
	return rc;
}

/* Replace dir/name atomically with buf: write a temp file, optionally
 * fsync it, rename it over, optionally fsync the directory. */
int
md_write_file(const char *dir, const char *name, const void *buf,
    size_t len, int durable)
{
	char		 tmp[4096], dst[4096];
	const char	*p = buf;
	ssize_t		 n;
	int		 fd, e;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >=
	    sizeof(dst) || (size_t)snprintf(tmp, sizeof(tmp),
	    "%s/%s.%ld.tmp", dir, name, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (durable && md_fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) == -1)
		goto fail;
	if (durable && md_fsync_dir(dir) == -1)
		return -1;
	return 0;
fail:
	e = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

/* An exclusive flock(2) on dir/name, waiting for it.  flock locks belong
 * to the open file description, so two handles of one process exclude
 * each other as well as two processes do. */
int
md_lock(const char *dir, const char *name, int *fd_r)
{
	char	 p[4096];
	int	 fd;

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	*fd_r = fd;
	return 0;
}

void
md_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the flock */
}

/* The Maildir spec: files in tmp/ not touched for 36 hours are junk
 * from an interrupted delivery.  Also folders of a mailbox_delete that
 * crashed half way. */
void
md_clean_tmp(const char *dir, int64_t max_age)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 p[4096];
	time_t		 now = time(NULL);

	if (max_age <= 0)
		return;
	snprintf(p, sizeof(p), "%s/tmp", dir);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		/* ctime, not mtime: a commit sets the mtime to the internal
		 * date (maybe years ago) just before its rename */
		if (now - sb.st_ctime < max_age)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			snprintf(p, sizeof(p), "%s/tmp/%s", dir, de->d_name);
			md_rm_rf(p);
		} else
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* Copy src to the new file dst (O_EXCL) with mtime date, durable; for
 * when a hard link is impossible (another file system). */
int
md_copy_file(const char *src, const char *dst, int64_t date)
{
	char		 buf[65536];
	struct timespec	 ts[2];
	ssize_t		 n, w, off;
	int		 in, out, e;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1) {
		e = errno;
		close(in);
		errno = e;
		return -1;
	}
	for (;;) {
		if ((n = read(in, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		for (off = 0; off < n; off += w) {
			if ((w = write(out, buf + off, (size_t)(n - off))) ==
			    -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				goto fail;
			}
		}
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)date;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	futimens(out, ts);
	if (md_fsync(out) == -1 || close(out) == -1) {
		out = -1;
		goto fail;
	}
	close(in);
	return 0;
fail:
	e = errno;
	close(in);
	if (out != -1)
		close(out);
	unlink(dst);
	errno = e;
	return -1;
}
