/*
 * maildir_copy.c -- msg_copy: COPY and MOVE between folders of a user.
 *
 * Each source file is hard-linked (or copied) into the destination's
 * tmp/ under a new unique name; then md_commit_staged() renames them all
 * into cur/ under one lock and one index write, so the destination gains
 * all of them or none.  A hard link shares the file, so the internal
 * date (mtime) and the bytes are the source's at no cost.  MOVE then
 * expunges the sources; a crash between the two leaves both copies,
 * never none.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

static int
stage_one(struct kurir_mailbox *mb, struct md_index *ix, struct md_rec *r,
    const char *ddir, struct md_staged *s)
{
	char		 src[4096], tmp[4096], uniq[512], base[600], kw[1024];
	char		 found[1024];
	uint32_t	 in_new;
	int		 e;

	if (md_unique_name(uniq, sizeof(uniq)) == -1)
		return KURIR_E_INVALID;
	snprintf(base, sizeof(base), "%s,S=%llu", uniq,
	    (unsigned long long)r->size);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", ddir, uniq);
	md_msg_path(mb->dir, r, src, sizeof(src));
	if (link(src, tmp) == -1) {
		e = errno;
		if (e == ENOENT) {
			if (md_locate(mb->dir, r->name, found, sizeof(found),
			    &in_new) != KURIR_OK)
				return KURIR_E_NOTFOUND;
			snprintf(src, sizeof(src), "%s/%s/%s", mb->dir,
			    in_new ? "new" : "cur", found);
			if (link(src, tmp) == 0)
				goto linked;
			e = errno;
		}
		if (e != EXDEV && e != EPERM && e != EMLINK && e != ENOTSUP)
			return md_errno(e);
		if (md_copy_file(src, tmp, r->date) == -1)
			return md_errno(errno);
	}
linked:
	md_kw_render(ix, r->kwbits, kw, sizeof(kw));
	if ((s->tmpname = strdup(uniq)) == NULL ||
	    (s->base = strdup(base)) == NULL ||
	    (s->keywords = strdup(kw)) == NULL) {
		unlink(tmp);
		return KURIR_E_NOMEM;
	}
	s->flags = r->flags;
	s->size = r->size;
	s->date = r->date;
	return KURIR_OK;
}

int
md_msg_copy(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, const char *dest, uint32_t move,
    uint32_t *dest_uidvalidity_r, kurir_uid_map_cb *map_cb, void *arg)
{
	struct md_index		 ix;
	struct md_staged	*s = NULL;
	struct kurir_uid_range	*moved = NULL;
	uint32_t		*src = NULL, uidv = 0;
	uint64_t		 bytes = 0;
	char			*ddir = NULL, path[4096];
	size_t			 i, n = 0, k, cap = 0;
	int			 rc;

	if (set == NULL && nset > 0)
		return KURIR_E_INVALID;
	if ((rc = md_folder_dir(mb->st, dest, &ddir, 1)) != KURIR_OK)
		return rc;
	/* the latest committed state, not the snapshot; the keyword
	 * table is read after the index so it covers every letter */
	md_index_init(&ix);
	if ((rc = md_index_read(mb->dir, &ix)) != KURIR_OK ||
	    (rc = md_kw_read(mb->dir, &ix)) != KURIR_OK)
		goto out;
	cap = ix.nrecs;
	if (cap > 0 && ((s = calloc(cap, sizeof(*s))) == NULL ||
	    (src = calloc(cap, sizeof(*src))) == NULL)) {
		rc = KURIR_E_NOMEM;
		goto out;
	}
	for (i = 0; i < ix.nrecs; i++) {
		struct md_rec *r = &ix.recs[i];

		if (!md_uid_in_set(r->uid, set, nset))
			continue;
		rc = stage_one(mb, &ix, r, ddir, &s[n]);
		if (rc == KURIR_E_NOTFOUND) {
			free(s[n].tmpname);
			free(s[n].base);
			free(s[n].keywords);
			memset(&s[n], 0, sizeof(s[n]));
			continue;	/* expunged by someone meanwhile */
		}
		if (rc != KURIR_OK)
			goto out;
		src[n] = r->uid;
		bytes += r->size;
		n++;
	}
	if (!move && (rc = md_quota_check(mb->st, bytes, n)) != KURIR_OK)
		goto out;
	if ((rc = md_commit_staged(mb->st->root, ddir, s, n, &uidv)) !=
	    KURIR_OK)
		goto out;
	md_quota_add(mb->st->root, (int64_t)bytes, (int64_t)n);
	for (k = 0; k < n; k++) {
		free(s[k].tmpname);
		s[k].tmpname = NULL;	/* committed: nothing to clean */
	}
	if (dest_uidvalidity_r != NULL)
		*dest_uidvalidity_r = uidv;
	if (move && n > 0) {
		if ((moved = calloc(n, sizeof(*moved))) == NULL) {
			rc = KURIR_E_NOMEM;
			goto out;
		}
		for (k = 0; k < n; k++)
			moved[k].first = moved[k].last = src[k];
		if ((rc = md_msg_expunge(mb, moved, n)) != KURIR_OK)
			goto out;
	}
	for (k = 0; map_cb != NULL && k < n; k++)
		if ((rc = map_cb(arg, src[k], s[k].uid)) != 0)
			break;
out:
	for (k = 0; s != NULL && k < cap; k++) {
		if (s[k].tmpname != NULL) {
			snprintf(path, sizeof(path), "%s/tmp/%s", ddir,
			    s[k].tmpname);
			unlink(path);
		}
		free(s[k].tmpname);
		free(s[k].base);
		free(s[k].keywords);
	}
	free(s);
	free(src);
	free(moved);
	free(ddir);
	md_index_free(&ix);
	return rc;
}
