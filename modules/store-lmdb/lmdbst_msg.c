/*
 * lmdbst_msg.c -- the messages of an open mailbox: listing (in bounded
 * batches, no transaction held across the caller's callbacks), ranged
 * reads of chunked bodies, flags with UNCHANGEDSINCE, expunge with
 * tombstones, copy/move sharing bodies, changes since a modseq.
 * Callbacks run after the write transaction has committed, so a caller
 * may call back into the storage from them.
 */
#include <stdlib.h>
#include <string.h>

#include "lmdbst.h"

struct list_batch {
	struct kurir_msg msgs[LMDBST_BATCH];
	size_t		 n;
	char		*kw;		/* keywords of msgs, NUL separated */
	size_t		 kwlen;
	size_t		 kwcap;
};

static int
batch_add(struct list_batch *b, uint32_t uid, const struct lmdbst_msgrec *r,
    const char *kw)
{
	struct kurir_msg *m = &b->msgs[b->n];
	size_t need = b->kwlen + r->kwlen + 1, cap;
	char *p;

	if (need > b->kwcap) {
		cap = b->kwcap == 0 ? 4096 : b->kwcap;
		while (cap < need)
			cap *= 2;
		if ((p = realloc(b->kw, cap)) == NULL)
			return KURIR_E_NOMEM;
		b->kw = p;
		b->kwcap = cap;
	}
	memcpy(b->kw + b->kwlen, kw, r->kwlen);
	b->kw[b->kwlen + r->kwlen] = '\0';
	m->uid = uid;
	m->flags = r->flags;
	m->modseq = r->modseq;
	m->size = r->size;
	m->internal_date = r->date;
	m->keywords = (const char *)(uintptr_t)b->kwlen;	/* fixed below */
	b->kwlen = need;
	b->n++;
	return 0;
}

static int
batch_run(struct list_batch *b, kurir_msg_cb *cb, void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < b->n; i++)
		b->msgs[i].keywords = b->kw + (uintptr_t)b->msgs[i].keywords;
	for (i = 0; i < b->n; i++)
		if ((rc = cb(arg, &b->msgs[i])) != 0)
			return rc;
	return 0;
}

/*
 * Gather into b the messages of mb with uid in [*pos, last] and
 * modseq > minmodseq, starting a fresh read transaction; *pos moves past
 * the last message looked at.  *more says whether to call again.
 */
static int
gather(struct kurir_mailbox *mb, uint32_t *pos, uint32_t last,
    uint64_t minmodseq, struct list_batch *b, int *more)
{
	struct lmdbst_env *e = mb->st->e;
	struct lmdbst_msgrec r;
	uint8_t kb[8];
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val k, v;
	uint32_t uid;
	size_t scanned = 0;
	int rc;

	b->n = 0;
	b->kwlen = 0;
	*more = 0;
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_MSGS], &c)) != 0) {
		lmdbst_txn_abort(e, t);
		return rc;
	}
	lmdbst_key_msg(kb, mb->id, *pos);
	k.mv_size = 8;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || lmdbst_get32(k.mv_data) != mb->id)
			break;
		uid = lmdbst_get32((uint8_t *)k.mv_data + 4);
		if (uid > last)
			break;
		if (b->n == LMDBST_BATCH || scanned++ > 16 * LMDBST_BATCH) {
			*more = 1;
			*pos = uid;
			break;
		}
		if (v.mv_size < sizeof(r)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&r, v.mv_data, sizeof(r));
		if (v.mv_size != sizeof(r) + r.kwlen) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (r.modseq > minmodseq && (rc = batch_add(b, uid, &r,
		    (const char *)v.mv_data + sizeof(r))) != 0)
			break;
	}
	mdb_cursor_close(c);
	lmdbst_txn_abort(e, t);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
walk(struct kurir_mailbox *mb, uint32_t first, uint32_t last,
    uint64_t minmodseq, kurir_msg_cb *cb, void *arg)
{
	struct list_batch *b;
	uint32_t pos = first == 0 ? 1 : first;
	int rc, more;

	if (mb->snap_uidnext == 0 || last >= mb->snap_uidnext)
		last = mb->snap_uidnext - 1;
	if (pos > last)
		return KURIR_OK;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KURIR_E_NOMEM;
	do {
		if ((rc = gather(mb, &pos, last, minmodseq, b, &more)) != 0) {
			rc = lmdbst_status(rc, "msg list");
			break;
		}
		if ((rc = batch_run(b, cb, arg)) != 0)
			break;
	} while (more);
	free(b->kw);
	free(b);
	return rc;
}

int
lmdbst_msg_list(struct kurir_mailbox *mb, uint32_t first, uint32_t last,
    kurir_msg_cb *cb, void *arg)
{
	return walk(mb, first, last, 0, cb, arg);
}

int
lmdbst_msg_read(struct kurir_mailbox *mb, uint32_t uid, uint64_t offset,
    void *buf, size_t len, size_t *n_r)
{
	struct lmdbst_env *e = mb->st->e;
	struct lmdbst_msgrec r;
	uint8_t kb[12];
	MDB_txn *t;
	MDB_val k, v;
	uint64_t in;
	size_t n, done = 0;
	int rc;

	*n_r = 0;
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "msg read");
	if ((rc = lmdbst_msg_get(e, t, mb->id, uid, &r, NULL)) != 0)
		goto out;
	while (done < len && offset < r.size) {
		lmdbst_key_body(kb, r.blob, (uint32_t)(offset / LMDBST_CHUNK));
		k.mv_size = 12;
		k.mv_data = kb;
		if ((rc = mdb_get(t, e->dbi[LMDBST_DB_BODY], &k, &v)) != 0) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		in = offset % LMDBST_CHUNK;
		if (v.mv_size <= in) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		n = v.mv_size - (size_t)in;
		if (n > len - done)
			n = len - done;
		if (n > r.size - offset)
			n = (size_t)(r.size - offset);
		memcpy((char *)buf + done, (char *)v.mv_data + in, n);
		done += n;
		offset += n;
	}
	*n_r = done;
out:
	lmdbst_txn_abort(e, t);
	return lmdbst_status(rc, "msg read");
}

struct flags_arg {
	uint32_t	 op;
	uint32_t	 flags;
	const char	*kw;
	uint64_t	 unchangedsince;
	uint64_t	 modseq;	/* the new modseq, once needed */
	struct lmdbst_mbox m;
	int		 changed;
	struct lmdbst_uids failed;
	char		 kwbuf[LMDBST_KW_MAX + 1];
};

static int
flags_fn(struct lmdbst_env *e, MDB_txn *t, uint32_t id, uint32_t uid,
    void *arg)
{
	struct flags_arg *a = arg;
	struct lmdbst_msgrec r;
	const char *kw;
	uint32_t nf;
	int rc;

	if ((rc = lmdbst_msg_get(e, t, id, uid, &r, &kw)) != 0)
		return rc;
	if (a->unchangedsince != 0 && r.modseq > a->unchangedsince)
		return lmdbst_uids_add(&a->failed, uid, 0);
	switch (a->op) {
	case KURIR_FLAGS_SET:
		nf = a->flags;
		break;
	case KURIR_FLAGS_ADD:
		nf = r.flags | a->flags;
		break;
	default:
		nf = r.flags & ~a->flags;
		break;
	}
	if (a->kw != NULL) {
		if ((rc = lmdbst_kw_apply(kw, r.kwlen, a->op, a->kw, a->kwbuf,
		    sizeof(a->kwbuf))) != 0)
			return rc;
	} else {
		memcpy(a->kwbuf, kw, r.kwlen);
		a->kwbuf[r.kwlen] = '\0';
	}
	if (nf == r.flags && strlen(a->kwbuf) == r.kwlen &&
	    memcmp(a->kwbuf, kw, r.kwlen) == 0)
		return 0;	/* no change, no new modseq */
	if ((r.flags & KURIR_FLAG_SEEN) && !(nf & KURIR_FLAG_SEEN))
		a->m.unseen++;
	else if (!(r.flags & KURIR_FLAG_SEEN) && (nf & KURIR_FLAG_SEEN) &&
	    a->m.unseen > 0)
		a->m.unseen--;
	r.flags = nf;
	r.modseq = a->modseq;
	a->changed = 1;
	return lmdbst_msg_put(e, t, id, uid, &r, a->kwbuf, strlen(a->kwbuf));
}

struct set_arg {
	uint32_t	 id;
	const struct kurir_uid_range *set;
	size_t		 nset;
	void		*op;
};

static int
flags_txn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct set_arg *s = arg;
	struct flags_arg *a = s->op;
	int rc;

	a->changed = 0;
	a->failed.n = 0;
	if ((rc = lmdbst_mbox_get(e, t, s->id, &a->m)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	a->modseq = a->m.highestmodseq + 1;
	if ((rc = lmdbst_each_uid(e, t, s->id, s->set, s->nset, flags_fn,
	    a)) != 0)
		return rc;
	if (!a->changed)
		return 0;
	a->m.highestmodseq = a->modseq;
	return lmdbst_mbox_put(e, t, s->id, &a->m);
}

int
lmdbst_msg_flags(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, uint32_t op, uint32_t flags, const char *keywords,
    uint64_t unchangedsince, kurir_uid_cb *failed_cb, void *arg)
{
	struct flags_arg *a;
	struct set_arg s;
	char kw[LMDBST_KW_MAX + 1];
	size_t i;
	int rc;

	if (op < KURIR_FLAGS_SET || op > KURIR_FLAGS_REMOVE ||
	    (flags & ~0x1fu) != 0 || (set == NULL && nset > 0))
		return KURIR_E_INVALID;
	if (keywords != NULL &&
	    (rc = lmdbst_kw_norm(keywords, kw, sizeof(kw))) != KURIR_OK)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return KURIR_E_NOMEM;
	if ((s.set = lmdbst_set_norm(set, nset, &s.nset)) == NULL) {
		free(a);
		return KURIR_E_NOMEM;
	}
	a->op = op;
	a->flags = flags;
	a->kw = keywords != NULL ? kw : NULL;
	a->unchangedsince = unchangedsince;
	(void)lmdbst_cache_flush(mb);
	s.id = mb->id;
	s.op = a;
	rc = lmdbst_write(mb->st->e, flags_txn, &s);
	if (rc == KURIR_OK && a->changed)
		lmdbst_notify_touch(mb->st->e, mb->id);
	for (i = 0; rc == KURIR_OK && failed_cb != NULL &&
	    i < a->failed.n; i += 2)
		rc = failed_cb(arg, a->failed.v[i]);
	lmdbst_uids_free(&a->failed);
	free((void *)s.set);
	free(a);
	return rc;
}

struct expunge_arg {
	uint64_t	 modseq;
	int		 changed;
};

static int
expunge_fn(struct lmdbst_env *e, MDB_txn *t, uint32_t id, uint32_t uid,
    void *arg)
{
	struct expunge_arg *a = arg;

	a->changed = 1;
	return lmdbst_msg_remove(e, t, id, uid, a->modseq);
}

static int
expunge_txn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct set_arg *s = arg;
	struct expunge_arg *a = s->op;
	struct lmdbst_mbox m;
	int rc;

	if ((rc = lmdbst_mbox_get(e, t, s->id, &m)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	a->modseq = m.highestmodseq + 1;
	a->changed = 0;
	return lmdbst_each_uid(e, t, s->id, s->set, s->nset, expunge_fn, a);
}

int
lmdbst_msg_expunge(struct kurir_mailbox *mb,
    const struct kurir_uid_range *set, size_t nset)
{
	struct expunge_arg a;
	struct set_arg s;
	int rc;

	if (set == NULL && nset > 0)
		return KURIR_E_INVALID;
	if ((s.set = lmdbst_set_norm(set, nset, &s.nset)) == NULL)
		return KURIR_E_NOMEM;
	s.id = mb->id;
	s.op = &a;
	(void)lmdbst_cache_flush(mb);
	rc = lmdbst_write(mb->st->e, expunge_txn, &s);
	if (rc == KURIR_OK && a.changed)
		lmdbst_notify_touch(mb->st->e, mb->id);
	free((void *)s.set);
	return rc;
}

/* Expunge one message of one mailbox (delivery rollback). */
int
lmdbst_expunge_one(struct lmdbst_env *e, uint32_t id, uint32_t uid)
{
	struct kurir_mailbox mb;
	struct kurir_store st;
	struct kurir_uid_range r = { uid, uid };

	memset(&st, 0, sizeof(st));
	memset(&mb, 0, sizeof(mb));
	st.e = e;
	mb.st = &st;
	mb.id = id;
	return lmdbst_msg_expunge(&mb, &r, 1);
}

struct copy_arg {
	const char	*dest;
	uint32_t	 dest_id;
	uint32_t	 dest_uidvalidity;
	uint32_t	 move;
	uint64_t	 src_modseq;
	uint64_t	 qbytes;
	uint64_t	 qmsgs;
	struct lmdbst_uids map;
	char		 kw[LMDBST_KW_MAX + 1];
};

static int
copy_fn(struct lmdbst_env *e, MDB_txn *t, uint32_t id, uint32_t uid,
    void *arg)
{
	struct copy_arg *a = arg;
	struct lmdbst_msgrec r;
	const char *kw;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	void *cache = NULL;
	size_t clen = 0;
	uint32_t nuid;
	int rc;

	if ((rc = lmdbst_msg_get(e, t, id, uid, &r, &kw)) != 0)
		return rc;
	if (r.kwlen > LMDBST_KW_MAX)
		return MDB_CORRUPTED;
	memcpy(a->kw, kw, r.kwlen);
	lmdbst_key_msg(kb, id, uid);
	if ((rc = mdb_get(t, e->dbi[LMDBST_DB_CACHE], &k, &v)) == 0 &&
	    v.mv_size > 0) {
		if ((cache = malloc(v.mv_size)) == NULL)
			return KURIR_E_NOMEM;
		memcpy(cache, v.mv_data, v.mv_size);
		clen = v.mv_size;
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	rc = lmdbst_add_msg(e, t, a->dest_id, &r, a->kw, r.kwlen,
	    a->move ? 0 : a->qbytes, a->move ? 0 : a->qmsgs, &nuid);
	if (rc == 0 && cache != NULL) {
		lmdbst_key_msg(kb, a->dest_id, nuid);
		v.mv_size = clen;
		v.mv_data = cache;
		rc = mdb_put(t, e->dbi[LMDBST_DB_CACHE], &k, &v, 0);
	}
	free(cache);
	if (rc == 0 && a->move)
		rc = lmdbst_msg_remove(e, t, id, uid, a->src_modseq);
	if (rc == 0)
		rc = lmdbst_uids_add(&a->map, uid, nuid);
	return rc;
}

static int
copy_txn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct set_arg *s = arg;
	struct copy_arg *a = s->op;
	struct kurir_uid_range *r;
	struct lmdbst_mbox m;
	size_t i;
	int rc;

	a->map.n = 0;
	if ((rc = lmdbst_mbox_get(e, t, s->id, &m)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	a->src_modseq = m.highestmodseq + 1;
	/* Only messages that exist now: a copy into the same mailbox must
	 * not copy its own new messages again (COPY 1:* INBOX). */
	for (i = 0; i < s->nset; i++) {
		r = (struct kurir_uid_range *)&s->set[i];
		if (r->last >= m.uidnext)
			r->last = m.uidnext - 1;
	}
	if ((rc = lmdbst_name_get(e, t, a->dest, &a->dest_id)) != 0 ||
	    (rc = lmdbst_mbox_get(e, t, a->dest_id, &m)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	if (m.flags & LMDBST_MBOX_NOSELECT)
		return KURIR_E_NOTFOUND;
	a->dest_uidvalidity = m.uidvalidity;
	if (a->dest_id == s->id && a->move)
		return KURIR_E_INVALID;
	return lmdbst_each_uid(e, t, s->id, s->set, s->nset, copy_fn, a);
}

int
lmdbst_msg_copy(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, const char *dest, uint32_t move,
    uint32_t *dest_uidvalidity_r, kurir_uid_map_cb *map_cb, void *arg)
{
	struct copy_arg *a;
	struct set_arg s;
	char norm[LMDBST_NAME_MAX + 1];
	size_t i;
	int rc;

	if (set == NULL && nset > 0)
		return KURIR_E_INVALID;
	if ((rc = lmdbst_name_norm(dest, norm, sizeof(norm))) != KURIR_OK)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return KURIR_E_NOMEM;
	if ((s.set = lmdbst_set_norm(set, nset, &s.nset)) == NULL) {
		free(a);
		return KURIR_E_NOMEM;
	}
	a->dest = norm;
	a->move = move;
	a->qbytes = mb->st->quota_bytes;
	a->qmsgs = mb->st->quota_messages;
	(void)lmdbst_cache_flush(mb);
	s.id = mb->id;
	s.op = a;
	rc = lmdbst_write(mb->st->e, copy_txn, &s);
	if (rc == KURIR_OK && a->map.n > 0) {
		lmdbst_notify_touch(mb->st->e, a->dest_id);
		if (move)
			lmdbst_notify_touch(mb->st->e, mb->id);
	}
	if (rc == KURIR_OK && dest_uidvalidity_r != NULL)
		*dest_uidvalidity_r = a->dest_uidvalidity;
	for (i = 0; rc == KURIR_OK && map_cb != NULL && i < a->map.n; i += 2)
		rc = map_cb(arg, a->map.v[i], a->map.v[i + 1]);
	lmdbst_uids_free(&a->map);
	free((void *)s.set);
	free(a);
	return rc;
}

int
lmdbst_changes_since(struct kurir_mailbox *mb, uint64_t modseq,
    kurir_msg_cb *changed_cb, kurir_uid_cb *expunged_cb, void *arg)
{
	struct lmdbst_env *e = mb->st->e;
	uint32_t uids[LMDBST_BATCH];
	uint8_t kb[16];
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val k, v;
	uint64_t pos = modseq + 1;
	uint32_t pos_uid = 0;
	size_t i, n;
	int rc;

	if (changed_cb != NULL && (rc = walk(mb, 1, UINT32_MAX, modseq,
	    changed_cb, arg)) != 0)
		return rc;
	if (expunged_cb == NULL)
		return KURIR_OK;
	do {
		n = 0;
		if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
			return lmdbst_status(rc, "changes");
		if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_EXPUNGED],
		    &c)) != 0) {
			lmdbst_txn_abort(e, t);
			return lmdbst_status(rc, "changes");
		}
		lmdbst_key_tomb(kb, mb->id, pos, pos_uid);
		k.mv_size = 16;
		k.mv_data = kb;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		    rc == 0 && n < LMDBST_BATCH;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 16 ||
			    lmdbst_get32(k.mv_data) != mb->id)
				break;
			pos = lmdbst_get64((uint8_t *)k.mv_data + 4);
			pos_uid = lmdbst_get32((uint8_t *)k.mv_data + 12);
			uids[n++] = pos_uid;
		}
		mdb_cursor_close(c);
		lmdbst_txn_abort(e, t);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return lmdbst_status(rc, "changes");
		for (i = 0; i < n; i++)
			if ((rc = expunged_cb(arg, uids[i])) != 0)
				return rc;
		/* Resume after the last tombstone seen. */
		if (pos_uid == UINT32_MAX) {
			pos++;
			pos_uid = 0;
		} else
			pos_uid++;
	} while (n == LMDBST_BATCH);
	return KURIR_OK;
}
