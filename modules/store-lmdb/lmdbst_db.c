/*
 * lmdbst_db.c -- keys and records of the LMDB backend: counters, mailbox
 * and message records, shared body blobs and tombstones.  Every function
 * works inside a transaction the caller owns and returns 0, an MDB_* /
 * errno code, or a negative KURIR_E_* (lmdbst_status() maps them all).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "lmdbst.h"

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

uint32_t
lmdbst_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint64_t
lmdbst_get64(const uint8_t *p)
{
	return (uint64_t)lmdbst_get32(p) << 32 | lmdbst_get32(p + 4);
}

void
lmdbst_key_msg(uint8_t *k, uint32_t id, uint32_t uid)
{
	put32(k, id);
	put32(k + 4, uid);
}

void
lmdbst_key_body(uint8_t *k, uint64_t blob, uint32_t chunk)
{
	put64(k, blob);
	put32(k + 8, chunk);
}

void
lmdbst_key_tomb(uint8_t *k, uint32_t id, uint64_t modseq, uint32_t uid)
{
	put32(k, id);
	put64(k + 4, modseq);
	put32(k + 12, uid);
}

static int
get_fixed(MDB_txn *t, MDB_dbi dbi, void *key, size_t klen, void *out,
    size_t len)
{
	MDB_val k = { klen, key }, v;
	int rc;

	if ((rc = mdb_get(t, dbi, &k, &v)) != 0)
		return rc;
	if (v.mv_size != len)
		return MDB_CORRUPTED;
	memcpy(out, v.mv_data, len);
	return 0;
}

static int
put_fixed(MDB_txn *t, MDB_dbi dbi, void *key, size_t klen, const void *in,
    size_t len)
{
	MDB_val k = { klen, key }, v = { len, (void *)in };

	return mdb_put(t, dbi, &k, &v, 0);
}

int
lmdbst_ids_get(struct lmdbst_env *e, MDB_txn *t, struct lmdbst_ids *ids)
{
	int rc;

	rc = get_fixed(t, e->dbi[LMDBST_DB_META], "ids", 3, ids,
	    sizeof(*ids));
	if (rc == MDB_NOTFOUND) {
		memset(ids, 0, sizeof(*ids));
		ids->next_mbox = 1;
		ids->next_blob = 1;
		rc = 0;
	}
	return rc;
}

int
lmdbst_ids_put(struct lmdbst_env *e, MDB_txn *t,
    const struct lmdbst_ids *ids)
{
	return put_fixed(t, e->dbi[LMDBST_DB_META], "ids", 3, ids,
	    sizeof(*ids));
}

int
lmdbst_usage_get(struct lmdbst_env *e, MDB_txn *t, struct lmdbst_usage *u)
{
	int rc;

	rc = get_fixed(t, e->dbi[LMDBST_DB_META], "usage", 5, u, sizeof(*u));
	if (rc == MDB_NOTFOUND) {
		memset(u, 0, sizeof(*u));
		rc = 0;
	}
	return rc;
}

int
lmdbst_usage_put(struct lmdbst_env *e, MDB_txn *t,
    const struct lmdbst_usage *u)
{
	return put_fixed(t, e->dbi[LMDBST_DB_META], "usage", 5, u,
	    sizeof(*u));
}

int
lmdbst_name_get(struct lmdbst_env *e, MDB_txn *t, const char *name,
    uint32_t *id_r)
{
	uint8_t b[4];
	int rc;

	rc = get_fixed(t, e->dbi[LMDBST_DB_NAMES], (void *)name, strlen(name),
	    b, 4);
	if (rc == 0)
		*id_r = lmdbst_get32(b);
	return rc;
}

int
lmdbst_mbox_get(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
    struct lmdbst_mbox *m)
{
	uint8_t k[4];

	put32(k, id);
	return get_fixed(t, e->dbi[LMDBST_DB_MBOXES], k, 4, m, sizeof(*m));
}

int
lmdbst_mbox_put(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
    const struct lmdbst_mbox *m)
{
	uint8_t k[4];

	put32(k, id);
	return put_fixed(t, e->dbi[LMDBST_DB_MBOXES], k, 4, m, sizeof(*m));
}

/* A new, empty mailbox; its UIDVALIDITY is above every earlier one of
 * this user so that a re-created name never repeats one. */
int
lmdbst_mbox_new(struct lmdbst_env *e, MDB_txn *t, const char *name,
    uint32_t special_use, uint32_t *id_r)
{
	struct lmdbst_ids ids;
	struct lmdbst_mbox m;
	uint8_t b[4];
	uint32_t now;
	int rc;

	if ((rc = lmdbst_ids_get(e, t, &ids)) != 0)
		return rc;
	if (ids.next_mbox == UINT32_MAX)
		return KURIR_E_PERMFAIL;
	memset(&m, 0, sizeof(m));
	now = (uint32_t)time(NULL);
	m.uidvalidity = now > ids.last_uidvalidity ? now :
	    ids.last_uidvalidity + 1;
	m.uidnext = 1;
	m.highestmodseq = 1;
	m.special_use = special_use;
	ids.last_uidvalidity = m.uidvalidity;
	*id_r = ids.next_mbox++;
	put32(b, *id_r);
	if ((rc = lmdbst_ids_put(e, t, &ids)) != 0 ||
	    (rc = lmdbst_mbox_put(e, t, *id_r, &m)) != 0 ||
	    (rc = put_fixed(t, e->dbi[LMDBST_DB_NAMES], (void *)name,
	    strlen(name), b, 4)) != 0)
		return rc;
	return 0;
}

int
lmdbst_msg_get(struct lmdbst_env *e, MDB_txn *t, uint32_t id, uint32_t uid,
    struct lmdbst_msgrec *r, const char **kw_r)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	lmdbst_key_msg(kb, id, uid);
	if ((rc = mdb_get(t, e->dbi[LMDBST_DB_MSGS], &k, &v)) != 0)
		return rc;
	if (v.mv_size < sizeof(*r))
		return MDB_CORRUPTED;
	memcpy(r, v.mv_data, sizeof(*r));
	if (v.mv_size != sizeof(*r) + r->kwlen)
		return MDB_CORRUPTED;
	if (kw_r != NULL)
		*kw_r = (const char *)v.mv_data + sizeof(*r);
	return 0;
}

int
lmdbst_msg_put(struct lmdbst_env *e, MDB_txn *t, uint32_t id, uint32_t uid,
    const struct lmdbst_msgrec *r, const char *kw, size_t kwlen)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	struct lmdbst_msgrec rr = *r;
	int rc;

	lmdbst_key_msg(kb, id, uid);
	rr.kwlen = (uint32_t)kwlen;
	v.mv_size = sizeof(rr) + kwlen;
	if ((rc = mdb_put(t, e->dbi[LMDBST_DB_MSGS], &k, &v,
	    MDB_RESERVE)) != 0)
		return rc;
	memcpy(v.mv_data, &rr, sizeof(rr));
	if (kwlen > 0)
		memcpy((char *)v.mv_data + sizeof(rr), kw, kwlen);
	return 0;
}

/* Delete every body chunk of blob. */
int
lmdbst_body_del(struct lmdbst_env *e, MDB_txn *t, uint64_t blob)
{
	uint8_t kb[12];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_BODY], &c)) != 0)
		return rc;
	lmdbst_key_body(kb, blob, 0);
	k.mv_size = 12;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == 12 &&
	    lmdbst_get64(k.mv_data) == blob) {
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		/* After a delete MDB_NEXT yields the following item. */
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int
lmdbst_blob_ref(struct lmdbst_env *e, MDB_txn *t, uint64_t blob, int delta)
{
	struct lmdbst_blob b;
	uint8_t kb[12];
	MDB_val k;
	int rc;

	put64(kb, blob);
	if ((rc = get_fixed(t, e->dbi[LMDBST_DB_BLOBS], kb, 8, &b,
	    sizeof(b))) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (delta < 0 && b.refs <= 1) {
		k.mv_size = 8;
		k.mv_data = kb;
		if ((rc = mdb_del(t, e->dbi[LMDBST_DB_BLOBS], &k, NULL)) != 0)
			return rc;
		return lmdbst_body_del(e, t, blob);
	}
	b.refs += delta;
	return put_fixed(t, e->dbi[LMDBST_DB_BLOBS], kb, 8, &b, sizeof(b));
}

/* Drop one message: counters, cache, body reference, and a tombstone
 * carrying tomb_modseq (0: none, when the whole mailbox goes). */
int
lmdbst_msg_remove(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
    uint32_t uid, uint64_t tomb_modseq)
{
	struct lmdbst_msgrec r;
	struct lmdbst_mbox m;
	struct lmdbst_usage u;
	uint8_t kb[16];
	MDB_val k = { 8, kb }, v = { 0, "" };
	int rc;

	if ((rc = lmdbst_msg_get(e, t, id, uid, &r, NULL)) != 0)
		return rc;
	if ((rc = lmdbst_mbox_get(e, t, id, &m)) != 0 ||
	    (rc = lmdbst_usage_get(e, t, &u)) != 0)
		return rc;
	lmdbst_key_msg(kb, id, uid);
	if ((rc = mdb_del(t, e->dbi[LMDBST_DB_MSGS], &k, NULL)) != 0)
		return rc;
	rc = mdb_del(t, e->dbi[LMDBST_DB_CACHE], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if ((rc = lmdbst_blob_ref(e, t, r.blob, -1)) != 0)
		return rc;
	if (m.messages > 0)
		m.messages--;
	if (!(r.flags & KURIR_FLAG_SEEN) && m.unseen > 0)
		m.unseen--;
	m.bytes = m.bytes >= r.size ? m.bytes - r.size : 0;
	u.bytes = u.bytes >= r.size ? u.bytes - r.size : 0;
	if (u.messages > 0)
		u.messages--;
	if (tomb_modseq != 0) {
		lmdbst_key_tomb(kb, id, tomb_modseq, uid);
		k.mv_size = 16;
		if ((rc = mdb_put(t, e->dbi[LMDBST_DB_EXPUNGED], &k, &v,
		    0)) != 0)
			return rc;
		if (tomb_modseq > m.highestmodseq)
			m.highestmodseq = tomb_modseq;
	}
	if ((rc = lmdbst_mbox_put(e, t, id, &m)) != 0)
		return rc;
	return lmdbst_usage_put(e, t, &u);
}

int
lmdbst_store_body(struct lmdbst_env *e, MDB_txn *t, struct lmdbst_spool *sp,
    uint64_t *blob_r)
{
	struct lmdbst_ids ids;
	struct lmdbst_blob b;
	uint8_t kb[12];
	MDB_val k = { 12, kb }, v;
	uint64_t off;
	uint32_t chunk;
	int rc;

	if ((rc = lmdbst_ids_get(e, t, &ids)) != 0)
		return rc;
	*blob_r = ids.next_blob++;
	if ((rc = lmdbst_ids_put(e, t, &ids)) != 0)
		return rc;
	for (off = 0, chunk = 0; off < sp->size; off += v.mv_size, chunk++) {
		lmdbst_key_body(kb, *blob_r, chunk);
		v.mv_size = sp->size - off > LMDBST_CHUNK ? LMDBST_CHUNK :
		    (size_t)(sp->size - off);
		v.mv_data = NULL;
		if ((rc = mdb_put(t, e->dbi[LMDBST_DB_BODY], &k, &v,
		    MDB_RESERVE | MDB_APPEND)) != 0)
			return rc;
		if ((rc = lmdbst_spool_read(sp, off, v.mv_data,
		    v.mv_size)) != 0)
			return rc;
	}
	b.refs = 0;
	b.size = sp->size;
	put64(kb, *blob_r);
	return put_fixed(t, e->dbi[LMDBST_DB_BLOBS], kb, 8, &b, sizeof(b));
}

/* Add a message record (with r->blob set) as the mailbox's next UID. */
int
lmdbst_add_msg(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
    const struct lmdbst_msgrec *r, const char *kw, size_t kwlen,
    uint64_t qbytes, uint64_t qmsgs, uint32_t *uid_r)
{
	struct lmdbst_msgrec rr = *r;
	struct lmdbst_mbox m;
	struct lmdbst_usage u;
	int rc;

	if ((rc = lmdbst_mbox_get(e, t, id, &m)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	if (m.flags & LMDBST_MBOX_NOSELECT)
		return KURIR_E_NOTFOUND;
	if ((rc = lmdbst_usage_get(e, t, &u)) != 0)
		return rc;
	if ((qbytes != 0 && (u.bytes + r->size > qbytes ||
	    r->size > qbytes)) ||
	    (qmsgs != 0 && u.messages + 1 > qmsgs))
		return KURIR_E_OVERQUOTA;
	if (m.uidnext == UINT32_MAX)
		return KURIR_E_PERMFAIL;	/* UID space used up */
	*uid_r = m.uidnext++;
	rr.modseq = ++m.highestmodseq;
	m.messages++;
	if (!(rr.flags & KURIR_FLAG_SEEN))
		m.unseen++;
	m.bytes += rr.size;
	u.bytes += rr.size;
	u.messages++;
	if ((rc = lmdbst_msg_put(e, t, id, *uid_r, &rr, kw, kwlen)) != 0 ||
	    (rc = lmdbst_mbox_put(e, t, id, &m)) != 0 ||
	    (rc = lmdbst_usage_put(e, t, &u)) != 0)
		return rc;
	return lmdbst_blob_ref(e, t, rr.blob, 1);
}
