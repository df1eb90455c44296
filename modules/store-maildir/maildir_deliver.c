/*
 * maildir_deliver.c -- one message into several users' INBOXes.
 *
 * The message is streamed once into the first user's tmp/.  Commit sets
 * its mtime, fsyncs it, checks every user's quota, then hard-links it
 * into each other user's new/ (a copy through their tmp/ when the link
 * fails, e.g. across file systems), renames it into the first user's
 * new/, and fsyncs every new/.  Any failure unlinks what was placed, so
 * no user has the message unless all do.  Names carry ",S=size".  The
 * UIDs are given by the next scan of the folder (an IDLE session's
 * inotify wakes on the new/ entry), as for mail from any other MDA.
 * fsyncs: 1 for the file + 1 per user.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"

struct md_dtarget {
	struct kurir_store *st;
	char		 path[4096];	/* ROOT/new/NAME once placed */
	int		 placed;
};

struct kurir_delivery {
	struct md_dtarget *t;
	size_t		 n;
	int		 fd;
	int		 failed;
	char		 tmppath[4096];
	uint64_t	 size;
	int64_t		 date;
};

static void
deliver_free(struct kurir_delivery *d)
{
	size_t	 i;

	if (d->fd != -1)
		close(d->fd);
	if (d->tmppath[0] != '\0')
		unlink(d->tmppath);
	for (i = 0; i < d->n; i++) {
		if (d->t[i].placed)
			unlink(d->t[i].path);
		md_store_close(d->t[i].st);
	}
	free(d->t);
	free(d);
}

int
md_deliver_begin(const struct kurir_user_params *const *users, size_t nusers,
    int64_t internal_date, struct kurir_delivery **d_r)
{
	struct kurir_delivery	*d;
	char			 name[512];
	size_t			 i;
	int			 rc;

	*d_r = NULL;
	if (users == NULL || nusers == 0)
		return KURIR_E_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return KURIR_E_NOMEM;
	d->fd = -1;
	d->date = internal_date > 0 ? internal_date : (int64_t)time(NULL);
	if ((d->t = calloc(nusers, sizeof(*d->t))) == NULL) {
		free(d);
		return KURIR_E_NOMEM;
	}
	for (i = 0; i < nusers; i++) {
		if ((rc = md_store_open(users[i], &d->t[i].st)) != KURIR_OK)
			goto fail;
		d->n++;
	}
	if (md_unique_name(name, sizeof(name)) == -1) {
		rc = KURIR_E_INVALID;
		goto fail;
	}
	snprintf(d->tmppath, sizeof(d->tmppath), "%s/tmp/%s",
	    d->t[0].st->root, name);
	d->fd = open(d->tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	if (d->fd == -1) {
		rc = md_errno(errno);
		d->tmppath[0] = '\0';
		goto fail;
	}
	*d_r = d;
	return KURIR_OK;
fail:
	deliver_free(d);
	return rc == KURIR_E_NOTFOUND ? KURIR_E_TEMPFAIL : rc;
}

int
md_deliver_write(struct kurir_delivery *d, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	if (d->failed)
		return d->failed;
	if (buf == NULL && len > 0)
		return KURIR_E_INVALID;
	while (len > 0) {
		if ((n = write(d->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			d->failed = md_errno(errno);
			if (d->failed != KURIR_E_NOSPACE &&
			    d->failed != KURIR_E_NOMEM)
				d->failed = KURIR_E_TEMPFAIL;
			(void)!ftruncate(d->fd, 0);
			return d->failed;
		}
		p += n;
		len -= (size_t)n;
		d->size += (uint64_t)n;
	}
	return KURIR_OK;
}

/* Place the file for user i > 0: a hard link, else a copy. */
static int
place(struct kurir_delivery *d, size_t i, const char *name)
{
	struct md_dtarget *t = &d->t[i];
	char		 tmp[4096];
	int		 e;

	snprintf(t->path, sizeof(t->path), "%s/new/%s", t->st->root, name);
	if (link(d->tmppath, t->path) == 0) {
		t->placed = 1;
		return KURIR_OK;
	}
	e = errno;
	if (e != EXDEV && e != EPERM && e != EMLINK && e != ENOTSUP)
		return md_errno(e);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", t->st->root, name);
	if (md_copy_file(d->tmppath, tmp, d->date) == -1)
		return md_errno(errno);
	if (rename(tmp, t->path) == -1) {
		e = errno;
		unlink(tmp);
		return md_errno(e);
	}
	t->placed = 1;
	return KURIR_OK;
}

int
md_deliver_commit(struct kurir_delivery *d)
{
	struct timespec	 ts[2];
	char		 name[600], dir[4096];
	size_t		 i;
	int		 rc, qrc = KURIR_OK;

	if ((rc = d->failed) != KURIR_OK)
		goto fail;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)d->date;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(d->fd, ts) == -1 || md_fsync(d->fd) == -1 ||
	    close(d->fd) == -1) {
		d->fd = -1;
		rc = md_errno(errno);
		goto fail;
	}
	d->fd = -1;
	/* every user first: OVERQUOTA beats any other failure */
	for (i = 0; i < d->n; i++) {
		rc = md_quota_check(d->t[i].st, d->size, 1);
		if (rc == KURIR_E_OVERQUOTA) {
			qrc = rc;
			break;
		}
		if (rc != KURIR_OK && qrc == KURIR_OK)
			qrc = rc;
	}
	if ((rc = qrc) != KURIR_OK)
		goto fail;
	for (i = 1; i < d->n; i++) {
		if (md_unique_name(name, sizeof(name) - 32) == -1) {
			rc = KURIR_E_INVALID;
			goto fail;
		}
		snprintf(name + strlen(name), 32, ",S=%llu",
		    (unsigned long long)d->size);
		if ((rc = place(d, i, name)) != KURIR_OK)
			goto fail;
	}
	if (md_unique_name(name, sizeof(name) - 32) == -1) {
		rc = KURIR_E_INVALID;
		goto fail;
	}
	snprintf(name + strlen(name), 32, ",S=%llu",
	    (unsigned long long)d->size);
	snprintf(d->t[0].path, sizeof(d->t[0].path), "%s/new/%s",
	    d->t[0].st->root, name);
	if (rename(d->tmppath, d->t[0].path) == -1) {
		rc = md_errno(errno);
		goto fail;
	}
	d->tmppath[0] = '\0';
	d->t[0].placed = 1;
	for (i = 0; i < d->n; i++) {
		snprintf(dir, sizeof(dir), "%s/new", d->t[i].st->root);
		if (md_fsync_dir(dir) == -1) {
			rc = md_errno(errno);
			goto fail;
		}
	}
	for (i = 0; i < d->n; i++) {
		md_quota_add(d->t[i].st->root, (int64_t)d->size, 1);
		d->t[i].placed = 0;	/* keep it */
	}
	deliver_free(d);
	return KURIR_OK;
fail:
	if (rc == KURIR_E_NOTFOUND || rc == KURIR_E_EXISTS ||
	    rc == KURIR_E_INVALID)
		rc = KURIR_E_TEMPFAIL;
	if (rc != KURIR_E_OVERQUOTA)
		md_log(KURIR_LOG_ERR, "delivery to %zu user(s) failed: %s",
		    d->n, strerror(errno));
	deliver_free(d);
	return rc;
}

void
md_deliver_abort(struct kurir_delivery *d)
{
	if (d != NULL)
		deliver_free(d);
}
