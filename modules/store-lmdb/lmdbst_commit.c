/*
 * lmdbst_commit.c -- grouped, durable commits of appends and deliveries.
 *
 * Threads committing to the same environment queue their requests; the
 * first becomes the leader and applies everything queued (up to
 * lmdb_group_commit requests) in one write transaction, each request in a
 * nested transaction so that one over-quota message does not fail the
 * others, then commits once: one fdatasync pair for the whole group.
 * Requests arriving meanwhile form the next group.  Nobody returns
 * before the commit covering its own message has been synced, so
 * grouping never weakens durability.
 */
#include <stdlib.h>
#include <string.h>

#include "lmdbst.h"

/* Add one message; returns 0, an MDB code or a KURIR_E_*. */
static int
apply(struct lmdbst_env *e, MDB_txn *t, struct lmdbst_req *r)
{
	struct lmdbst_msgrec rec;
	struct lmdbst_mbox m;
	struct lmdbst_usage u;
	int rc;

	if ((rc = lmdbst_name_get(e, t, r->mailbox, &r->mbox_id)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	if ((rc = lmdbst_mbox_get(e, t, r->mbox_id, &m)) != 0 ||
	    (rc = lmdbst_usage_get(e, t, &u)) != 0)
		return rc;
	/* Cheap check before copying the body; lmdbst_add_msg decides. */
	if ((r->quota_bytes != 0 && u.bytes + r->spool->size >
	    r->quota_bytes) ||
	    (r->quota_messages != 0 && u.messages >= r->quota_messages))
		return KURIR_E_OVERQUOTA;
	memset(&rec, 0, sizeof(rec));
	rec.flags = r->flags;
	rec.size = r->spool->size;
	rec.date = r->date;
	if (r->blob != 0) {
		rec.blob = r->blob;
		if ((rc = lmdbst_stage_done(e, t, r->blob,
		    r->spool->size)) != 0)
			return rc;
	} else if ((rc = lmdbst_store_body(e, t, r->spool, &rec.blob)) != 0)
		return rc;
	if ((rc = lmdbst_add_msg(e, t, r->mbox_id, &rec, r->keywords,
	    strlen(r->keywords), r->quota_bytes, r->quota_messages,
	    &r->uid)) != 0)
		return rc;
	r->uidvalidity = m.uidvalidity;
	return 0;
}

static int
is_retry(int rc)
{
	return rc == MDB_MAP_FULL;
}

static void
run_batch(struct lmdbst_env *e, struct lmdbst_req **b, size_t n)
{
	MDB_txn *t, *child;
	size_t i, j;
	int rc, st;

again:
	if ((rc = lmdbst_txn_begin(e, 1, &t)) != 0) {
		st = lmdbst_status(rc, "commit begin");
		for (i = 0; i < n; i++)
			b[i]->status = st;
		return;
	}
	for (i = 0; i < n; i++) {
		if (n == 1) {
			rc = apply(e, t, b[i]);
		} else if ((rc = mdb_txn_begin(e->env, t, 0, &child)) == 0) {
			if ((rc = apply(e, child, b[i])) == 0)
				rc = mdb_txn_commit(child);
			else
				mdb_txn_abort(child);
		}
		if (is_retry(rc))
			goto grow;
		if (rc == MDB_TXN_FULL && n > 1) {
			lmdbst_txn_abort(e, t);
			for (i = 0; i < n; i++)
				run_batch(e, &b[i], 1);
			return;
		}
		b[i]->status = rc == 0 ? KURIR_OK :
		    lmdbst_status(rc, "append");
		if (rc != 0 && n == 1) {
			lmdbst_txn_abort(e, t);
			return;
		}
	}
	rc = lmdbst_txn_commit(e, t);
	if (is_retry(rc))
		goto grown;
	if (rc == MDB_TXN_FULL && n > 1) {
		/* Too much for one transaction: one by one instead. */
		for (i = 0; i < n; i++)
			run_batch(e, &b[i], 1);
		return;
	}
	if (rc != 0) {
		st = lmdbst_write_status(e, rc, "commit");
		for (i = 0; i < n; i++)
			if (b[i]->status == KURIR_OK)
				b[i]->status = st;
		return;
	}
	for (i = 0; i < n; i++) {
		if (b[i]->status != KURIR_OK)
			continue;
		for (j = 0; j < i; j++)
			if (b[j]->status == KURIR_OK &&
			    b[j]->mbox_id == b[i]->mbox_id)
				break;
		if (j == i)
			lmdbst_notify_touch(e, b[i]->mbox_id);
	}
	return;
grow:
	lmdbst_txn_abort(e, t);
grown:
	if ((st = lmdbst_grow(e)) != KURIR_OK) {
		for (i = 0; i < n; i++)
			b[i]->status = st;
		return;
	}
	goto again;
}

int
lmdbst_commit(struct lmdbst_env *e, struct lmdbst_req *r)
{
	struct lmdbst_req *b[1024], *q;
	uint64_t bytes;
	size_t n;

	r->done = 0;
	r->status = KURIR_E_TEMPFAIL;
	r->blob = 0;
	if (r->spool->size > LMDBST_STAGE_MIN &&
	    (r->status = lmdbst_stage_body(e, r->spool, &r->blob)) != 0)
		return r->status;
	pthread_mutex_lock(&e->qlock);
	TAILQ_INSERT_TAIL(&e->queue, r, entry);
	while (!r->done) {
		if (e->leader) {
			pthread_cond_wait(&e->qcond, &e->qlock);
			continue;
		}
		e->leader = 1;
		/* A group is bounded in count and, past the first
		 * message, in bytes: one transaction stays small. */
		bytes = 0;
		for (n = 0; n < lmdbst_conf.group_max && n < 1024 &&
		    (q = TAILQ_FIRST(&e->queue)) != NULL; n++) {
			if (n > 0 && bytes + q->spool->size > LMDBST_GROUP_BYTES)
				break;
			bytes += q->spool->size;
			TAILQ_REMOVE(&e->queue, q, entry);
			b[n] = q;
		}
		pthread_mutex_unlock(&e->qlock);
		run_batch(e, b, n);
		pthread_mutex_lock(&e->qlock);
		while (n > 0)
			b[--n]->done = 1;
		e->leader = 0;
		pthread_cond_broadcast(&e->qcond);
	}
	pthread_mutex_unlock(&e->qlock);
	if (r->status != KURIR_OK)
		lmdbst_stage_drop(e, r->blob);
	return r->status;
}
