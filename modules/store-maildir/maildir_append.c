/*
 * maildir_append.c -- streamed append, and committing files staged in a
 * folder's tmp/ (append and copy share it).
 *
 * An append writes tmp/UNIQUE; commit sets the mtime (internal date),
 * fsyncs the file, checks the quota, then under the folder lock renames
 * it to cur/UNIQUE,S=SIZE:2,FLAGS, fsyncs cur/ and writes the index with
 * the new UID (fsync'd, renamed, folder fsync'd).  A crash before the
 * rename leaves only tmp/ junk (removed after maildir_tmp_max_age); a
 * crash after it leaves a complete message that the next scan adopts.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"

struct kurir_append {
	struct kurir_store *st;
	char		*dir;
	int		 fd;
	int		 failed;	/* KURIR_E_* of a failed write */
	char		 tmpname[512];
	uint64_t	 size;
	uint32_t	 flags;
	char		*keywords;
	int64_t		 date;
};

int
md_commit_staged(const char *root, const char *dir, struct md_staged *s,
    size_t n, uint32_t *uidvalidity_r)
{
	struct md_index	 ix;
	struct md_rec	*r;
	char		 from[4096], to[4096], (*names)[NAME_MAX + 1];
	uint32_t	 kw;
	size_t		 i, done = 0;
	int		 lfd, rc;

	if ((names = calloc(n > 0 ? n : 1, sizeof(*names))) == NULL)
		return KURIR_E_NOMEM;
	if (md_lock(dir, MD_UIDLIST_LOCK, &lfd) == -1) {
		free(names);
		return md_errno(errno);
	}
	md_index_init(&ix);
	rc = md_index_read(dir, &ix);
	if (rc == KURIR_OK)
		rc = md_kw_read(dir, &ix);
	else if (rc == KURIR_E_NOTFOUND || rc == KURIR_E_CORRUPT) {
		md_index_free(&ix);
		rc = md_sync_locked(root, dir, &ix);
	}
	if (rc != KURIR_OK)
		goto out;
	if (ix.nextuid > UINT32_MAX - n) {
		rc = KURIR_E_TOOBIG;	/* UIDs exhausted */
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = md_kw_map(dir, &ix, s[i].keywords, 1, &kw)) !=
		    KURIR_OK)
			goto undo;
		if (md_info_render(s[i].base, strlen(s[i].base), s[i].flags,
		    kw, NULL, names[i], sizeof(names[i])) == -1) {
			rc = KURIR_E_INVALID;
			goto undo;
		}
		snprintf(from, sizeof(from), "%s/tmp/%s", dir, s[i].tmpname);
		snprintf(to, sizeof(to), "%s/cur/%s", dir, names[i]);
		if (rename(from, to) == -1) {
			rc = md_errno(errno);
			goto undo;
		}
		done++;
		if ((r = md_index_add(&ix)) == NULL) {
			rc = KURIR_E_NOMEM;
			goto undo;
		}
		if ((r->name = strdup(names[i])) == NULL) {
			ix.nrecs--;
			rc = KURIR_E_NOMEM;
			goto undo;
		}
		r->dirty = 1;
		r->uid = s[i].uid = ix.nextuid++;
		r->modseq = ++ix.highestmodseq;
		r->flags = s[i].flags;
		r->kwbits = kw;
		r->size = s[i].size;
		r->date = s[i].date;
	}
	snprintf(to, sizeof(to), "%s/cur", dir);
	if (md_fsync_dir(to) == -1) {
		rc = md_errno(errno);
		goto undo;
	}
	if ((rc = md_index_save(dir, &ix)) != KURIR_OK)
		goto undo;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = ix.uidvalidity;
	goto out;
undo:
	/* all or nothing: take back the files already in cur/ */
	for (i = 0; i < done; i++) {
		snprintf(to, sizeof(to), "%s/cur/%s", dir, names[i]);
		unlink(to);
	}
out:
	md_index_free(&ix);
	md_unlock(lfd);
	free(names);
	return rc;
}

int
md_append_begin(struct kurir_store *st, const char *mailbox, uint32_t flags,
    const char *keywords, int64_t internal_date, struct kurir_append **ap_r)
{
	struct kurir_append	*ap;
	char			 path[4096];
	int			 rc;

	*ap_r = NULL;
	if ((flags & ~0x1fu) != 0)
		return KURIR_E_INVALID;
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return KURIR_E_NOMEM;
	ap->fd = -1;
	ap->st = st;
	ap->flags = flags;
	ap->date = internal_date > 0 ? internal_date : (int64_t)time(NULL);
	if ((rc = md_folder_dir(st, mailbox, &ap->dir, 1)) != KURIR_OK)
		goto fail;
	if (keywords != NULL && (ap->keywords = strdup(keywords)) == NULL) {
		rc = KURIR_E_NOMEM;
		goto fail;
	}
	if (md_unique_name(ap->tmpname, sizeof(ap->tmpname)) == -1) {
		rc = KURIR_E_INVALID;
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/tmp/%s", ap->dir, ap->tmpname);
	ap->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ap->fd == -1) {
		rc = md_errno(errno);
		md_log(KURIR_LOG_ERR, "%s: %s", path, strerror(errno));
		goto fail;
	}
	*ap_r = ap;
	return KURIR_OK;
fail:
	free(ap->dir);
	free(ap->keywords);
	free(ap);
	return rc;
}

int
md_append_write(struct kurir_append *ap, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	if (ap->failed)
		return ap->failed;
	if (buf == NULL && len > 0)
		return KURIR_E_INVALID;
	while (len > 0) {
		if ((n = write(ap->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			ap->failed = md_errno(errno);
			if (ap->failed == KURIR_E_NOTFOUND ||
			    ap->failed == KURIR_E_EXISTS)
				ap->failed = KURIR_E_TEMPFAIL;
			/* give the space back at once */
			(void)!ftruncate(ap->fd, 0);
			return ap->failed;
		}
		p += n;
		len -= (size_t)n;
		ap->size += (uint64_t)n;
	}
	return KURIR_OK;
}

static void
append_free(struct kurir_append *ap, int unlink_tmp)
{
	char	 path[4096];

	if (ap->fd != -1)
		close(ap->fd);
	if (unlink_tmp) {
		snprintf(path, sizeof(path), "%s/tmp/%s", ap->dir,
		    ap->tmpname);
		unlink(path);
	}
	free(ap->dir);
	free(ap->keywords);
	free(ap);
}

int
md_append_commit(struct kurir_append *ap, uint32_t *uidvalidity_r,
    uint32_t *uid_r)
{
	struct md_staged s;
	struct timespec	 ts[2];
	char		 base[600];
	int		 rc;

	if ((rc = ap->failed) != KURIR_OK)
		goto fail;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)ap->date;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(ap->fd, ts) == -1 || md_fsync(ap->fd) == -1 ||
	    close(ap->fd) == -1) {
		rc = md_errno(errno);
		ap->fd = -1;
		if (rc == KURIR_E_NOTFOUND || rc == KURIR_E_EXISTS)
			rc = KURIR_E_TEMPFAIL;
		goto fail;
	}
	ap->fd = -1;
	if ((rc = md_quota_check(ap->st, ap->size, 1)) != KURIR_OK)
		goto fail;
	snprintf(base, sizeof(base), "%s,S=%llu", ap->tmpname,
	    (unsigned long long)ap->size);
	memset(&s, 0, sizeof(s));
	s.tmpname = ap->tmpname;
	s.base = base;
	s.flags = ap->flags;
	s.keywords = ap->keywords;
	s.size = ap->size;
	s.date = ap->date;
	if ((rc = md_commit_staged(ap->st->root, ap->dir, &s, 1,
	    uidvalidity_r)) != KURIR_OK)
		goto fail;
	if (uid_r != NULL)
		*uid_r = s.uid;
	md_quota_add(ap->st->root, (int64_t)ap->size, 1);
	append_free(ap, 0);
	return KURIR_OK;
fail:
	append_free(ap, 1);
	return rc;
}

void
md_append_abort(struct kurir_append *ap)
{
	if (ap != NULL)
		append_free(ap, 1);
}
