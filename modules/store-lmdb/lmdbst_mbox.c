/*
 * lmdbst_mbox.c -- a user's store and its mailboxes: open/close, quota
 * usage, list, create (with parents), delete (a parent stays as
 * \Noselect), rename (children move along; INBOX's messages move and
 * INBOX stays, RFC 3501), subscriptions and status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmdbst.h"

static int
create_inbox(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	uint32_t id;
	int rc;

	rc = lmdbst_name_get(e, t, "INBOX", &id);
	if (rc == MDB_NOTFOUND)
		rc = lmdbst_mbox_new(e, t, "INBOX", 0, &id);
	return rc;
}

int
lmdbst_store_open(const struct kurir_user_params *p,
    struct kurir_store **st_r)
{
	struct kurir_store *st;
	char dir[1400];
	MDB_txn *t;
	uint32_t id;
	int rc;

	*st_r = NULL;
	if ((rc = lmdbst_user_dir(p, dir, sizeof(dir))) != KURIR_OK)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->user = strdup(p->user)) == NULL) {
		free(st);
		return KURIR_E_NOMEM;
	}
	st->quota_bytes = p->quota_bytes;
	st->quota_messages = p->quota_messages;
	if ((rc = lmdbst_env_get(dir, &st->e)) != KURIR_OK)
		goto fail;
	/* The common case, INBOX exists, needs no write transaction. */
	if ((rc = lmdbst_txn_begin(st->e, 0, &t)) != 0) {
		rc = lmdbst_status(rc, "store open");
		goto fail_env;
	}
	rc = lmdbst_name_get(st->e, t, "INBOX", &id);
	lmdbst_txn_abort(st->e, t);
	if (rc == MDB_NOTFOUND)
		rc = lmdbst_write(st->e, create_inbox, NULL);
	else
		rc = lmdbst_status(rc, "store open");
	if (rc != KURIR_OK)
		goto fail_env;
	*st_r = st;
	return KURIR_OK;
fail_env:
	lmdbst_env_put(st->e);
fail:
	free(st->user);
	free(st);
	return rc;
}

void
lmdbst_store_close(struct kurir_store *st)
{
	if (st == NULL)
		return;
	lmdbst_env_put(st->e);
	free(st->user);
	free(st);
}

int
lmdbst_quota_usage(struct kurir_store *st, uint64_t *bytes_r,
    uint64_t *messages_r)
{
	struct lmdbst_usage u;
	MDB_txn *t;
	int rc;

	if ((rc = lmdbst_txn_begin(st->e, 0, &t)) != 0)
		return lmdbst_status(rc, "quota");
	rc = lmdbst_usage_get(st->e, t, &u);
	lmdbst_txn_abort(st->e, t);
	if (rc != 0)
		return lmdbst_status(rc, "quota");
	if (bytes_r != NULL)
		*bytes_r = u.bytes;
	if (messages_r != NULL)
		*messages_r = u.messages;
	return KURIR_OK;
}

/* Does any mailbox name start with "name/"? */
static int
has_children(struct lmdbst_env *e, MDB_txn *t, const char *name, int *yes)
{
	char buf[LMDBST_NAME_MAX + 2];
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = strlen(name);
	int rc;

	*yes = 0;
	memcpy(buf, name, n);
	buf[n] = '/';
	k.mv_size = n + 1;
	k.mv_data = buf;
	if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_NAMES], &c)) != 0)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size > n + 1 && memcmp(k.mv_data, buf,
	    n + 1) == 0)
		*yes = 1;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct list_ent {
	char		 name[LMDBST_NAME_MAX + 1];
	uint32_t	 attrs;
};

int
lmdbst_mailbox_list(struct kurir_store *st, kurir_mbx_list_cb *cb,
    void *arg)
{
	struct lmdbst_env *e = st->e;
	struct list_ent *ents;
	struct lmdbst_mbox m;
	char last[LMDBST_NAME_MAX + 1] = "";
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val k, v;
	size_t i, n;
	int rc, kids, first = 1;

	if ((ents = calloc(LMDBST_BATCH, sizeof(*ents))) == NULL)
		return KURIR_E_NOMEM;
	do {
		n = 0;
		if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
			break;
		if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_NAMES],
		    &c)) != 0) {
			lmdbst_txn_abort(e, t);
			break;
		}
		k.mv_size = strlen(last);
		k.mv_data = last;
		rc = mdb_cursor_get(c, &k, &v, first ? MDB_FIRST :
		    MDB_SET_RANGE);
		if (rc == 0 && !first && k.mv_size == strlen(last) &&
		    memcmp(k.mv_data, last, k.mv_size) == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		for (; rc == 0 && n < LMDBST_BATCH;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size > LMDBST_NAME_MAX || v.mv_size != 4) {
				rc = MDB_CORRUPTED;
				break;
			}
			memcpy(ents[n].name, k.mv_data, k.mv_size);
			ents[n].name[k.mv_size] = '\0';
			if ((rc = lmdbst_mbox_get(e, t,
			    lmdbst_get32(v.mv_data), &m)) != 0 ||
			    (rc = has_children(e, t, ents[n].name,
			    &kids)) != 0)
				break;
			ents[n].attrs = m.special_use |
			    (kids ? KURIR_MBX_HASCHILDREN :
			    KURIR_MBX_HASNOCHILDREN) |
			    (m.flags & LMDBST_MBOX_NOSELECT ?
			    KURIR_MBX_NOSELECT : 0);
			k.mv_size = strlen(ents[n].name);
			k.mv_data = ents[n].name;
			if (mdb_get(t, e->dbi[LMDBST_DB_SUBS], &k, &v) == 0)
				ents[n].attrs |= KURIR_MBX_SUBSCRIBED;
			n++;
			/* has_children and mdb_get moved nothing: resume. */
			k.mv_size = strlen(ents[n - 1].name);
			k.mv_data = ents[n - 1].name;
			if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET)) != 0)
				break;
		}
		mdb_cursor_close(c);
		lmdbst_txn_abort(e, t);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		rc = 0;
		for (i = 0; i < n; i++)
			if ((rc = cb(arg, ents[i].name, ents[i].attrs)) != 0)
				goto out;
		if (n > 0)
			memcpy(last, ents[n - 1].name, sizeof(last));
		first = 0;
	} while (n == LMDBST_BATCH);
out:
	free(ents);
	if (rc > 0)
		return rc;
	return rc == 0 ? KURIR_OK : lmdbst_status(rc, "mailbox list");
}

static int
special_ok(uint32_t su)
{
	return su == 0 || su == KURIR_MBX_DRAFTS || su == KURIR_MBX_SENT ||
	    su == KURIR_MBX_TRASH || su == KURIR_MBX_JUNK ||
	    su == KURIR_MBX_ARCHIVE;
}

struct create_arg {
	const char	*name;
	uint32_t	 special_use;
};

static int
create_fn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct create_arg *a = arg;
	struct lmdbst_mbox m;
	char buf[LMDBST_NAME_MAX + 1];
	const char *p;
	uint32_t id;
	int rc;

	if ((rc = lmdbst_name_get(e, t, a->name, &id)) == 0) {
		if ((rc = lmdbst_mbox_get(e, t, id, &m)) != 0)
			return rc;
		if (!(m.flags & LMDBST_MBOX_NOSELECT))
			return KURIR_E_EXISTS;
		m.flags &= ~LMDBST_MBOX_NOSELECT;
		m.special_use = a->special_use;
		return lmdbst_mbox_put(e, t, id, &m);
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	for (p = strchr(a->name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		memcpy(buf, a->name, (size_t)(p - a->name));
		buf[p - a->name] = '\0';
		rc = lmdbst_name_get(e, t, buf, &id);
		if (rc == MDB_NOTFOUND)
			rc = lmdbst_mbox_new(e, t, buf, 0, &id);
		if (rc != 0)
			return rc;
	}
	return lmdbst_mbox_new(e, t, a->name, a->special_use, &id);
}

int
lmdbst_mailbox_create(struct kurir_store *st, const char *name,
    uint32_t special_use)
{
	struct create_arg a;
	char norm[LMDBST_NAME_MAX + 1];
	int rc;

	if ((rc = lmdbst_name_norm(name, norm, sizeof(norm))) != KURIR_OK)
		return rc;
	if (!special_ok(special_use))
		return KURIR_E_INVALID;
	a.name = norm;
	a.special_use = special_use;
	return lmdbst_write(st->e, create_fn, &a);
}

static int
remove_msg_fn(struct lmdbst_env *e, MDB_txn *t, uint32_t id, uint32_t uid,
    void *arg)
{
	return lmdbst_msg_remove(e, t, id, uid, 0);
}

/* Drop every message and tombstone of mailbox id. */
static int
empty_mailbox(struct lmdbst_env *e, MDB_txn *t, uint32_t id)
{
	struct kurir_uid_range all = { 1, UINT32_MAX };
	uint8_t kb[16];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = lmdbst_each_uid(e, t, id, &all, 1, remove_msg_fn,
	    NULL)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_EXPUNGED], &c)) != 0)
		return rc;
	lmdbst_key_tomb(kb, id, 0, 0);
	k.mv_size = 16;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && lmdbst_get32(k.mv_data) == id) {
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct delete_arg {
	const char	*name;
	uint32_t	 id;
};

static int
delete_fn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct delete_arg *a = arg;
	struct lmdbst_mbox m;
	uint8_t kb[4];
	MDB_val k;
	uint32_t nid;
	int rc, kids;

	if ((rc = lmdbst_name_get(e, t, a->name, &a->id)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	if ((rc = lmdbst_mbox_get(e, t, a->id, &m)) != 0 ||
	    (rc = has_children(e, t, a->name, &kids)) != 0)
		return rc;
	if (kids && (m.flags & LMDBST_MBOX_NOSELECT))
		return KURIR_E_INVALID;	/* RFC 3501: nothing to delete */
	if ((rc = empty_mailbox(e, t, a->id)) != 0 ||
	    (rc = lmdbst_recent_del(e, t, a->id)) != 0)
		return rc;
	kb[0] = a->id >> 24;
	kb[1] = a->id >> 16;
	kb[2] = a->id >> 8;
	kb[3] = a->id;
	k.mv_size = 4;
	k.mv_data = kb;
	if ((rc = mdb_del(t, e->dbi[LMDBST_DB_MBOXES], &k, NULL)) != 0)
		return rc;
	k.mv_size = strlen(a->name);
	k.mv_data = (void *)a->name;
	if ((rc = mdb_del(t, e->dbi[LMDBST_DB_NAMES], &k, NULL)) != 0)
		return rc;
	if (!kids)
		return 0;
	/* Keep the name as a \Noselect parent, under a new id so that a
	 * later CREATE gets a new UIDVALIDITY. */
	if ((rc = lmdbst_mbox_new(e, t, a->name, 0, &nid)) != 0 ||
	    (rc = lmdbst_mbox_get(e, t, nid, &m)) != 0)
		return rc;
	m.flags |= LMDBST_MBOX_NOSELECT;
	return lmdbst_mbox_put(e, t, nid, &m);
}

int
lmdbst_mailbox_delete(struct kurir_store *st, const char *name)
{
	struct delete_arg a;
	char norm[LMDBST_NAME_MAX + 1], path[2100];
	int rc;

	if ((rc = lmdbst_name_norm(name, norm, sizeof(norm))) != KURIR_OK)
		return rc;
	if (strcmp(norm, "INBOX") == 0)
		return KURIR_E_INVALID;
	a.name = norm;
	if ((rc = lmdbst_write(st->e, delete_fn, &a)) != KURIR_OK)
		return rc;
	lmdbst_notify_touch(st->e, a.id);
	if (lmdbst_notify_path(st->e, a.id, path, sizeof(path)) == KURIR_OK)
		(void)unlink(path);
	return KURIR_OK;
}

struct rename_arg {
	const char	*from;
	const char	*to;
	uint32_t	 id;
};

static int
put_name(struct lmdbst_env *e, MDB_txn *t, const char *name, uint32_t id)
{
	uint8_t b[4] = { id >> 24, id >> 16, id >> 8, id };
	MDB_val k = { strlen(name), (void *)name }, v = { 4, b };
	int rc;

	rc = mdb_put(t, e->dbi[LMDBST_DB_NAMES], &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? KURIR_E_EXISTS : rc;
}

static int
del_name(struct lmdbst_env *e, MDB_txn *t, const char *name)
{
	MDB_val k = { strlen(name), (void *)name };

	return mdb_del(t, e->dbi[LMDBST_DB_NAMES], &k, NULL);
}

static int
make_parents(struct lmdbst_env *e, MDB_txn *t, const char *name)
{
	char buf[LMDBST_NAME_MAX + 1];
	const char *p;
	uint32_t id;
	int rc;

	for (p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		memcpy(buf, name, (size_t)(p - name));
		buf[p - name] = '\0';
		rc = lmdbst_name_get(e, t, buf, &id);
		if (rc == MDB_NOTFOUND)
			rc = lmdbst_mbox_new(e, t, buf, 0, &id);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
rename_fn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct rename_arg *a = arg;
	char oldn[LMDBST_NAME_MAX + 1], newn[2 * LMDBST_NAME_MAX + 2];
	size_t flen = strlen(a->from);
	MDB_cursor *c;
	MDB_val k, v;
	uint32_t id, nid;
	int rc;

	if ((rc = lmdbst_name_get(e, t, a->from, &a->id)) != 0)
		return rc == MDB_NOTFOUND ? KURIR_E_NOTFOUND : rc;
	if ((rc = lmdbst_name_get(e, t, a->to, &id)) == 0)
		return KURIR_E_EXISTS;
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = make_parents(e, t, a->to)) != 0)
		return rc;
	if (strcmp(a->from, "INBOX") == 0) {
		/* The messages go with the id; INBOX starts over empty. */
		if ((rc = put_name(e, t, a->to, a->id)) != 0 ||
		    (rc = del_name(e, t, "INBOX")) != 0)
			return rc;
		return lmdbst_mbox_new(e, t, "INBOX", 0, &nid);
	}
	/* The mailbox, then each child: "from/x" -> "to/x". */
	if ((rc = del_name(e, t, a->from)) != 0 ||
	    (rc = put_name(e, t, a->to, a->id)) != 0)
		return rc;
	for (;;) {
		if ((rc = mdb_cursor_open(t, e->dbi[LMDBST_DB_NAMES],
		    &c)) != 0)
			return rc;
		memcpy(oldn, a->from, flen);
		oldn[flen] = '/';
		k.mv_size = flen + 1;
		k.mv_data = oldn;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size <= flen + 1 || k.mv_size >
		    LMDBST_NAME_MAX || memcmp(k.mv_data, oldn, flen + 1) != 0))
			rc = MDB_NOTFOUND;
		if (rc == 0) {
			memcpy(oldn, k.mv_data, k.mv_size);
			oldn[k.mv_size] = '\0';
			id = v.mv_size == 4 ? lmdbst_get32(v.mv_data) : 0;
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		snprintf(newn, sizeof(newn), "%s%s", a->to, oldn + flen);
		if (strlen(newn) > LMDBST_NAME_MAX)
			return KURIR_E_INVALID;
		if ((rc = del_name(e, t, oldn)) != 0 ||
		    (rc = put_name(e, t, newn, id)) != 0)
			return rc;
	}
}

int
lmdbst_mailbox_rename(struct kurir_store *st, const char *from,
    const char *to)
{
	struct rename_arg a;
	char f[LMDBST_NAME_MAX + 1], tn[LMDBST_NAME_MAX + 1];
	size_t flen;
	int rc;

	if ((rc = lmdbst_name_norm(from, f, sizeof(f))) != KURIR_OK ||
	    (rc = lmdbst_name_norm(to, tn, sizeof(tn))) != KURIR_OK)
		return rc;
	if (strcmp(f, tn) == 0)
		return KURIR_E_EXISTS;
	flen = strlen(f);
	if (strncmp(tn, f, flen) == 0 && tn[flen] == '/')
		return KURIR_E_INVALID;	/* into its own child */
	if (strcmp(tn, "INBOX") == 0)
		return KURIR_E_EXISTS;
	a.from = f;
	a.to = tn;
	if ((rc = lmdbst_write(st->e, rename_fn, &a)) == KURIR_OK)
		lmdbst_notify_touch(st->e, a.id);
	return rc;
}

struct sub_arg {
	const char	*name;
	uint32_t	 on;
};

static int
sub_fn(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct sub_arg *a = arg;
	MDB_val k = { strlen(a->name), (void *)a->name }, v = { 0, "" };
	int rc;

	if (a->on)
		return mdb_put(t, e->dbi[LMDBST_DB_SUBS], &k, &v, 0);
	rc = mdb_del(t, e->dbi[LMDBST_DB_SUBS], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
lmdbst_mailbox_subscribe(struct kurir_store *st, const char *name,
    uint32_t subscribed)
{
	struct sub_arg a;
	char norm[LMDBST_NAME_MAX + 1];
	int rc;

	if ((rc = lmdbst_name_norm(name, norm, sizeof(norm))) != KURIR_OK)
		return rc;
	a.name = norm;
	a.on = subscribed;
	return lmdbst_write(st->e, sub_fn, &a);
}

static void
fill_status(const struct lmdbst_mbox *m, struct kurir_mailbox_status *s)
{
	s->messages = m->messages;
	s->unseen = m->unseen;
	s->uidvalidity = m->uidvalidity;
	s->uidnext = m->uidnext;
	s->highestmodseq = m->highestmodseq;
	s->bytes = m->bytes;
}

/* Look a mailbox up by name: its id and record; NOTFOUND for none or
 * for a \Noselect parent. */
static int
lookup(struct lmdbst_env *e, const char *name, uint32_t *id_r,
    struct lmdbst_mbox *m)
{
	char norm[LMDBST_NAME_MAX + 1];
	MDB_txn *t;
	int rc;

	if ((rc = lmdbst_name_norm(name, norm, sizeof(norm))) != KURIR_OK)
		return rc;
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "lookup");
	if ((rc = lmdbst_name_get(e, t, norm, id_r)) == 0)
		rc = lmdbst_mbox_get(e, t, *id_r, m);
	lmdbst_txn_abort(e, t);
	if (rc == 0 && (m->flags & LMDBST_MBOX_NOSELECT))
		rc = MDB_NOTFOUND;
	return lmdbst_status(rc, "lookup");
}

int
lmdbst_mailbox_status(struct kurir_store *st, const char *name,
    struct kurir_mailbox_status *s_r)
{
	struct lmdbst_mbox m;
	uint32_t id;
	int rc;

	if ((rc = lookup(st->e, name, &id, &m)) == KURIR_OK)
		fill_status(&m, s_r);
	return rc;
}

int
lmdbst_mailbox_open(struct kurir_store *st, const char *name,
    struct kurir_mailbox **mb_r)
{
	struct kurir_mailbox *mb;
	struct lmdbst_mbox m;
	uint32_t id;
	int rc;

	*mb_r = NULL;
	if ((rc = lookup(st->e, name, &id, &m)) != KURIR_OK)
		return rc;
	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return KURIR_E_NOMEM;
	mb->st = st;
	mb->id = id;
	mb->uidvalidity = m.uidvalidity;
	mb->snap_uidnext = m.uidnext;
	mb->efd = -1;
	*mb_r = mb;
	return KURIR_OK;
}

void
lmdbst_mailbox_close(struct kurir_mailbox *mb)
{
	if (mb == NULL)
		return;
	(void)lmdbst_cache_flush(mb);
	lmdbst_notify_close(mb);
	free(mb->cpend);
	free(mb);
}

int
lmdbst_mailbox_sync(struct kurir_mailbox *mb,
    struct kurir_mailbox_status *s_r)
{
	struct lmdbst_env *e = mb->st->e;
	struct lmdbst_mbox m;
	MDB_txn *t;
	int rc;

	(void)lmdbst_cache_flush(mb);
	if ((rc = lmdbst_txn_begin(e, 0, &t)) != 0)
		return lmdbst_status(rc, "sync");
	rc = lmdbst_mbox_get(e, t, mb->id, &m);
	lmdbst_txn_abort(e, t);
	if (rc != 0)
		return lmdbst_status(rc, "sync");
	mb->snap_uidnext = m.uidnext;
	if (s_r != NULL)
		fill_status(&m, s_r);
	return KURIR_OK;
}
