/*
 * maildir_uidlist.c -- a folder's index file, kurir-uidlist.
 *
 * Modelled on dovecot-uidlist: a header line, then one line per message
 * and one per expunge tombstone.
 *
 *   K1 V<uidvalidity> N<nextuid> M<highestmodseq>
 *   <uid> <modseq> <internal date> <size> <n|c> <file name>
 *   X <uid> <modseq>
 *
 * "n" or "c" says whether the file was last seen in new/ or cur/; the
 * file name is the rest of the line (it carries the flags).  Tombstones
 * let changes_since() report expunged UIDs (QRESYNC).
 *
 * The file is a log: a change appends lines (O_APPEND, then fsync: one
 * fsync and no directory fsync per change) and a later line for a UID
 * replaces an earlier one; a tombstone removes the UID.  NEXTUID and
 * HIGHESTMODSEQ are the header's or above the largest seen.  When the
 * log holds more than twice the live lines it is compacted: rewritten
 * whole to a temp file, fsync'd, renamed over, directory fsync'd.  Only
 * writers holding kurir-uidlist.lock touch it; a reader without the lock
 * ignores a last line without its newline (a write in progress).
 *
 * A damaged message line is skipped (the file behind it is found again by
 * the next directory scan and gets a fresh UID; UIDs are never reused as
 * NEXTUID is kept above every UID seen).  A damaged header makes the
 * caller rebuild the folder under a new UIDVALIDITY.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"

void
md_index_init(struct md_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->nextuid = 1;
}

void
md_index_free(struct md_index *ix)
{
	size_t	 i;

	for (i = 0; i < ix->nrecs; i++)
		free(ix->recs[i].name);
	for (i = 0; i < ix->nkw; i++)
		free(ix->kw[i]);
	free(ix->recs);
	free(ix->tombs);
	md_index_init(ix);
}

struct md_rec *
md_index_add(struct md_index *ix)
{
	struct md_rec	*r;
	size_t		 ncap;

	if (ix->nrecs == ix->caprecs) {
		ncap = ix->caprecs ? ix->caprecs * 2 : 64;
		r = reallocarray(ix->recs, ncap, sizeof(*r));
		if (r == NULL)
			return NULL;
		ix->recs = r;
		ix->caprecs = ncap;
	}
	r = &ix->recs[ix->nrecs++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* Give back the growth slack: a snapshot is kept by every session that
 * has the folder selected. */
void
md_index_shrink(struct md_index *ix)
{
	void	*p;

	if (ix->caprecs > ix->nrecs) {
		if (ix->nrecs == 0) {
			free(ix->recs);
			ix->recs = NULL;
			ix->caprecs = 0;
		} else if ((p = reallocarray(ix->recs, ix->nrecs,
		    sizeof(*ix->recs))) != NULL) {
			ix->recs = p;
			ix->caprecs = ix->nrecs;
		}
	}
	if (ix->captombs > ix->ntombs) {
		if (ix->ntombs == 0) {
			free(ix->tombs);
			ix->tombs = NULL;
			ix->captombs = 0;
		} else if ((p = reallocarray(ix->tombs, ix->ntombs,
		    sizeof(*ix->tombs))) != NULL) {
			ix->tombs = p;
			ix->captombs = ix->ntombs;
		}
	}
}

struct md_rec *
md_index_find(struct md_index *ix, uint32_t uid)
{
	size_t	 lo = 0, hi = ix->nrecs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ix->recs[mid].uid == uid)
			return &ix->recs[mid];
		if (ix->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
md_index_remove(struct md_index *ix, size_t i)
{
	free(ix->recs[i].name);
	memmove(&ix->recs[i], &ix->recs[i + 1],
	    (ix->nrecs - i - 1) * sizeof(ix->recs[0]));
	ix->nrecs--;
}

int
md_index_tomb(struct md_index *ix, uint32_t uid, uint64_t modseq)
{
	struct md_tomb	*t;
	size_t		 ncap;

	if (ix->ntombs == ix->captombs) {
		ncap = ix->captombs ? ix->captombs * 2 : 16;
		t = reallocarray(ix->tombs, ncap, sizeof(*t));
		if (t == NULL)
			return KURIR_E_NOMEM;
		ix->tombs = t;
		ix->captombs = ncap;
	}
	ix->tombs[ix->ntombs].uid = uid;
	ix->tombs[ix->ntombs].modseq = modseq;
	ix->ntombs++;
	return KURIR_OK;
}

/* by uid, then by position in the log */
static int
rec_cmp(const void *a, const void *b)
{
	const struct md_rec *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->seen < y->seen ? -1 : x->seen > y->seen;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
tomb_cmp(const void *a, const void *b)
{
	const struct md_tomb *x = a, *y = b;

	return x->modseq < y->modseq ? -1 : x->modseq > y->modseq;
}

/* One body line; -1 when damaged. */
int
md_index_parse_line(struct md_index *ix, char *line)
{
	struct md_rec	*r;
	unsigned long long uid, modseq, size;
	long long	 date;
	char		 where, *name;
	int		 off = 0;

	if (line[0] == 'X') {
		if (sscanf(line, "X %llu %llu", &uid, &modseq) != 2 ||
		    uid == 0 || uid > UINT32_MAX)
			return -1;
		if (uid >= ix->nextuid)
			ix->nextuid = (uint32_t)uid + 1;
		return md_index_tomb(ix, (uint32_t)uid, modseq) == 0 ? 0 : -1;
	}
	if (sscanf(line, "%llu %llu %lld %llu %c %n", &uid, &modseq, &date,
	    &size, &where, &off) != 5 || off == 0 || uid == 0 ||
	    uid > UINT32_MAX || (where != 'n' && where != 'c'))
		return -1;
	name = line + off;
	if (*name == '\0' || *name == '.' || strchr(name, '/') != NULL)
		return -1;
	if ((r = md_index_add(ix)) == NULL)
		return -1;
	if ((r->name = strdup(name)) == NULL) {
		ix->nrecs--;
		return -1;
	}
	r->uid = (uint32_t)uid;
	r->modseq = modseq;
	r->date = date;
	r->size = size;
	r->in_new = where == 'n';
	r->seen = (uint32_t)ix->nlines;	/* order in the log */
	md_info_parse(name, &r->flags, &r->kwbits);
	if (uid >= ix->nextuid)
		ix->nextuid = (uint32_t)uid + 1;
	if (modseq > ix->highestmodseq)
		ix->highestmodseq = modseq;
	return 0;
}

/* Read dir/kurir-uidlist into ix (which must be fresh).  NOTFOUND when
 * there is none, CORRUPT for a bad header. */
int
md_index_read(const char *dir, struct md_index *ix)
{
	char		 line[1024], path[4096];
	unsigned long	 v, n;
	unsigned long long m;
	uint32_t	*dead = NULL;
	FILE		*fp;
	size_t		 len, i, o;
	int		 bad = 0, skipping = 0, first = 1;

	snprintf(path, sizeof(path), "%s/%s", dir, MD_UIDLIST);
	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? KURIR_E_NOTFOUND : md_errno(errno);
	ix->tail_ok = 1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		len = strlen(line);
		if (len == 0 || line[len - 1] != '\n') {
			if (feof(fp)) {
				/* a last line still being written */
				ix->tail_ok = 0;
				break;
			}
			skipping = 1;	/* over-long line: skip it whole */
			continue;
		}
		line[--len] = '\0';
		ix->nlines++;
		if (skipping) {
			skipping = 0;
			bad++;
			continue;
		}
		if (first) {
			first = 0;
			if (sscanf(line, "K1 V%lu N%lu M%llu", &v, &n, &m) != 3
			    || v == 0 || v > UINT32_MAX || n == 0 ||
			    n > UINT32_MAX) {
				fclose(fp);
				return KURIR_E_CORRUPT;
			}
			ix->uidvalidity = (uint32_t)v;
			ix->nextuid = (uint32_t)n;
			ix->highestmodseq = m;
			continue;
		}
		if (md_index_parse_line(ix, line) == -1)
			bad++;
	}
	if (skipping)
		ix->tail_ok = 0;
	fclose(fp);
	if (first)
		return KURIR_E_CORRUPT;
	if (bad > 0)
		md_log(KURIR_LOG_WARNING, "%s: %d damaged line(s) skipped",
		    path, bad);
	/* ascending UIDs; the last line of a UID wins; tombstoned UIDs go */
	if (ix->nrecs > 1)
		qsort(ix->recs, ix->nrecs, sizeof(ix->recs[0]), rec_cmp);
	if (ix->ntombs > 0 &&
	    (dead = calloc(ix->ntombs, sizeof(*dead))) == NULL)
		return KURIR_E_NOMEM;
	for (i = 0; i < ix->ntombs; i++)
		dead[i] = ix->tombs[i].uid;
	if (ix->ntombs > 1)
		qsort(dead, ix->ntombs, sizeof(*dead), u32_cmp);
	for (i = 0, o = 0; i < ix->nrecs; i++) {
		struct md_rec *r = &ix->recs[i];

		r->seen = 0;
		if ((i + 1 < ix->nrecs && ix->recs[i + 1].uid == r->uid) ||
		    (ix->ntombs > 0 && bsearch(&r->uid, dead, ix->ntombs,
		    sizeof(*dead), u32_cmp) != NULL)) {
			free(r->name);
			continue;
		}
		ix->recs[o++] = *r;
	}
	ix->nrecs = o;
	free(dead);
	if (ix->ntombs > 1)
		qsort(ix->tombs, ix->ntombs, sizeof(ix->tombs[0]), tomb_cmp);
	for (i = 0; i < ix->ntombs; i++)
		if (ix->tombs[i].modseq > ix->highestmodseq)
			ix->highestmodseq = ix->tombs[i].modseq;
	ix->ntombs_disk = ix->ntombs;
	ix->on_disk = 1;
	return KURIR_OK;
}

static int
write_rec(FILE *fp, const struct md_rec *r)
{
	return fprintf(fp, "%" PRIu32 " %" PRIu64 " %lld %" PRIu64 " %c %s\n",
	    r->uid, r->modseq, (long long)r->date, r->size,
	    r->in_new ? 'n' : 'c', r->name);
}

/* Rewrite the whole file (compaction, or a new index). */
int
md_index_write(const char *dir, struct md_index *ix)
{
	char	 tmp[4096], dst[4096];
	FILE	*fp;
	size_t	 i;
	int	 fd, e;

	snprintf(dst, sizeof(dst), "%s/%s", dir, MD_UIDLIST);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, MD_UIDLIST);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		e = errno;
		if (fd != -1)
			close(fd);
		return md_errno(e);
	}
	fprintf(fp, "K1 V%" PRIu32 " N%" PRIu32 " M%" PRIu64 "\n",
	    ix->uidvalidity, ix->nextuid, ix->highestmodseq);
	for (i = 0; i < ix->nrecs; i++)
		write_rec(fp, &ix->recs[i]);
	for (i = 0; i < ix->ntombs; i++)
		fprintf(fp, "X %" PRIu32 " %" PRIu64 "\n", ix->tombs[i].uid,
		    ix->tombs[i].modseq);
	if (fflush(fp) == EOF || ferror(fp) || md_fsync(fileno(fp)) == -1) {
		e = errno;
		fclose(fp);
		unlink(tmp);
		return md_errno(e);
	}
	if (fclose(fp) == EOF || rename(tmp, dst) == -1) {
		e = errno;
		unlink(tmp);
		return md_errno(e);
	}
	if (md_fsync_dir(dir) == -1)
		return md_errno(errno);
	for (i = 0; i < ix->nrecs; i++)
		ix->recs[i].dirty = 0;
	ix->on_disk = 1;
	ix->tail_ok = 1;
	ix->nlines = 1 + ix->nrecs + ix->ntombs;
	ix->ntombs_disk = ix->ntombs;
	return KURIR_OK;
}

/* Save the changes: the dirty records and the new tombstones appended
 * to the log and fsync'd, or the whole file rewritten when it is new or
 * more than half dead. */
int
md_index_save(const char *dir, struct md_index *ix)
{
	char	 path[4096];
	FILE	*fp;
	size_t	 i, n = 0;
	int	 fd, e;

	if (!ix->on_disk || ix->nlines > 2 * (ix->nrecs + ix->ntombs) + 64)
		return md_index_write(dir, ix);
	snprintf(path, sizeof(path), "%s/%s", dir, MD_UIDLIST);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return md_index_write(dir, ix);
		return md_errno(errno);
	}
	if ((fp = fdopen(fd, "a")) == NULL) {
		e = errno;
		close(fd);
		return md_errno(e);
	}
	if (!ix->tail_ok)
		fputc('\n', fp);	/* end a torn line: it stays damaged */
	for (i = 0; i < ix->nrecs; i++) {
		if (!ix->recs[i].dirty)
			continue;
		write_rec(fp, &ix->recs[i]);
		n++;
	}
	for (i = ix->ntombs_disk; i < ix->ntombs; i++, n++)
		fprintf(fp, "X %" PRIu32 " %" PRIu64 "\n", ix->tombs[i].uid,
		    ix->tombs[i].modseq);
	if (fflush(fp) == EOF || ferror(fp) || md_fsync(fileno(fp)) == -1) {
		e = errno;
		fclose(fp);
		/* what got out is valid lines or a torn last one */
		return md_errno(e);
	}
	if (fclose(fp) == EOF)
		return md_errno(errno);
	for (i = 0; i < ix->nrecs; i++)
		ix->recs[i].dirty = 0;
	ix->tail_ok = 1;
	ix->nlines += n;
	ix->ntombs_disk = ix->ntombs;
	return KURIR_OK;
}

/* A UIDVALIDITY never handed out before for this user: max(now, last +
 * 1), remembered in ROOT/kurir-uidvalidity under the root lock, so a
 * mailbox deleted and created again within one second still changes. */
int
md_index_new_uidvalidity(const char *root, uint32_t *v_r)
{
	char		 path[4096], buf[32];
	unsigned long	 last = 0;
	uint32_t	 v;
	FILE		*fp;
	int		 lfd, n;

	if (md_lock(root, MD_ROOT_LOCK, &lfd) == -1)
		return md_errno(errno);
	snprintf(path, sizeof(path), "%s/%s", root, MD_UIDVALIDITY);
	if ((fp = fopen(path, "re")) != NULL) {
		if (fscanf(fp, "%lu", &last) != 1)
			last = 0;
		fclose(fp);
	}
	v = (uint32_t)time(NULL);
	if (last >= v && last < UINT32_MAX)
		v = (uint32_t)last + 1;
	if (v == 0)
		v = 1;
	n = snprintf(buf, sizeof(buf), "%" PRIu32 "\n", v);
	if (md_write_file(root, MD_UIDVALIDITY, buf, (size_t)n, 1) == -1) {
		n = md_errno(errno);
		md_unlock(lfd);
		return n;
	}
	md_unlock(lfd);
	*v_r = v;
	return KURIR_OK;
}
