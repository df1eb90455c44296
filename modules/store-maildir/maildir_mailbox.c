/*
 * maildir_mailbox.c -- an open folder: its snapshot (the index as of the
 * last sync), listing, reading by byte range, changes_since, the cache
 * blobs (change notification: maildir_notify.c).
 *
 * msg_read() uses pread(2) on the message file and keeps the last file
 * open, so a client fetching a message in chunks opens it once.  Files
 * are opened relative to descriptors of cur/ and new/ kept by the
 * mailbox (no walk of the whole path per message), and a short read that
 * reaches the size the index knows ends the message without a second
 * pread(2) to see EOF.  When another program renamed the file (flags) it
 * is found again by base name.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

int
md_mailbox_open(struct kurir_store *st, const char *name,
    struct kurir_mailbox **mb_r)
{
	struct kurir_mailbox	*mb;
	int			 rc;

	*mb_r = NULL;
	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return KURIR_E_NOMEM;
	mb->st = st;
	mb->efd = -1;
	mb->rfd = -1;
	mb->subfd[0] = mb->subfd[1] = -1;
	md_index_init(&mb->idx);
	if ((rc = md_folder_dir(st, name, &mb->dir, 1)) != KURIR_OK)
		goto fail;
	if ((mb->name = strdup(name)) == NULL) {
		rc = KURIR_E_NOMEM;
		goto fail;
	}
	if (mb->dir[strlen(st->root)] != '\0')
		md_clean_tmp(mb->dir, md_conf.tmp_max_age);
	if ((rc = md_folder_load(mb, 1)) != KURIR_OK)
		goto fail;
	*mb_r = mb;
	return KURIR_OK;
fail:
	md_mailbox_close(mb);
	return rc;
}

void
md_mailbox_close(struct kurir_mailbox *mb)
{
	if (mb == NULL)
		return;
	md_notify_close(mb);
	if (mb->rfd != -1)
		close(mb->rfd);
	if (mb->subfd[0] != -1)
		close(mb->subfd[0]);
	if (mb->subfd[1] != -1)
		close(mb->subfd[1]);
	md_index_free(&mb->idx);
	free(mb->dir);
	free(mb->name);
	free(mb);
}

void
md_status_fill(const struct md_index *ix, struct kurir_mailbox_status *s)
{
	size_t	 i;

	memset(s, 0, sizeof(*s));
	s->messages = (uint32_t)ix->nrecs;
	s->uidvalidity = ix->uidvalidity;
	s->uidnext = ix->nextuid;
	s->highestmodseq = ix->highestmodseq;
	for (i = 0; i < ix->nrecs; i++) {
		if (!(ix->recs[i].flags & KURIR_FLAG_SEEN))
			s->unseen++;
		s->bytes += ix->recs[i].size;
	}
}

int
md_mailbox_sync(struct kurir_mailbox *mb, struct kurir_mailbox_status *s_r)
{
	int	 rc;

	if ((rc = md_folder_load(mb, 1)) != KURIR_OK)
		return rc;
	if (mb->rfd != -1) {
		close(mb->rfd);
		mb->rfd = -1;
	}
	if (s_r != NULL)
		md_status_fill(&mb->idx, s_r);
	return KURIR_OK;
}

int
md_uid_in_set(uint32_t uid, const struct kurir_uid_range *set, size_t nset)
{
	size_t	 i;

	for (i = 0; i < nset; i++) {
		uint32_t lo = set[i].first, hi = set[i].last;

		if (lo > hi) {
			lo = set[i].last;
			hi = set[i].first;
		}
		if (uid >= lo && uid <= hi)
			return 1;
	}
	return 0;
}

/* kw (MD_KWBUF bytes, the caller's) holds m->keywords: on the stack of
 * the listing op, since an open mailbox is kept by every idle session. */
static void
rec_to_msg(struct kurir_mailbox *mb, const struct md_rec *r,
    struct kurir_msg *m, char *kw)
{
	m->uid = r->uid;
	m->flags = r->flags;
	m->modseq = r->modseq;
	m->size = r->size;
	m->internal_date = r->date;
	md_kw_render(&mb->idx, r->kwbits, kw, MD_KWBUF);
	m->keywords = kw;
}

int
md_msg_list(struct kurir_mailbox *mb, uint32_t first, uint32_t last,
    kurir_msg_cb *cb, void *arg)
{
	char		 kw[MD_KWBUF];
	struct kurir_msg m;
	size_t		 i;
	int		 rc;

	if (cb == NULL)
		return KURIR_E_INVALID;
	for (i = 0; i < mb->idx.nrecs; i++) {
		const struct md_rec *r = &mb->idx.recs[i];

		if (r->uid < first)
			continue;
		if (r->uid > last)
			break;
		rec_to_msg(mb, r, &m, kw);
		if ((rc = cb(arg, &m)) != 0)
			return rc;
	}
	return KURIR_OK;
}

/* mb's descriptor of cur/ (in_new = 0) or new/, opened on first use;
 * -1 with errno on failure. */
int
md_subdir_fd(struct kurir_mailbox *mb, uint32_t in_new)
{
	char	 path[4096];
	int	*dfd = &mb->subfd[in_new ? 1 : 0];

	if (*dfd == -1) {
		snprintf(path, sizeof(path), "%s/%s", mb->dir,
		    in_new ? "new" : "cur");
		*dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return *dfd;
}

/* Open r's file relative to the cur/ or new/ descriptor of mb. */
static int
open_sub(struct kurir_mailbox *mb, const struct md_rec *r)
{
	int	 dfd;

	if ((dfd = md_subdir_fd(mb, r->in_new)) == -1)
		return -1;
	return openat(dfd, r->name, O_RDONLY | O_CLOEXEC);
}

static int
open_msg(struct kurir_mailbox *mb, struct md_rec *r)
{
	char		 found[1024], *dup;
	uint32_t	 in_new;
	int		 fd;

	if (strchr(r->name, '/') != NULL)
		return KURIR_E_INVALID;
	if ((fd = open_sub(mb, r)) != -1)
		return fd;
	if (errno != ENOENT)
		return md_errno(errno);
	/* renamed by someone since our snapshot? */
	if (md_locate(mb->dir, r->name, found, sizeof(found), &in_new) !=
	    KURIR_OK)
		return KURIR_E_NOTFOUND;
	if ((dup = strdup(found)) == NULL)
		return KURIR_E_NOMEM;
	free(r->name);
	r->name = dup;
	r->in_new = in_new;
	if ((fd = open_sub(mb, r)) == -1)
		return errno == ENOENT ? KURIR_E_NOTFOUND : md_errno(errno);
	return fd;
}

int
md_msg_read(struct kurir_mailbox *mb, uint32_t uid, uint64_t offset,
    void *buf, size_t len, size_t *n_r)
{
	struct md_index	 ix;
	struct md_rec	*r;
	uint64_t	 size;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if (n_r == NULL || (buf == NULL && len > 0))
		return KURIR_E_INVALID;
	*n_r = 0;
	if (mb->rfd == -1 || mb->rfd_uid != uid) {
		if (mb->rfd != -1)
			close(mb->rfd);
		mb->rfd = -1;
		size = 0;
		if ((r = md_index_find(&mb->idx, uid)) != NULL) {
			fd = open_msg(mb, r);
			size = r->size;
		} else {
			/* newer than the snapshot: the committed index */
			md_index_init(&ix);
			fd = KURIR_E_NOTFOUND;
			if (md_index_read(mb->dir, &ix) == KURIR_OK &&
			    (r = md_index_find(&ix, uid)) != NULL) {
				fd = open_msg(mb, r);
				size = r->size;
			}
			md_index_free(&ix);
		}
		if (fd < 0)
			return fd;
		mb->rfd = fd;
		mb->rfd_uid = uid;
		mb->rfd_size = size;
	}
	while (got < len) {
		n = pread(mb->rfd, (char *)buf + got, len - got,
		    (off_t)(offset + got));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return md_errno(errno);
		}
		if (n == 0)
			break;
		got += (size_t)n;
		/* Short of len at the size the index knows: the end, no
		 * pread(2) just to see it (a longer file is read on). */
		if (got < len && offset + got >= mb->rfd_size)
			break;
	}
	*n_r = got;
	return KURIR_OK;
}

int
md_changes_since(struct kurir_mailbox *mb, uint64_t modseq,
    kurir_msg_cb *changed_cb, kurir_uid_cb *expunged_cb, void *arg)
{
	char		 kw[MD_KWBUF];
	struct kurir_msg m;
	size_t		 i;
	int		 rc;

	for (i = 0; changed_cb != NULL && i < mb->idx.nrecs; i++) {
		if (mb->idx.recs[i].modseq <= modseq)
			continue;
		rec_to_msg(mb, &mb->idx.recs[i], &m, kw);
		if ((rc = changed_cb(arg, &m)) != 0)
			return rc;
	}
	for (i = 0; expunged_cb != NULL && i < mb->idx.ntombs; i++) {
		if (mb->idx.tombs[i].modseq <= modseq)
			continue;
		if ((rc = expunged_cb(arg, mb->idx.tombs[i].uid)) != 0)
			return rc;
	}
	return KURIR_OK;
}

int
md_cache_get(struct kurir_mailbox *mb, uint32_t uid, void *buf, size_t cap,
    size_t *len_r)
{
	char		 path[4096];
	struct stat	 sb;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	if (len_r == NULL)
		return KURIR_E_INVALID;
	*len_r = 0;
	if (md_index_find(&mb->idx, uid) == NULL)
		return KURIR_E_NOTFOUND;
	snprintf(path, sizeof(path), "%s/%s/%u", mb->dir, MD_CACHEDIR, uid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? KURIR_E_NOTFOUND : md_errno(errno);
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return md_errno(errno);
	}
	*len_r = (size_t)sb.st_size;
	if ((size_t)sb.st_size > cap || (buf == NULL && sb.st_size > 0)) {
		close(fd);
		return KURIR_E_TOOBIG;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, (char *)buf + got, (size_t)sb.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len_r = got;
	return KURIR_OK;
}

int
md_cache_set(struct kurir_mailbox *mb, uint32_t uid, const void *blob,
    size_t len)
{
	char	 dir[4096], name[16];

	if (blob == NULL && len > 0)
		return KURIR_E_INVALID;
	if (md_index_find(&mb->idx, uid) == NULL)
		return KURIR_E_NOTFOUND;
	snprintf(dir, sizeof(dir), "%s/%s", mb->dir, MD_CACHEDIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return md_errno(errno);
	snprintf(name, sizeof(name), "%u", uid);
	/* not fsync'd: a lost blob is parsed again */
	if (md_write_file(dir, name, blob, len, 0) == -1)
		return md_errno(errno);
	return KURIR_OK;
}
