/*
 * passwd_write.c -- changing the passwd and aliases files safely: under
 * an exclusive lock on FILE.lock, copy FILE line by line into a temporary
 * file in the same directory (letting the caller replace, drop or append
 * lines), fsync it, rename it over FILE and fsync the directory.  Readers
 * (the running server) see the old file or the new one, never half of
 * one; comments and lines we cannot parse are kept as they were.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"

const char pw_edit_abort[] = "";

static int
fsync_dir(const char *path)
{
	char	*copy, *dir;
	int	 fd, rc = 0;

	if ((copy = strdup(path)) == NULL)
		return -1;
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		rc = -1;
	else {
		if (fsync(fd) == -1)
			rc = -1;
		close(fd);
	}
	free(copy);
	return rc;
}

int
pw_file_edit(const char *path, pw_edit_fn *edit, void *arg, char *err,
    size_t errlen)
{
	char		 lockpath[4096], tmppath[4096], *line = NULL;
	char		*out = NULL;
	const char	*rep;
	FILE		*in = NULL, *tmp = NULL;
	struct stat	 st;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 lockfd = -1, tmpfd = -1, rc = KURIR_E_TEMPFAIL;
	mode_t		 mode = 0640;

	if (snprintf(lockpath, sizeof(lockpath), "%s.lock", path) >=
	    (int)sizeof(lockpath) ||
	    snprintf(tmppath, sizeof(tmppath), "%s.tmp.%ld", path,
	    (long)getpid()) >= (int)sizeof(tmppath)) {
		snprintf(err, errlen, "%s: path too long", path);
		return KURIR_E_INVALID;
	}
	if ((out = malloc(PW_LINE_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return KURIR_E_NOMEM;
	}
	if ((lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC,
	    0600)) == -1 || flock(lockfd, LOCK_EX) == -1) {
		snprintf(err, errlen, "%s: %s", lockpath, strerror(errno));
		goto out;
	}
	if ((in = fopen(path, "re")) == NULL && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (in != NULL && fstat(fileno(in), &st) == 0)
		mode = st.st_mode & 07777;
	(void)unlink(tmppath);	/* a leftover of a crashed run of ours */
	if ((tmpfd = open(tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1 || (tmp = fdopen(tmpfd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmppath, strerror(errno));
		if (tmpfd != -1)
			close(tmpfd);
		tmpfd = -1;
		goto out;
	}
	if (in != NULL) {
		/* keep the owner (kurirctl may run as root, the server not) */
		if (fchown(tmpfd, st.st_uid, st.st_gid) == -1 && errno != EPERM)
			goto write_err;
		while ((len = getline(&line, &cap, in)) > 0) {
			if (line[len - 1] == '\n')
				line[--len] = '\0';
			rep = edit(arg, line, out, PW_LINE_MAX);
			if (rep == pw_edit_abort) {
				rc = 1;
				goto out;
			}
			if (rep == NULL)
				rep = line;
			else if (*rep == '\0')
				continue;
			if (fprintf(tmp, "%s\n", rep) < 0)
				goto write_err;
		}
		if (ferror(in)) {
			snprintf(err, errlen, "%s: read error", path);
			goto out;
		}
	}
	rep = edit(arg, NULL, out, PW_LINE_MAX);
	if (rep == pw_edit_abort) {
		rc = 1;
		goto out;
	}
	if (rep != NULL && *rep != '\0' && fprintf(tmp, "%s\n", rep) < 0)
		goto write_err;
	if (fflush(tmp) == EOF || fsync(tmpfd) == -1)
		goto write_err;
	if (fclose(tmp) == EOF) {
		tmp = NULL;
		goto write_err;
	}
	tmp = NULL;
	if (rename(tmppath, path) == -1) {
		snprintf(err, errlen, "rename %s: %s", tmppath,
		    strerror(errno));
		goto out;
	}
	(void)fsync_dir(path);
	rc = KURIR_OK;
	goto out;
write_err:
	snprintf(err, errlen, "%s: %s", tmppath, strerror(errno));
out:
	if (tmp != NULL)
		fclose(tmp);
	if (rc != KURIR_OK && tmpfd != -1)
		(void)unlink(tmppath);
	if (in != NULL)
		fclose(in);
	if (lockfd != -1)
		close(lockfd);	/* drops the lock */
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	explicit_bzero(out, PW_LINE_MAX);
	free(out);
	return rc;
}
