/*
 * lmdbst_spool.c -- a message body being appended or delivered, kept
 * until commit: in memory up to lmdb_spool_memory bytes, then in an
 * unlinked temporary file (O_TMPFILE) so that a crash leaves no trace
 * and no message is ever held in memory whole.  The body is copied into
 * LMDB in the commit's write transaction, so slow clients never hold the
 * environment's write lock.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmdbst.h"

void
lmdbst_spool_init(struct lmdbst_spool *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
}

static int
errno_status(int err)
{
	switch (err) {
	case ENOSPC:
	case EFBIG:
	case EDQUOT:
		return KURIR_E_NOSPACE;
	case ENOMEM:
		return KURIR_E_NOMEM;
	default:
		return KURIR_E_TEMPFAIL;
	}
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
spill(struct lmdbst_spool *sp)
{
	char dir[1100];
	int err;

	snprintf(dir, sizeof(dir), "%s/lmdb", lmdbst_conf.state_dir);
	if ((err = lmdbst_mkdirs(dir, NULL)) != 0)
		return err;
	sp->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd == -1) {
		/* Filesystems without O_TMPFILE: create, then unlink. */
		char path[1200];

		snprintf(path, sizeof(path), "%s/spool.XXXXXX", dir);
		if ((sp->fd = mkostemp(path, O_CLOEXEC)) == -1)
			return errno;
		unlink(path);
	}
	if ((err = write_all(sp->fd, sp->mem, sp->memlen)) != 0)
		return err;
	free(sp->mem);
	sp->mem = NULL;
	sp->memlen = sp->memcap = 0;
	return 0;
}

int
lmdbst_spool_write(struct lmdbst_spool *sp, const void *buf, size_t len)
{
	size_t cap;
	char *p;
	int err;

	if (sp->err != 0)
		return sp->err;
	if (len == 0)
		return KURIR_OK;
	if (sp->size + len < sp->size)
		return sp->err = KURIR_E_TOOBIG;
	if (sp->fd == -1 && sp->memlen + len <= lmdbst_conf.spool_mem) {
		if (sp->memlen + len > sp->memcap) {
			cap = sp->memcap == 0 ? 8192 : sp->memcap;
			while (cap < sp->memlen + len)
				cap *= 2;
			if (cap > lmdbst_conf.spool_mem)
				cap = lmdbst_conf.spool_mem;
			if ((p = realloc(sp->mem, cap)) == NULL)
				return sp->err = KURIR_E_NOMEM;
			sp->mem = p;
			sp->memcap = cap;
		}
		memcpy(sp->mem + sp->memlen, buf, len);
		sp->memlen += len;
		sp->size += len;
		return KURIR_OK;
	}
	if (sp->fd == -1 && (err = spill(sp)) != 0)
		goto fail;
	if ((err = write_all(sp->fd, buf, len)) != 0)
		goto fail;
	sp->size += len;
	return KURIR_OK;
fail:
	LMDBST_LOG(KURIR_LOG_WARNING, "spool write: %s", strerror(err));
	return sp->err = errno_status(err);
}

int
lmdbst_spool_read(struct lmdbst_spool *sp, uint64_t off, void *buf,
    size_t len)
{
	char *p = buf;
	ssize_t n;

	if (off + len > sp->size)
		return KURIR_E_INVALID;
	if (sp->fd == -1) {
		memcpy(buf, sp->mem + off, len);
		return 0;
	}
	while (len > 0) {
		n = pread(sp->fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			LMDBST_LOG(KURIR_LOG_ERR, "spool read: %s",
			    n == 0 ? "short file" : strerror(errno));
			return KURIR_E_TEMPFAIL;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

void
lmdbst_spool_free(struct lmdbst_spool *sp)
{
	free(sp->mem);
	if (sp->fd != -1)
		close(sp->fd);
	lmdbst_spool_init(sp);
}
