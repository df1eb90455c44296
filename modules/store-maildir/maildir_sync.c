/*
 * maildir_sync.c -- bring a folder's index in line with its directories.
 *
 * Run under the folder lock.  Every file in new/ and cur/ is matched to
 * the index by its base name (the part before ':'):
 *  - a known file whose name changed (another program set flags) takes
 *    the new name, and a new modseq when its flags differ;
 *  - an unknown file (delivered by us or by another program, or an old
 *    Maildir seen for the first time) is moved from new/ to cur/ and gets
 *    the next UID, in name order (names start with the delivery time);
 *  - an index entry whose file is gone was expunged by someone else: it
 *    becomes a tombstone with a new modseq.
 * The index is rewritten only when something changed.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"

struct md_newfile {
	char		*name;
	uint32_t	 in_new;
};

struct md_scan {
	struct md_index	 *ix;
	struct md_rec	**byname;	/* recs sorted by base name */
	struct md_newfile *nf;
	size_t		  nnf, capnf;
	int		  changed;
};

static int
base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
byname_cmp(const void *a, const void *b)
{
	const struct md_rec *x = *(struct md_rec *const *)a;
	const struct md_rec *y = *(struct md_rec *const *)b;

	return base_cmp(x->name, md_base_len(x->name), y->name,
	    md_base_len(y->name));
}

static int
newfile_cmp(const void *a, const void *b)
{
	const struct md_newfile *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static struct md_rec *
scan_lookup(struct md_scan *sc, const char *name)
{
	size_t	 lo = 0, hi = sc->ix->nrecs, mid, len = md_base_len(name);
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = base_cmp(name, len, sc->byname[mid]->name,
		    md_base_len(sc->byname[mid]->name));
		if (c == 0)
			return sc->byname[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
scan_entry(struct md_scan *sc, const char *name, uint32_t in_new)
{
	struct md_rec	*r;
	struct md_newfile *nf;
	uint32_t	 flags, kw;
	char		*dup;
	size_t		 ncap;

	if ((r = scan_lookup(sc, name)) != NULL) {
		if (r->seen)
			return 0;	/* the same base twice: keep one */
		r->seen = 1;
		if (r->in_new == in_new && strcmp(r->name, name) == 0)
			return 0;
		if ((dup = strdup(name)) == NULL)
			return KURIR_E_NOMEM;
		free(r->name);
		r->name = dup;
		r->in_new = in_new;
		r->dirty = 1;
		md_info_parse(name, &flags, &kw);
		if (flags != r->flags || kw != r->kwbits) {
			r->flags = flags;
			r->kwbits = kw;
			r->modseq = ++sc->ix->highestmodseq;
		}
		sc->changed = 1;
		return 0;
	}
	if (sc->nnf == sc->capnf) {
		ncap = sc->capnf ? sc->capnf * 2 : 32;
		nf = reallocarray(sc->nf, ncap, sizeof(*nf));
		if (nf == NULL)
			return KURIR_E_NOMEM;
		sc->nf = nf;
		sc->capnf = ncap;
	}
	if ((sc->nf[sc->nnf].name = strdup(name)) == NULL)
		return KURIR_E_NOMEM;
	sc->nf[sc->nnf++].in_new = in_new;
	return 0;
}

static int
scan_dir(struct md_scan *sc, const char *dir, const char *sub)
{
	char		 path[4096];
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	int		 rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : md_errno(errno);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '\n') != NULL)
			continue;
		if (de->d_type == DT_DIR)
			continue;
		if (de->d_type == DT_UNKNOWN && (fstatat(dirfd(d), de->d_name,
		    &sb, 0) == -1 || !S_ISREG(sb.st_mode)))
			continue;
		if ((rc = scan_entry(sc, de->d_name, sub[0] == 'n')) != 0)
			break;
	}
	closedir(d);
	return rc;
}

/* A file seen for the first time: into cur/, then a UID. */
static int
scan_adopt(struct md_scan *sc, const char *dir, struct md_newfile *nf)
{
	char		 from[4096], to[4096], name[1024];
	struct stat	 sb;
	struct md_rec	*r;
	size_t		 blen;

	snprintf(from, sizeof(from), "%s/%s/%s", dir,
	    nf->in_new ? "new" : "cur", nf->name);
	if (nf->in_new) {
		blen = md_base_len(nf->name);
		if (nf->name[blen] == ':')
			snprintf(name, sizeof(name), "%s", nf->name);
		else if (md_info_render(nf->name, blen, 0, 0, NULL, name,
		    sizeof(name)) == -1)
			return 0;
		snprintf(to, sizeof(to), "%s/cur/%s", dir, name);
		if (rename(from, to) == -1) {
			if (errno == ENOENT)
				return 0;	/* someone else took it */
			snprintf(name, sizeof(name), "%s", nf->name);
		} else {
			nf->in_new = 0;
			memcpy(from, to, sizeof(from));
		}
	} else
		snprintf(name, sizeof(name), "%s", nf->name);
	if (stat(from, &sb) == -1)
		return errno == ENOENT ? 0 : md_errno(errno);
	if ((r = md_index_add(sc->ix)) == NULL)
		return KURIR_E_NOMEM;
	if ((r->name = strdup(name)) == NULL) {
		sc->ix->nrecs--;
		return KURIR_E_NOMEM;
	}
	r->in_new = nf->in_new;
	if (md_size_from_name(name, &r->size) == -1)
		r->size = (uint64_t)sb.st_size;
	r->date = sb.st_mtime;
	md_info_parse(name, &r->flags, &r->kwbits);
	r->uid = sc->ix->nextuid++;
	r->modseq = ++sc->ix->highestmodseq;
	r->dirty = 1;
	sc->changed = 1;
	return 0;
}

int
md_sync_locked(const char *root, const char *dir, struct md_index *ix)
{
	struct md_scan	 sc;
	char		 path[4096];
	size_t		 i, o;
	int		 rc, fresh = 0;

	rc = md_index_read(dir, ix);
	if (rc == KURIR_E_CORRUPT || rc == KURIR_E_NOTFOUND) {
		if (rc == KURIR_E_CORRUPT)
			md_log(KURIR_LOG_WARNING, "%s/%s: bad header, "
			    "rebuilding under a new UIDVALIDITY", dir,
			    MD_UIDLIST);
		md_index_free(ix);
		if ((rc = md_index_new_uidvalidity(root, &ix->uidvalidity))
		    != KURIR_OK)
			return rc;
		fresh = 1;
	} else if (rc != KURIR_OK)
		return rc;
	if ((rc = md_kw_read(dir, ix)) != KURIR_OK)
		return rc;

	memset(&sc, 0, sizeof(sc));
	sc.ix = ix;
	sc.changed = fresh;
	if (ix->nrecs > 0 &&
	    (sc.byname = calloc(ix->nrecs, sizeof(*sc.byname))) == NULL)
		return KURIR_E_NOMEM;
	for (i = 0; i < ix->nrecs; i++) {
		ix->recs[i].seen = 0;
		sc.byname[i] = &ix->recs[i];
	}
	if (ix->nrecs > 1)
		qsort(sc.byname, ix->nrecs, sizeof(*sc.byname), byname_cmp);
	if ((rc = scan_dir(&sc, dir, "new")) != 0 ||
	    (rc = scan_dir(&sc, dir, "cur")) != 0)
		goto out;
	free(sc.byname);
	sc.byname = NULL;

	/* vanished files: expunged by another program */
	for (i = 0, o = 0; i < ix->nrecs; i++) {
		if (ix->recs[i].seen) {
			ix->recs[o++] = ix->recs[i];
			continue;
		}
		if ((rc = md_index_tomb(ix, ix->recs[i].uid,
		    ++ix->highestmodseq)) != 0)
			goto out;
		snprintf(path, sizeof(path), "%s/%s/%u", dir, MD_CACHEDIR,
		    ix->recs[i].uid);
		unlink(path);
		free(ix->recs[i].name);
		sc.changed = 1;
	}
	ix->nrecs = o;

	if (sc.nnf > 1)
		qsort(sc.nf, sc.nnf, sizeof(*sc.nf), newfile_cmp);
	for (i = 0; i < sc.nnf; i++) {
		if (ix->nextuid == UINT32_MAX)
			break;
		if ((rc = scan_adopt(&sc, dir, &sc.nf[i])) != 0)
			goto out;
	}
	if (sc.changed)
		rc = md_index_save(dir, ix);
out:
	for (i = 0; i < sc.nnf; i++)
		free(sc.nf[i].name);
	free(sc.nf);
	free(sc.byname);
	return rc;
}

/*
 * The stamp: stat(2) of new/, cur/ and kurir-uidlist.  Any change to the
 * folder changes one of them: a file added, removed or renamed changes
 * its directory's mtime and ctime, and a kurir writer appends to the
 * uidlist (it grows) or replaces it (a new inode).  Timestamps are coarse
 * (a clock tick), so a stamp is only trusted when all three were last
 * changed more than MD_STAMP_SETTLE seconds before it was taken: a later
 * change then carries a later time.  This is Dovecot's rule for
 * maildir's directory mtimes.
 */
#define MD_STAMP_SETTLE	1

static int
stamp_take(const char *dir, struct stat sb[3])
{
	static const char *const names[3] = { "new", "cur", MD_UIDLIST };
	char	 path[4096];
	size_t	 i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &sb[i]) == -1)
			return -1;
	}
	return 0;
}

static int
stamp_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Has nothing changed since mb's last full sync? */
static int
stamp_unchanged(struct kurir_mailbox *mb)
{
	struct stat	 sb[3];
	size_t		 i;

	if (!mb->stamp.valid || stamp_take(mb->dir, sb) == -1)
		return 0;
	for (i = 0; i < 3; i++)
		if (!stamp_same(&sb[i], &mb->stamp.sb[i]))
			return 0;
	return 1;
}

/* Was t more than MD_STAMP_SETTLE seconds before now? */
static int
settled(const struct timespec *t, const struct timespec *now)
{
	if (t->tv_sec != now->tv_sec - MD_STAMP_SETTLE)
		return t->tv_sec < now->tv_sec - MD_STAMP_SETTLE;
	return t->tv_nsec < now->tv_nsec;
}

/* After a full sync under the lock: keep the stamp if it is settled. */
static void
stamp_record(struct kurir_mailbox *mb)
{
	struct timespec	 now;
	size_t		 i;

	mb->stamp.valid = 0;
	if (clock_gettime(CLOCK_REALTIME, &now) == -1 ||
	    stamp_take(mb->dir, mb->stamp.sb) == -1)
		return;
	for (i = 0; i < 3; i++)
		if (!settled(&mb->stamp.sb[i].st_mtim, &now) ||
		    !settled(&mb->stamp.sb[i].st_ctim, &now))
			return;
	mb->stamp.valid = 1;
}

/*
 * Refresh mb's snapshot: with scan, a full directory sync (skipped when
 * the stamp of the last one shows no change: mailbox_sync right after
 * mailbox_open, a POP3 login); else just the index as committed (cheap,
 * after our own writes).
 */
int
md_folder_load(struct kurir_mailbox *mb, int scan)
{
	struct md_index	 ix;
	int		 lfd, rc;

	if (scan && stamp_unchanged(mb))
		return KURIR_OK;
	md_index_init(&ix);
	if (md_lock(mb->dir, MD_UIDLIST_LOCK, &lfd) == -1)
		return md_errno(errno);
	mb->stamp.valid = 0;
	if (scan) {
		rc = md_sync_locked(mb->st->root, mb->dir, &ix);
		if (rc == KURIR_OK)
			stamp_record(mb);
	} else if ((rc = md_index_read(mb->dir, &ix)) == KURIR_OK)
		rc = md_kw_read(mb->dir, &ix);
	md_unlock(lfd);
	if (rc != KURIR_OK) {
		md_index_free(&ix);
		return rc;
	}
	md_index_free(&mb->idx);
	md_index_shrink(&ix);
	mb->idx = ix;
	return KURIR_OK;
}

int
md_msg_path(const char *dir, const struct md_rec *r, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s/%s", dir,
	    r->in_new ? "new" : "cur", r->name) >= cap)
		return -1;
	return 0;
}

/* Where is the file whose base name is that of name now?  Another
 * program may have renamed it (flags) or moved it from new/ to cur/. */
int
md_locate(const char *dir, const char *name, char *found, size_t cap,
    uint32_t *in_new_r)
{
	static const char *const subs[] = { "cur", "new" };
	char		 path[4096];
	struct dirent	*de;
	size_t		 blen = md_base_len(name), i;
	DIR		*d;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, name, blen) != 0 ||
			    (de->d_name[blen] != '\0' &&
			    de->d_name[blen] != ':'))
				continue;
			snprintf(found, cap, "%s", de->d_name);
			*in_new_r = i == 1;
			closedir(d);
			return KURIR_OK;
		}
		closedir(d);
	}
	return KURIR_E_NOTFOUND;
}
