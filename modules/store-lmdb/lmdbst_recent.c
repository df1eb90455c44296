/*
 * lmdbst_recent.c -- \Recent for the LMDB backend: each mailbox's "first
 * recent UID" (storage.h, recent_claim), kept in the meta database under
 * "recent" + the mailbox id (big-endian).  No key means 1: nothing was
 * claimed yet.  Mailbox ids are never reused (a re-created mailbox gets a
 * new id and UIDVALIDITY), so a key never outlives its meaning; delete
 * removes it anyway.
 */
#include <string.h>

#include "lmdbst.h"

#define RECENT_KEYLEN	10

static void
recent_key(uint8_t *k, uint32_t id)
{
	memcpy(k, "recent", 6);
	k[6] = id >> 24;
	k[7] = id >> 16;
	k[8] = id >> 8;
	k[9] = id;
}

/* The first recent UID of mailbox id, 1 when none was stored. */
int
lmdbst_recent_get(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
    uint32_t *first_r)
{
	uint8_t kb[RECENT_KEYLEN];
	MDB_val k = { RECENT_KEYLEN, kb }, v;
	int rc;

	recent_key(kb, id);
	rc = mdb_get(t, e->dbi[LMDBST_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		*first_r = 1;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*first_r = lmdbst_get32(v.mv_data);
	return 0;
}

int
lmdbst_recent_del(struct lmdbst_env *e, MDB_txn *t, uint32_t id)
{
	uint8_t kb[RECENT_KEYLEN];
	MDB_val k = { RECENT_KEYLEN, kb };
	int rc;

	recent_key(kb, id);
	rc = mdb_del(t, e->dbi[LMDBST_DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct claim_arg {
	uint32_t	 id;
	uint32_t	 uidnext;
	uint32_t	 first;
};

static int
claim_fn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct claim_arg *a = arg;
	uint8_t kb[RECENT_KEYLEN], vb[4];
	MDB_val k = { RECENT_KEYLEN, kb }, v = { 4, vb };
	int rc;

	/* Read again: another process may have claimed since. */
	if ((rc = lmdbst_recent_get(e, t, a->id, &a->first)) != 0)
		return rc;
	if (a->first >= a->uidnext)
		return 0;
	recent_key(kb, a->id);
	vb[0] = a->uidnext >> 24;
	vb[1] = a->uidnext >> 16;
	vb[2] = a->uidnext >> 8;
	vb[3] = a->uidnext;
	return mdb_put(t, e->dbi[LMDBST_DB_META], &k, &v, 0);
}

int
lmdbst_recent_claim(struct kurir_mailbox *mb, uint32_t uidnext,
    uint32_t *first_r)
{
	struct lmdbst_env *e = mb->st->e;
	struct claim_arg a;
	MDB_txn *t;
	int rc;

	if (first_r == NULL)
		return KURIR_E_INVALID;
	/* Most calls find nothing to claim: a read transaction is enough
	 * to tell, and writers are serialized per environment. */
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "recent");
	rc = lmdbst_recent_get(e, t, mb->id, &a.first);
	lmdbst_txn_abort(e, t);
	if (rc != 0)
		return lmdbst_status(rc, "recent");
	if (a.first >= uidnext) {
		*first_r = a.first;
		return KURIR_OK;
	}
	a.id = mb->id;
	a.uidnext = uidnext;
	if ((rc = lmdbst_write(e, claim_fn, &a)) != KURIR_OK)
		return rc;
	*first_r = a.first;
	return KURIR_OK;
}

int
lmdbst_recent_count(struct kurir_store *st, const char *name,
    uint32_t *recent_r)
{
	struct lmdbst_env *e = st->e;
	struct lmdbst_mbox m;
	char norm[LMDBST_NAME_MAX + 1];
	uint8_t kb[8];
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val k, v;
	uint32_t id, first, n = 0;
	int rc;

	if (recent_r == NULL)
		return KURIR_E_INVALID;
	if ((rc = lmdbst_name_norm(name, norm, sizeof(norm))) != KURIR_OK)
		return rc;
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "recent count");
	if ((rc = lmdbst_name_get(e, t, norm, &id)) != 0 ||
	    (rc = lmdbst_mbox_get(e, t, id, &m)) != 0 ||
	    (rc = lmdbst_recent_get(e, t, id, &first)) != 0)
		goto out;
	if (m.flags & LMDBST_MBOX_NOSELECT) {
		rc = MDB_NOTFOUND;
		goto out;
	}
	if (first >= m.uidnext)
		goto out;
	if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_MSGS], &c)) != 0)
		goto out;
	lmdbst_key_msg(kb, id, first);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == 8 && lmdbst_get32(k.mv_data) == id) {
		n++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	lmdbst_txn_abort(e, t);
	if (rc == 0)
		*recent_r = n;
	return lmdbst_status(rc, "recent count");
}
