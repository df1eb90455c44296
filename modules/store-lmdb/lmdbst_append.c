/*
 * lmdbst_append.c -- streamed appends (IMAP APPEND) and deliveries to
 * several users (SMTP/LMTP).  Bytes go to a spool (lmdbst_spool.c) and
 * reach LMDB only in a grouped commit (lmdbst_commit.c), so nothing is
 * visible before commit and an abort or crash leaves no trace.
 *
 * A delivery spans several users' environments, which share no
 * transaction: quotas are checked for everyone first, then each user's
 * INBOX is committed durably in turn, and if one fails the copies
 * already committed are expunged again before the failure is returned.
 * A crash in the middle can leave the message with some users: the
 * client got no 250 and sends again (at-least-once, like every MTA).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmdbst.h"

struct kurir_append {
	struct kurir_store *st;
	struct lmdbst_spool sp;
	char		 mailbox[LMDBST_NAME_MAX + 1];
	char		 kw[LMDBST_KW_MAX + 1];
	uint32_t	 flags;
	int64_t		 date;
};

struct kurir_delivery {
	struct kurir_store **st;
	size_t		 n;
	struct lmdbst_spool sp;
	int64_t		 date;
};

int
lmdbst_append_begin(struct kurir_store *st, const char *mailbox,
    uint32_t flags, const char *keywords, int64_t internal_date,
    struct kurir_append **ap_r)
{
	struct kurir_append *ap;
	struct kurir_mailbox_status s;
	int rc;

	*ap_r = NULL;
	if (st == NULL || (flags & ~0x1fu) != 0)
		return KURIR_E_INVALID;
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return KURIR_E_NOMEM;
	if ((rc = lmdbst_name_norm(mailbox, ap->mailbox,
	    sizeof(ap->mailbox))) != KURIR_OK ||
	    (rc = lmdbst_kw_norm(keywords, ap->kw, sizeof(ap->kw))) != 0)
		goto fail;
	/* Say NOTFOUND now, before the client sends the message. */
	if ((rc = lmdbst_mailbox_status(st, ap->mailbox, &s)) != KURIR_OK)
		goto fail;
	ap->st = st;
	ap->flags = flags;
	ap->date = internal_date != 0 ? internal_date : (int64_t)time(NULL);
	lmdbst_spool_init(&ap->sp);
	*ap_r = ap;
	return KURIR_OK;
fail:
	free(ap);
	return rc;
}

int
lmdbst_append_write(struct kurir_append *ap, const void *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return KURIR_E_INVALID;
	return lmdbst_spool_write(&ap->sp, buf, len);
}

int
lmdbst_append_commit(struct kurir_append *ap, uint32_t *uidvalidity_r,
    uint32_t *uid_r)
{
	struct lmdbst_req r;
	int rc;

	if ((rc = ap->sp.err) == KURIR_OK) {
		memset(&r, 0, sizeof(r));
		r.mailbox = ap->mailbox;
		r.flags = ap->flags;
		r.keywords = ap->kw;
		r.date = ap->date;
		r.spool = &ap->sp;
		r.quota_bytes = ap->st->quota_bytes;
		r.quota_messages = ap->st->quota_messages;
		if ((rc = lmdbst_commit(ap->st->e, &r)) == KURIR_OK) {
			if (uidvalidity_r != NULL)
				*uidvalidity_r = r.uidvalidity;
			if (uid_r != NULL)
				*uid_r = r.uid;
		}
	}
	lmdbst_append_abort(ap);
	return rc;
}

void
lmdbst_append_abort(struct kurir_append *ap)
{
	if (ap == NULL)
		return;
	lmdbst_spool_free(&ap->sp);
	free(ap);
}

int
lmdbst_deliver_begin(const struct kurir_user_params *const *users,
    size_t nusers, int64_t internal_date, struct kurir_delivery **d_r)
{
	struct kurir_delivery *d;
	size_t i, j;
	int rc;

	*d_r = NULL;
	if (users == NULL || nusers == 0)
		return KURIR_E_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->st = calloc(nusers, sizeof(*d->st))) == NULL) {
		free(d);
		return KURIR_E_NOMEM;
	}
	lmdbst_spool_init(&d->sp);
	d->date = internal_date != 0 ? internal_date : (int64_t)time(NULL);
	for (i = 0; i < nusers; i++) {
		if (users[i] == NULL) {
			rc = KURIR_E_INVALID;
			goto fail;
		}
		if ((rc = lmdbst_store_open(users[i], &d->st[d->n])) != 0)
			goto fail;
		/* The same user twice gets the message once. */
		for (j = 0; j < d->n; j++)
			if (d->st[j]->e == d->st[d->n]->e)
				break;
		if (j < d->n)
			lmdbst_store_close(d->st[d->n]);
		else
			d->n++;
	}
	*d_r = d;
	return KURIR_OK;
fail:
	lmdbst_deliver_abort(d);
	return rc;
}

int
lmdbst_deliver_write(struct kurir_delivery *d, const void *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return KURIR_E_INVALID;
	return lmdbst_spool_write(&d->sp, buf, len);
}

/* OVERQUOTA beats the others, then NOSPACE, then the rest. */
static int
worse(int a, int b)
{
	if (a == KURIR_E_OVERQUOTA || b == KURIR_E_OVERQUOTA)
		return KURIR_E_OVERQUOTA;
	if (a == KURIR_E_NOSPACE || b == KURIR_E_NOSPACE)
		return KURIR_E_NOSPACE;
	return a != KURIR_OK ? a : b;
}

static int
quota_precheck(struct kurir_store *st, uint64_t size)
{
	uint64_t bytes, msgs;
	int rc;

	if (st->quota_bytes == 0 && st->quota_messages == 0)
		return KURIR_OK;
	if ((rc = lmdbst_quota_usage(st, &bytes, &msgs)) != KURIR_OK)
		return rc;
	if ((st->quota_bytes != 0 && bytes + size > st->quota_bytes) ||
	    (st->quota_messages != 0 && msgs + 1 > st->quota_messages))
		return KURIR_E_OVERQUOTA;
	return KURIR_OK;
}

int
lmdbst_deliver_commit(struct kurir_delivery *d)
{
	struct lmdbst_req *r;
	size_t i, j;
	int rc = d->sp.err, st;

	if (rc != KURIR_OK)
		goto out;
	for (i = 0; i < d->n; i++)
		rc = worse(rc, quota_precheck(d->st[i], d->sp.size));
	if (rc != KURIR_OK)
		goto out;
	if ((r = calloc(d->n, sizeof(*r))) == NULL) {
		rc = KURIR_E_NOMEM;
		goto out;
	}
	for (i = 0; i < d->n; i++) {
		r[i].mailbox = "INBOX";
		r[i].keywords = "";
		r[i].date = d->date;
		r[i].spool = &d->sp;
		r[i].quota_bytes = d->st[i]->quota_bytes;
		r[i].quota_messages = d->st[i]->quota_messages;
		if ((rc = lmdbst_commit(d->st[i]->e, &r[i])) != KURIR_OK)
			break;
	}
	if (rc != KURIR_OK) {
		/* All or nothing: take back the copies already stored. */
		for (j = 0; j < i; j++) {
			st = lmdbst_expunge_one(d->st[j]->e, r[j].mbox_id,
			    r[j].uid);
			if (st != KURIR_OK)
				LMDBST_LOG(KURIR_LOG_ERR, "delivery to %s "
				    "failed but its copy for %s could not be "
				    "removed", d->st[i]->user, d->st[j]->user);
		}
	}
	free(r);
out:
	lmdbst_deliver_abort(d);
	return rc;
}

void
lmdbst_deliver_abort(struct kurir_delivery *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		lmdbst_store_close(d->st[i]);
	lmdbst_spool_free(&d->sp);
	free(d->st);
	free(d);
}
