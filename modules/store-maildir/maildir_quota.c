/*
 * maildir_quota.c -- usage accounting in Maildir++'s `maildirsize`.
 *
 * First line: the limits ("1000000S,100C", empty when none); then one
 * "BYTES COUNT" line per change, appended with O_APPEND (a single short
 * write, so concurrent writers do not interleave).  The usage is the sum
 * of those lines.  When the file is missing, damaged or over 5120 bytes
 * (the Maildir++ rule) it is recomputed from every folder's new/ and cur/
 * under the root lock.  Like every Maildir++ quota this is approximate
 * against other programs writing the Maildir until the next recount.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

#define MD_QUOTA_MAXFILE	5120

static void
count_dir(const char *dir, uint64_t *bytes, uint64_t *msgs)
{
	static const char *const subs[] = { "new", "cur" };
	char		 path[4096];
	struct dirent	*de;
	struct stat	 sb;
	uint64_t	 sz;
	size_t		 i;
	DIR		*d;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (md_size_from_name(de->d_name, &sz) == -1) {
				if (fstatat(dirfd(d), de->d_name, &sb, 0) == -1
				    || !S_ISREG(sb.st_mode))
					continue;
				sz = (uint64_t)sb.st_size;
			}
			*bytes += sz;
			(*msgs)++;
		}
		closedir(d);
	}
}

static int
recalc(struct kurir_store *st, uint64_t *bytes_r, uint64_t *msgs_r)
{
	char		 buf[128], path[4096];
	struct dirent	*de;
	struct stat	 sb;
	uint64_t	 bytes = 0, msgs = 0;
	DIR		*d;
	int		 n;

	count_dir(st->root, &bytes, &msgs);
	if ((d = opendir(st->root)) == NULL)
		return md_errno(errno);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->root, de->d_name);
		if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
			continue;
		count_dir(path, &bytes, &msgs);
	}
	closedir(d);
	if (st->quota_bytes || st->quota_messages)
		n = snprintf(buf, sizeof(buf), "%" PRIu64 "S,%" PRIu64 "C\n"
		    "%" PRIu64 " %" PRIu64 "\n", st->quota_bytes,
		    st->quota_messages, bytes, msgs);
	else
		n = snprintf(buf, sizeof(buf), "\n%" PRIu64 " %" PRIu64 "\n",
		    bytes, msgs);
	if (md_write_file(st->root, MD_QUOTAFILE, buf, (size_t)n, 0) == -1)
		md_log(KURIR_LOG_WARNING, "%s/%s: %s", st->root, MD_QUOTAFILE,
		    strerror(errno));
	*bytes_r = bytes;
	*msgs_r = msgs;
	return KURIR_OK;
}

/* Sum the lines; -1 when the file must be recomputed. */
static int
read_sizes(const char *root, uint64_t *bytes_r, uint64_t *msgs_r)
{
	char		 path[4096], line[256];
	long long	 b, m, tb = 0, tm = 0;
	struct stat	 sb;
	FILE		*fp;
	int		 first = 1, bad = 0;

	snprintf(path, sizeof(path), "%s/%s", root, MD_QUOTAFILE);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fstat(fileno(fp), &sb) == -1 || sb.st_size > MD_QUOTA_MAXFILE) {
		fclose(fp);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (first) {
			first = 0;
			continue;
		}
		if (sscanf(line, "%lld %lld", &b, &m) != 2) {
			bad = 1;
			break;
		}
		tb += b;
		tm += m;
	}
	fclose(fp);
	if (bad || first || tb < 0 || tm < 0)
		return -1;
	*bytes_r = (uint64_t)tb;
	*msgs_r = (uint64_t)tm;
	return 0;
}

int
md_quota_usage(struct kurir_store *st, uint64_t *bytes_r, uint64_t *msgs_r)
{
	int	 lfd, rc;

	if (bytes_r == NULL || msgs_r == NULL)
		return KURIR_E_INVALID;
	if (read_sizes(st->root, bytes_r, msgs_r) == 0)
		return KURIR_OK;
	if (md_lock(st->root, MD_ROOT_LOCK, &lfd) == -1)
		return md_errno(errno);
	if (read_sizes(st->root, bytes_r, msgs_r) == 0)
		rc = KURIR_OK;
	else
		rc = recalc(st, bytes_r, msgs_r);
	md_unlock(lfd);
	return rc;
}

/* OVERQUOTA when adding bytes and msgs would pass a limit. */
int
md_quota_check(struct kurir_store *st, uint64_t bytes, uint64_t msgs)
{
	uint64_t	 ub, um;
	int		 rc;

	if (st->quota_bytes == 0 && st->quota_messages == 0)
		return KURIR_OK;
	if ((rc = md_quota_usage(st, &ub, &um)) != KURIR_OK)
		return rc;
	if (st->quota_bytes != 0 && ub + bytes > st->quota_bytes)
		return KURIR_E_OVERQUOTA;
	if (st->quota_messages != 0 && um + msgs > st->quota_messages)
		return KURIR_E_OVERQUOTA;
	return KURIR_OK;
}

/* Record a change, when the file is kept at all (it is created by the
 * first usage query). */
void
md_quota_add(const char *root, int64_t bytes, int64_t msgs)
{
	char	 path[4096], line[64];
	int	 fd, n;

	if (bytes == 0 && msgs == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", root, MD_QUOTAFILE);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		return;
	n = snprintf(line, sizeof(line), "%lld %lld\n", (long long)bytes,
	    (long long)msgs);
	if (write(fd, line, (size_t)n) != n)
		md_log(KURIR_LOG_WARNING, "%s: %s", path, strerror(errno));
	close(fd);
}

/* After a bulk change (a folder deleted): recount on the next query. */
void
md_quota_recalc_if_present(const char *root)
{
	char	 path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, MD_QUOTAFILE);
	unlink(path);
}
