/*
 * lmdbst_iter.c -- walking a UID set of one mailbox inside a write
 * transaction.  UIDs are gathered a bounded batch at a time with a
 * cursor that is closed before the callback changes records, so a set
 * like 1:* over a huge mailbox needs neither unbounded memory nor a
 * cursor that survives modification.
 */
#include <stdlib.h>

#include "lmdbst.h"

#define ITER_BATCH	1024

int
lmdbst_each_uid(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
    const struct kurir_uid_range *set, size_t n, lmdbst_uid_fn *fn,
    void *arg)
{
	uint32_t uids[ITER_BATCH], pos;
	uint8_t kb[8];
	MDB_cursor *c;
	MDB_val k, v;
	size_t i, j, got;
	int rc;

	for (i = 0; i < n; i++) {
		pos = set[i].first;
		for (;;) {
			if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_MSGS],
			    &c)) != 0)
				return rc;
			lmdbst_key_msg(kb, id, pos);
			k.mv_size = 8;
			k.mv_data = kb;
			got = 0;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			while (rc == 0 && got < ITER_BATCH && k.mv_size == 8 &&
			    lmdbst_get32(k.mv_data) == id &&
			    lmdbst_get32((uint8_t *)k.mv_data + 4) <=
			    set[i].last) {
				uids[got++] = lmdbst_get32((uint8_t *)k.mv_data +
				    4);
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			}
			mdb_cursor_close(c);
			if (rc != 0 && rc != MDB_NOTFOUND)
				return rc;
			for (j = 0; j < got; j++)
				if ((rc = fn(e, t, id, uids[j], arg)) != 0)
					return rc;
			if (got < ITER_BATCH || uids[got - 1] == UINT32_MAX)
				break;
			pos = uids[got - 1] + 1;
		}
	}
	return 0;
}

int
lmdbst_uids_add(struct lmdbst_uids *u, uint32_t a, uint32_t b)
{
	uint32_t *p;
	size_t cap;

	if (u->n + 2 > u->cap) {
		cap = u->cap == 0 ? 64 : u->cap * 2;
		if ((p = reallocarray(u->v, cap, sizeof(*p))) == NULL)
			return KURIR_E_NOMEM;
		u->v = p;
		u->cap = cap;
	}
	u->v[u->n++] = a;
	u->v[u->n++] = b;
	return 0;
}

void
lmdbst_uids_free(struct lmdbst_uids *u)
{
	free(u->v);
	u->v = NULL;
	u->n = u->cap = 0;
}
