/*
 * maildir_recent.c -- \Recent for the Maildir backend: each folder's
 * "first recent UID" (storage.h, recent_claim) in the folder file
 * kurir-recent, one line "V<uidvalidity> R<first recent uid>".
 *
 * A claim reads and replaces the file under the folder's uidlist lock,
 * so two sessions (in any processes) never claim the same message.  The
 * file is replaced atomically (temp file, rename).  A missing or
 * unreadable file, or one written under another UIDVALIDITY (the folder
 * was rebuilt), means 1: every message is unclaimed.
 */
#include "autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "maildir.h"

static uint32_t
recent_read(const char *dir, uint32_t uidvalidity)
{
	char		 path[4096];
	unsigned long	 v, r;
	FILE		*fp;
	int		 n;

	snprintf(path, sizeof(path), "%s/%s", dir, MD_RECENT);
	if ((fp = fopen(path, "re")) == NULL)
		return 1;
	n = fscanf(fp, "V%lu R%lu", &v, &r);
	fclose(fp);
	if (n != 2 || v != uidvalidity || r == 0 || r > UINT32_MAX)
		return 1;
	return (uint32_t)r;
}

int
md_recent_claim(struct kurir_mailbox *mb, uint32_t uidnext,
    uint32_t *first_r)
{
	char		 buf[64];
	uint32_t	 first;
	int		 lfd, n, rc = KURIR_OK;

	if (first_r == NULL)
		return KURIR_E_INVALID;
	if (md_lock(mb->dir, MD_UIDLIST_LOCK, &lfd) == -1)
		return md_errno(errno);
	first = recent_read(mb->dir, mb->idx.uidvalidity);
	if (first < uidnext) {
		n = snprintf(buf, sizeof(buf), "V%" PRIu32 " R%" PRIu32 "\n",
		    mb->idx.uidvalidity, uidnext);
		if (md_write_file(mb->dir, MD_RECENT, buf, (size_t)n,
		    md_conf.fsync) == -1)
			rc = md_errno(errno);
	}
	md_unlock(lfd);
	if (rc == KURIR_OK)
		*first_r = first;
	return rc;
}

int
md_recent_count(struct kurir_store *st, const char *name,
    uint32_t *recent_r)
{
	struct kurir_mailbox	*mb;
	uint32_t		 first, n = 0;
	size_t			 i;
	int			 rc;

	if (recent_r == NULL)
		return KURIR_E_INVALID;
	if ((rc = md_mailbox_open(st, name, &mb)) != KURIR_OK)
		return rc;
	first = recent_read(mb->dir, mb->idx.uidvalidity);
	for (i = mb->idx.nrecs; i > 0 && mb->idx.recs[i - 1].uid >= first;
	    i--)
		n++;
	md_mailbox_close(mb);
	*recent_r = n;
	return KURIR_OK;
}
