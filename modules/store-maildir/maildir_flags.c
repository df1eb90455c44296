/*
 * maildir_flags.c -- msg_flags and msg_expunge.
 *
 * Both work on the committed index under the folder lock (not on the
 * caller's snapshot, which may be old), rename or unlink the message
 * files, give each changed message (or tombstone) a new modseq and
 * rewrite the index once.  The caller's snapshot then takes over the
 * new state of the messages it already knows (and drops the expunged),
 * without learning of messages it has not synced yet.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

/* The committed index of dir, under the caller's lock. */
static int
load_locked(struct kurir_mailbox *mb, struct md_index *ix)
{
	int	 rc;

	md_index_init(ix);
	rc = md_index_read(mb->dir, ix);
	if (rc == KURIR_OK)
		rc = md_kw_read(mb->dir, ix);
	else if (rc == KURIR_E_NOTFOUND || rc == KURIR_E_CORRUPT) {
		md_index_free(ix);
		rc = md_sync_locked(mb->st->root, mb->dir, ix);
	}
	if (rc != KURIR_OK)
		md_index_free(ix);
	return rc;
}

/* Rename r's file to carry flags/kwbits (into cur/ if it was in new/),
 * relative to mb's descriptors of cur/ and new/. */
static int
rename_rec(struct kurir_mailbox *mb, struct md_rec *r, uint32_t flags,
    uint32_t kw)
{
	char		 name[1024], found[1024], *dup;
	uint32_t	 in_new;
	int		 tries, fromfd, curfd;

	if (strchr(r->name, '/') != NULL)
		return KURIR_E_INVALID;
	for (tries = 0; tries < 2; tries++) {
		if (md_info_render(r->name, md_base_len(r->name), flags, kw,
		    r->name, name, sizeof(name)) == -1)
			return KURIR_E_INVALID;
		if ((fromfd = md_subdir_fd(mb, r->in_new)) == -1 ||
		    (curfd = md_subdir_fd(mb, 0)) == -1)
			return md_errno(errno);
		if (renameat(fromfd, r->name, curfd, name) == 0) {
			if ((dup = strdup(name)) == NULL)
				return KURIR_E_NOMEM;
			free(r->name);
			r->name = dup;
			r->in_new = 0;
			return KURIR_OK;
		}
		if (errno != ENOENT)
			return md_errno(errno);
		if (md_locate(mb->dir, r->name, found, sizeof(found),
		    &in_new) != KURIR_OK)
			return KURIR_E_NOTFOUND;
		if ((dup = strdup(found)) == NULL)
			return KURIR_E_NOMEM;
		free(r->name);
		r->name = dup;
		r->in_new = in_new;
	}
	return KURIR_E_TEMPFAIL;
}

/* Copy the fresh state of the messages mb's snapshot knows. */
static void
snapshot_update(struct kurir_mailbox *mb, struct md_index *ix)
{
	struct md_rec	*s, *r;
	size_t		 i;
	char		*dup;

	for (i = 0; i < mb->idx.nrecs; i++) {
		s = &mb->idx.recs[i];
		if ((r = md_index_find(ix, s->uid)) == NULL ||
		    r->modseq == s->modseq)
			continue;
		if ((dup = strdup(r->name)) != NULL) {
			free(s->name);
			s->name = dup;
		}
		s->in_new = r->in_new;
		s->flags = r->flags;
		s->kwbits = r->kwbits;
		s->modseq = r->modseq;
		if (s->modseq > mb->idx.highestmodseq)
			mb->idx.highestmodseq = s->modseq;
	}
	/* the keyword table only grows: take the fresh one */
	for (i = 0; i < MD_NKEYWORDS; i++) {
		free(mb->idx.kw[i]);
		mb->idx.kw[i] = ix->kw[i];
		ix->kw[i] = NULL;
	}
	mb->idx.nkw = ix->nkw;
	ix->nkw = 0;
}

int
md_msg_flags(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, uint32_t op, uint32_t flags, const char *keywords,
    uint64_t unchangedsince, kurir_uid_cb *failed_cb, void *arg)
{
	struct md_index	 ix;
	uint32_t	*failed = NULL, kw, nf, nk;
	size_t		 i, nfailed = 0;
	int		 lfd, rc, dirty = 0, cbrc = 0;

	if ((set == NULL && nset > 0) || op < KURIR_FLAGS_SET ||
	    op > KURIR_FLAGS_REMOVE || (flags & ~0x1fu) != 0)
		return KURIR_E_INVALID;
	if (md_lock(mb->dir, MD_UIDLIST_LOCK, &lfd) == -1)
		return md_errno(errno);
	if ((rc = load_locked(mb, &ix)) != KURIR_OK)
		goto out_unlock;
	if ((rc = md_kw_map(mb->dir, &ix, keywords, op != KURIR_FLAGS_REMOVE,
	    &kw)) != KURIR_OK)
		goto out;
	if (unchangedsince != 0 && ix.nrecs > 0 &&
	    (failed = calloc(ix.nrecs, sizeof(*failed))) == NULL) {
		rc = KURIR_E_NOMEM;
		goto out;
	}
	for (i = 0; i < ix.nrecs; i++) {
		struct md_rec *r = &ix.recs[i];

		if (!md_uid_in_set(r->uid, set, nset))
			continue;
		if (unchangedsince != 0 && r->modseq > unchangedsince) {
			failed[nfailed++] = r->uid;
			continue;
		}
		switch (op) {
		case KURIR_FLAGS_SET:
			nf = flags;
			nk = kw;
			break;
		case KURIR_FLAGS_ADD:
			nf = r->flags | flags;
			nk = r->kwbits | kw;
			break;
		default:
			nf = r->flags & ~flags;
			nk = r->kwbits & ~kw;
			break;
		}
		if (nf == r->flags && nk == r->kwbits && !r->in_new)
			continue;
		rc = rename_rec(mb, r, nf, nk);
		if (rc == KURIR_E_NOTFOUND)
			continue;	/* expunged meanwhile */
		if (rc != KURIR_OK)
			goto out_write;
		r->dirty = 1;
		if (nf != r->flags || nk != r->kwbits) {
			r->flags = nf;
			r->kwbits = nk;
			r->modseq = ++ix.highestmodseq;
		}
		dirty = 1;
	}
out_write:
	if (dirty) {
		int wrc = md_index_save(mb->dir, &ix);

		if (rc == KURIR_OK)
			rc = wrc;
	}
	if (rc == KURIR_OK)
		snapshot_update(mb, &ix);
out:
	md_index_free(&ix);
out_unlock:
	md_unlock(lfd);
	for (i = 0; rc == KURIR_OK && i < nfailed && failed_cb != NULL; i++)
		if ((cbrc = failed_cb(arg, failed[i])) != 0)
			break;
	free(failed);
	return rc != KURIR_OK ? rc : cbrc;
}

int
md_msg_expunge(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset)
{
	struct md_index	 ix;
	char		 path[4096], found[1024];
	uint32_t	 in_new;
	int64_t		 gone_bytes = 0, gone_msgs = 0;
	uint64_t	 before;
	size_t		 i, o;
	int		 lfd, rc = KURIR_OK, dirty = 0;

	if (set == NULL && nset > 0)
		return KURIR_E_INVALID;
	if (md_lock(mb->dir, MD_UIDLIST_LOCK, &lfd) == -1)
		return md_errno(errno);
	if ((rc = load_locked(mb, &ix)) != KURIR_OK) {
		md_unlock(lfd);
		return rc;
	}
	before = ix.highestmodseq;
	for (i = 0, o = 0; i < ix.nrecs; i++) {
		struct md_rec *r = &ix.recs[i];

		if (rc != KURIR_OK || !md_uid_in_set(r->uid, set, nset)) {
			ix.recs[o++] = *r;
			continue;
		}
		md_msg_path(mb->dir, r, path, sizeof(path));
		if (unlink(path) == -1) {
			if (errno != ENOENT)
				rc = md_errno(errno);
			else if (md_locate(mb->dir, r->name, found,
			    sizeof(found), &in_new) == KURIR_OK) {
				snprintf(path, sizeof(path), "%s/%s/%s",
				    mb->dir, in_new ? "new" : "cur", found);
				if (unlink(path) == -1 && errno != ENOENT)
					rc = md_errno(errno);
			}
			/* else: already gone, tombstone it all the same */
		}
		if (rc != KURIR_OK) {
			ix.recs[o++] = *r;
			continue;
		}
		if ((rc = md_index_tomb(&ix, r->uid, ++ix.highestmodseq)) !=
		    KURIR_OK) {
			ix.recs[o++] = *r;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/%u", mb->dir, MD_CACHEDIR,
		    r->uid);
		unlink(path);
		gone_bytes += (int64_t)r->size;
		gone_msgs++;
		free(r->name);
		dirty = 1;
	}
	ix.nrecs = o;
	if (dirty) {
		int wrc;

		/* the unlinks first: a tombstone must not outlive a file
		 * that a crash brings back (it would return as new mail) */
		snprintf(path, sizeof(path), "%s/cur", mb->dir);
		md_fsync_dir(path);
		wrc = md_index_save(mb->dir, &ix);
		if (rc == KURIR_OK)
			rc = wrc;
	}
	md_unlock(lfd);
	md_quota_add(mb->st->root, -gone_bytes, -gone_msgs);

	/* the snapshot: drop what is gone, learn its tombstones */
	for (i = 0, o = 0; i < mb->idx.nrecs; i++) {
		struct md_rec *s = &mb->idx.recs[i];

		if (md_index_find(&ix, s->uid) == NULL &&
		    md_uid_in_set(s->uid, set, nset)) {
			if (mb->rfd != -1 && mb->rfd_uid == s->uid) {
				close(mb->rfd);
				mb->rfd = -1;
			}
			free(s->name);
			continue;
		}
		mb->idx.recs[o++] = *s;
	}
	mb->idx.nrecs = o;
	/* the tombstones this call added are those above `before` */
	for (i = 0; i < ix.ntombs; i++) {
		if (ix.tombs[i].modseq <= before)
			continue;
		if (md_index_tomb(&mb->idx, ix.tombs[i].uid,
		    ix.tombs[i].modseq) == KURIR_OK &&
		    ix.tombs[i].modseq > mb->idx.highestmodseq)
			mb->idx.highestmodseq = ix.tombs[i].modseq;
	}
	md_index_free(&ix);
	return rc;
}
