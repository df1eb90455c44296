/*
 * lmdbst_cache.c -- the per-message cache blob (parsed ENVELOPE,
 * BODYSTRUCTURE...).  Reads come from LMDB or from the blobs this
 * mailbox handle has not written yet; writes are collected and stored
 * in one durable commit per LMDBST_CPEND blobs (or LMDBST_CPEND_BYTES),
 * and at the handle's next write, sync or close, so that a first FETCH
 * of a large mailbox does not pay one fsync per message.  A crash loses
 * at most those pending blobs, which only costs parsing again.
 */
#include <stdlib.h>
#include <string.h>

#include "lmdbst.h"

struct flush_arg {
	uint32_t	 id;
	struct lmdbst_cpend *p;
	size_t		 n;
};

static int
flush_txn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct flush_arg *a = arg;
	struct lmdbst_msgrec r;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	size_t i;
	int rc;

	for (i = 0; i < a->n; i++) {
		/* A message expunged meanwhile gets no blob. */
		rc = lmdbst_msg_get(e, t, a->id, a->p[i].uid, &r, NULL);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		lmdbst_key_msg(kb, a->id, a->p[i].uid);
		v.mv_size = a->p[i].len;
		v.mv_data = a->p[i].data != NULL ? a->p[i].data : "";
		if ((rc = mdb_put(t, e->dbi[LMDBST_DB_CACHE], &k, &v, 0)) != 0)
			return rc;
	}
	return 0;
}

int
lmdbst_cache_flush(struct kurir_mailbox *mb)
{
	struct flush_arg a;
	size_t i;
	int rc;

	if (mb->ncpend == 0)
		return KURIR_OK;
	a.id = mb->id;
	a.p = mb->cpend;
	a.n = mb->ncpend;
	rc = lmdbst_write(mb->st->e, flush_txn, &a);
	for (i = 0; i < mb->ncpend; i++)
		free(mb->cpend[i].data);
	mb->ncpend = 0;
	mb->cpend_bytes = 0;
	return rc;
}

int
lmdbst_cache_get(struct kurir_mailbox *mb, uint32_t uid, void *buf,
    size_t cap, size_t *len_r)
{
	struct lmdbst_env *e = mb->st->e;
	struct lmdbst_msgrec r;
	struct lmdbst_cpend *p = NULL;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	MDB_txn *t;
	size_t i;
	int rc;

	*len_r = 0;
	for (i = mb->ncpend; i > 0; i--)
		if (mb->cpend[i - 1].uid == uid) {
			p = &mb->cpend[i - 1];
			break;
		}
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "cache get");
	if (p != NULL) {
		/* Pending: valid while the message exists. */
		if ((rc = lmdbst_msg_get(e, t, mb->id, uid, &r, NULL)) == 0) {
			v.mv_size = p->len;
			v.mv_data = p->data;
		}
	} else {
		lmdbst_key_msg(kb, mb->id, uid);
		rc = mdb_get(t, e->dbi[LMDBST_DB_CACHE], &k, &v);
	}
	if (rc == 0) {
		*len_r = v.mv_size;
		if (v.mv_size > cap)
			rc = KURIR_E_TOOBIG;
		else if (v.mv_size > 0)
			memcpy(buf, v.mv_data, v.mv_size);
	}
	lmdbst_txn_abort(e, t);
	return lmdbst_status(rc, "cache get");
}

int
lmdbst_cache_set(struct kurir_mailbox *mb, uint32_t uid, const void *blob,
    size_t len)
{
	struct lmdbst_env *e = mb->st->e;
	struct lmdbst_msgrec r;
	struct lmdbst_cpend *p;
	MDB_txn *t;
	void *copy;
	size_t i;
	int rc;

	if (len > LMDBST_CACHE_MAX)
		return KURIR_E_TOOBIG;
	if (blob == NULL && len > 0)
		return KURIR_E_INVALID;
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "cache set");
	rc = lmdbst_msg_get(e, t, mb->id, uid, &r, NULL);
	lmdbst_txn_abort(e, t);
	if (rc != 0)
		return lmdbst_status(rc, "cache set");
	if (mb->cpend == NULL && (mb->cpend = calloc(LMDBST_CPEND,
	    sizeof(*mb->cpend))) == NULL)
		return KURIR_E_NOMEM;
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return KURIR_E_NOMEM;
	if (len > 0)
		memcpy(copy, blob, len);
	for (i = 0; i < mb->ncpend; i++)
		if (mb->cpend[i].uid == uid)
			break;
	p = &mb->cpend[i];
	if (i < mb->ncpend) {
		mb->cpend_bytes -= p->len;
		free(p->data);
	} else
		mb->ncpend++;
	p->uid = uid;
	p->len = len;
	p->data = copy;
	mb->cpend_bytes += len;
	if (mb->ncpend == LMDBST_CPEND ||
	    mb->cpend_bytes >= LMDBST_CPEND_BYTES)
		return lmdbst_cache_flush(mb);
	return KURIR_OK;
}
