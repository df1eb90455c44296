/*
 * imap_view.c -- a session's view of its selected mailbox: the message
 * sequence (UIDs ascending, numbers 1..n), the flags the client was last
 * told, and the rules for telling it about changes (RFC 3501 section
 * 7.4.1 and 5.2): new messages as EXISTS, flag changes as FETCH FLAGS,
 * and expunges as EXPUNGE only where allowed -- never during FETCH, STORE
 * or SEARCH, so numbers stay stable while a client uses them.  An
 * expunged message stays in the view, marked, until it can be reported.
 *
 * \Recent (RFC 3501 2.3.2) is kept the Dovecot way: a read-write view
 * claims, through the storage's recent_claim, every message that arrived
 * since any session last claimed; those are \Recent in this view only.
 * It claims at SELECT and at each sync that brings new messages.  A
 * read-only view (EXAMINE) shows the unclaimed ones as \Recent without
 * claiming them (RFC 3501 6.3.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"

static int
view_grow(struct imap_view *v)
{
	struct imap_msgent *n;
	uint32_t na;

	if (v->count < v->alloc)
		return 0;
	na = v->alloc < 8 ? 16 : v->alloc + v->alloc / 2;
	n = reallocarray(v->msgs, na, sizeof(*n));
	if (n == NULL)
		return -1;
	v->msgs = n;
	v->alloc = na;
	return 0;
}

const char *
imap_view_intern(struct imap_view *v, const char *kw)
{
	char **n;
	uint32_t i;

	if (kw == NULL || *kw == '\0')
		return "";
	for (i = 0; i < v->nkws; i++)
		if (strcmp(v->kws[i], kw) == 0)
			return v->kws[i];
	n = reallocarray(v->kws, v->nkws + 1, sizeof(*n));
	if (n == NULL)
		return "";
	v->kws = n;
	if ((v->kws[v->nkws] = strdup(kw)) == NULL)
		return "";
	return v->kws[v->nkws++];
}

uint32_t
imap_view_seq(struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid == uid)
			return mid + 1;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void
imap_view_flags_str(const struct imap_msgent *e, struct imap_str *out)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} sys[] = {
		{ KURIR_FLAG_SEEN, "\\Seen" },
		{ KURIR_FLAG_ANSWERED, "\\Answered" },
		{ KURIR_FLAG_FLAGGED, "\\Flagged" },
		{ KURIR_FLAG_DELETED, "\\Deleted" },
		{ KURIR_FLAG_DRAFT, "\\Draft" },
	};
	size_t i;
	int first = 1;

	imap_str_addc(out, '(');
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (!(e->flags & sys[i].bit))
			continue;
		if (!first)
			imap_str_addc(out, ' ');
		imap_str_adds(out, sys[i].name);
		first = 0;
	}
	if (e->flags & IMAP_ENT_RECENT) {
		if (!first)
			imap_str_addc(out, ' ');
		imap_str_adds(out, "\\Recent");
		first = 0;
	}
	if (e->kw != NULL && *e->kw != '\0') {
		if (!first)
			imap_str_addc(out, ' ');
		imap_str_adds(out, e->kw);
	}
	imap_str_addc(out, ')');
}

static int
open_cb(void *arg, const struct kurir_msg *m)
{
	struct imap_view *v = arg;
	struct imap_msgent *e;

	if (view_grow(v) < 0)
		return KURIR_E_NOMEM;
	e = &v->msgs[v->count++];
	e->uid = m->uid;
	e->flags = m->flags & IMAP_FLAG_MASK;
	e->kw = imap_view_intern(v, m->keywords);
	if (m->modseq > v->modseq)
		v->modseq = m->modseq;
	return 0;
}

static void
view_free(struct imap_view *v)
{
	uint32_t i;

	if (v->mb != NULL)
		imap_api->storage()->mailbox_close(v->mb);
	for (i = 0; i < v->nkws; i++)
		free(v->kws[i]);
	free(v->kws);
	free(v->msgs);
	free(v->name);
	free(v);
}

int
imap_view_open(struct imap_sess *s, const char *name, int readonly,
    struct imap_view **v_r)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	struct kurir_mailbox_status ms;
	struct imap_view *v;
	int rc;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return KURIR_E_NOMEM;
	v->notify_fd = -1;
	if ((v->name = strdup(name)) == NULL) {
		free(v);
		return KURIR_E_NOMEM;
	}
	v->readonly = readonly ? 1 : 0;
	rc = st->mailbox_open(s->store, name, &v->mb);
	if (rc != KURIR_OK) {
		v->mb = NULL;
		goto out_free;
	}
	memset(&ms, 0, sizeof(ms));
	if ((rc = st->mailbox_sync(v->mb, &ms)) != KURIR_OK)
		goto out_free;
	/* Size the sequence for what is there (plus a little), not for a
	 * power of two: thousands of idle views add up. */
	if (ms.messages > 0 && ms.messages < UINT32_MAX - 8) {
		v->alloc = (uint32_t)ms.messages + 8;
		if ((v->msgs = reallocarray(NULL, v->alloc,
		    sizeof(*v->msgs))) == NULL) {
			rc = KURIR_E_NOMEM;
			goto out_free;
		}
	}
	rc = st->msg_list(v->mb, 1, UINT32_MAX, open_cb, v);
	if (rc != KURIR_OK)
		goto out_free;
	v->uidvalidity = ms.uidvalidity;
	v->uidnext = ms.uidnext;
	if (ms.highestmodseq > v->modseq)
		v->modseq = ms.highestmodseq;
	v->exists_sent = v->count;
	imap_view_claim_recent(v);
	v->recent_sent = v->recent;
	/* a descriptor only for backends without notify_set() (IDLE) */
	if (!imap_notify_set_ok(st) && st->notify_fd != NULL)
		v->notify_fd = st->notify_fd(v->mb);
	*v_r = v;
	return KURIR_OK;
out_free:
	view_free(v);
	return rc;
}

void
imap_view_claim_recent(struct imap_view *v)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	uint32_t first, i;

	if (!KURIR_HAS(st, recent_claim) || st->recent_claim == NULL ||
	    v->count == 0)
		return;
	/* Claim up to the UIDNEXT of the snapshot the view was built from:
	 * a later message is claimed when a sync brings it.  Read-only:
	 * 0 just reads where the unclaimed messages start. */
	if (st->recent_claim(v->mb, v->readonly ? 0 : v->uidnext,
	    &first) != KURIR_OK || first >= v->uidnext)
		return;
	for (i = v->count; i > 0 && v->msgs[i - 1].uid >= first; i--) {
		struct imap_msgent *e = &v->msgs[i - 1];

		if (e->uid >= v->uidnext || (e->flags & IMAP_ENT_RECENT))
			continue;
		e->flags |= IMAP_ENT_RECENT;
		v->recent++;
	}
}

int
imap_view_recent_count(struct imap_sess *s, const char *name,
    uint32_t *n_r)
{
	const struct kurir_storage_ops *st = imap_api->storage();

	*n_r = 0;
	if (s->view != NULL && (strcmp(s->view->name, name) == 0 ||
	    (strcasecmp(s->view->name, "INBOX") == 0 &&
	    strcasecmp(name, "INBOX") == 0))) {
		*n_r = s->view->recent;
		return KURIR_OK;
	}
	if (!KURIR_HAS(st, recent_count) || st->recent_count == NULL)
		return KURIR_OK;
	return st->recent_count(s->store, name, n_r);
}

void
imap_view_close(struct imap_sess *s)
{
	imap_idle_stop(s);
	imap_msginfo_forget(s);
	if (s->view != NULL)
		view_free(s->view);
	s->view = NULL;
}

struct sync_ctx {
	struct imap_view *v;
	uint32_t	 old_count;
	uint64_t	 maxmod;
	int		 failed;
};

static int
sync_changed(void *arg, const struct kurir_msg *m)
{
	struct sync_ctx *sc = arg;
	struct imap_view *v = sc->v;
	struct imap_msgent *e;
	uint32_t seq, flags = m->flags & IMAP_FLAG_MASK;
	const char *kw;

	if (m->modseq > sc->maxmod)
		sc->maxmod = m->modseq;
	kw = imap_view_intern(v, m->keywords);
	seq = imap_view_seq(v, m->uid);
	if (seq != 0) {
		e = &v->msgs[seq - 1];
		if ((e->flags & IMAP_FLAG_MASK) != flags || e->kw != kw) {
			e->flags = (e->flags & ~IMAP_FLAG_MASK) | flags |
			    IMAP_ENT_CHANGED;
			e->kw = kw;
		}
		return 0;
	}
	/* Unknown: new if above everything in the view (a UID below was
	 * expunged before we saw it). */
	if (v->count > 0 && m->uid < v->msgs[v->count - 1].uid) {
		/* may be out of order among new ones: check the new tail */
		uint32_t i;

		for (i = sc->old_count; i < v->count; i++)
			if (v->msgs[i].uid == m->uid)
				return 0;
		if (sc->old_count > 0 &&
		    m->uid < v->msgs[sc->old_count - 1].uid)
			return 0;
	}
	if (view_grow(v) < 0) {
		sc->failed = 1;
		return 0;
	}
	e = &v->msgs[v->count++];
	e->uid = m->uid;
	e->flags = flags;
	e->kw = kw;
	return 0;
}

static int
sync_expunged(void *arg, uint32_t uid)
{
	struct sync_ctx *sc = arg;
	struct imap_view *v = sc->v;
	uint32_t seq = imap_view_seq(v, uid);

	if (seq != 0 && !(v->msgs[seq - 1].flags & IMAP_ENT_EXPUNGED)) {
		v->msgs[seq - 1].flags |= IMAP_ENT_EXPUNGED;
		v->pending_expunge++;
	}
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct imap_msgent *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Drop expunged entries the client never heard of (beyond EXISTS). */
static void
drop_unannounced(struct imap_view *v)
{
	uint32_t i, o = v->exists_sent;

	for (i = v->exists_sent; i < v->count; i++) {
		if (v->msgs[i].flags & IMAP_ENT_EXPUNGED) {
			v->pending_expunge--;
			if (v->msgs[i].flags & IMAP_ENT_RECENT)
				v->recent--;
			continue;
		}
		v->msgs[o++] = v->msgs[i];
	}
	v->count = o;
}

static void
send_expunges(struct imap_sess *s)
{
	struct imap_view *v = s->view;
	uint32_t i, o, n = 0;

	for (i = v->exists_sent; i-- > 0;)
		if (v->msgs[i].flags & IMAP_ENT_EXPUNGED) {
			imap_printf(s, "* %u EXPUNGE\r\n", i + 1);
			n++;
		}
	for (i = 0, o = 0; i < v->count; i++) {
		if (!(v->msgs[i].flags & IMAP_ENT_EXPUNGED))
			v->msgs[o++] = v->msgs[i];
		else if (v->msgs[i].flags & IMAP_ENT_RECENT)
			v->recent--;
	}
	v->count = o;
	v->exists_sent -= n;
	v->pending_expunge = 0;
	if (n > 0)
		imap_msginfo_forget(s);
}

static void
send_flag_changes(struct imap_sess *s)
{
	struct imap_view *v = s->view;
	struct imap_str out;
	uint32_t i;

	imap_str_init(&out, 4096);
	for (i = 0; i < v->count; i++) {
		struct imap_msgent *e = &v->msgs[i];

		if (!(e->flags & IMAP_ENT_CHANGED))
			continue;
		e->flags &= ~IMAP_ENT_CHANGED;
		if (i >= v->exists_sent || (e->flags & IMAP_ENT_EXPUNGED))
			continue;
		out.len = 0;
		out.over = 0;
		imap_str_printf(&out, "* %u FETCH (UID %u FLAGS ", i + 1,
		    e->uid);
		imap_view_flags_str(e, &out);
		imap_str_adds(&out, ")\r\n");
		if (!out.over)
			imap_write(s, out.s, out.len);
	}
	imap_str_free(&out);
}

int
imap_view_sync(struct imap_sess *s, int allow_expunge)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	struct imap_view *v = s->view;
	struct kurir_mailbox_status ms;
	struct sync_ctx sc;
	int rc;

	if (v == NULL)
		return 0;
	memset(&ms, 0, sizeof(ms));
	if ((rc = st->mailbox_sync(v->mb, &ms)) != KURIR_OK)
		return rc;
	memset(&sc, 0, sizeof(sc));
	sc.v = v;
	sc.old_count = v->count;
	sc.maxmod = v->modseq;
	rc = st->changes_since(v->mb, v->modseq, sync_changed, sync_expunged,
	    &sc);
	if (rc != KURIR_OK)
		return rc;
	if (v->count > sc.old_count)
		qsort(v->msgs + sc.old_count, v->count - sc.old_count,
		    sizeof(*v->msgs), ent_cmp);
	v->modseq = ms.highestmodseq > sc.maxmod ? ms.highestmodseq :
	    sc.maxmod;
	if (ms.uidnext > v->uidnext) {
		v->uidnext = ms.uidnext;
		imap_view_claim_recent(v);
	}
	drop_unannounced(v);
	if (allow_expunge && v->pending_expunge > 0)
		send_expunges(s);
	/* RECENT goes with EXISTS or when we claimed more; an expunge
	 * lowers it silently (the client counts EXPUNGEs itself). */
	if (v->count != v->exists_sent) {
		imap_printf(s, "* %u EXISTS\r\n", v->count);
		v->exists_sent = v->count;
		if (v->recent != v->recent_sent)
			imap_printf(s, "* %u RECENT\r\n", v->recent);
	} else if (v->recent > v->recent_sent)
		imap_printf(s, "* %u RECENT\r\n", v->recent);
	v->recent_sent = v->recent;
	send_flag_changes(s);
	return 0;
}

void
imap_view_expunge_seq(struct imap_sess *s, uint32_t seq)
{
	struct imap_view *v = s->view;

	if (seq == 0 || seq > v->count)
		return;
	if (v->msgs[seq - 1].flags & IMAP_ENT_EXPUNGED)
		v->pending_expunge--;
	if (v->msgs[seq - 1].flags & IMAP_ENT_RECENT)
		v->recent--;
	if (seq <= v->exists_sent) {
		imap_printf(s, "* %u EXPUNGE\r\n", seq);
		v->exists_sent--;
	}
	memmove(&v->msgs[seq - 1], &v->msgs[seq],
	    (v->count - seq) * sizeof(*v->msgs));
	v->count--;
	imap_msginfo_forget(s);
}

static int
refresh_cb(void *arg, const struct kurir_msg *m)
{
	struct imap_view *v = arg;
	uint32_t seq = imap_view_seq(v, m->uid);

	if (seq != 0) {
		struct imap_msgent *e = &v->msgs[seq - 1];

		e->flags = (e->flags & ~IMAP_FLAG_MASK) |
		    (m->flags & IMAP_FLAG_MASK);
		e->kw = imap_view_intern(v, m->keywords);
	}
	return 0;
}

void
imap_view_refresh(struct imap_sess *s, const struct kurir_uid_range *set,
    size_t nset)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	size_t i;

	st->mailbox_sync(s->view->mb, NULL);
	for (i = 0; i < nset; i++)
		st->msg_list(s->view->mb, set[i].first, set[i].last,
		    refresh_cb, s->view);
}

int
imap_seqset_args(const char *set, struct imap_seq_range **r_r)
{
	size_t max = strlen(set) / 2 + 1;
	struct imap_seq_range *r;
	int n;

	if ((r = calloc(max, sizeof(*r))) == NULL)
		return -1;
	n = imap_seqset_parse(set, r, max);
	if (n < 0) {
		free(r);
		return -1;
	}
	*r_r = r;
	return n;
}

int
imap_view_match(struct imap_view *v, const struct imap_seq_range *r,
    size_t n, int uid, uint32_t idx)
{
	if (idx >= v->exists_sent)
		return 0;
	if (uid)
		return imap_seqset_contains(r, n, v->msgs[idx].uid);
	return imap_seqset_contains(r, n, idx + 1);
}

/* Resolve '*' and check sequence numbers against the view. */
static int
resolve(struct imap_view *v, struct imap_seq_range *r, size_t n, int uid)
{
	size_t i;

	if (uid) {
		uint32_t star = v->exists_sent > 0 ?
		    v->msgs[v->exists_sent - 1].uid : 0;

		imap_seqset_resolve(r, n, star);
		return 0;
	}
	for (i = 0; i < n; i++)
		if ((r[i].first != UINT32_MAX && r[i].first > v->exists_sent) ||
		    (r[i].last != UINT32_MAX && r[i].last > v->exists_sent))
			return -1;
	imap_seqset_resolve(r, n, v->exists_sent);
	return 0;
}

int
imap_view_uidset(struct imap_sess *s, const char *set, int uid,
    struct kurir_uid_range **ranges_r)
{
	struct imap_view *v = s->view;
	struct imap_seq_range *r;
	struct kurir_uid_range *out;
	uint32_t i, n = 0, open = 0;
	int nr;

	if ((nr = imap_seqset_args(set, &r)) < 0)
		return -1;
	if (resolve(v, r, (size_t)nr, uid) < 0) {
		free(r);
		return -1;
	}
	out = calloc(v->exists_sent + 1, sizeof(*out));
	if (out == NULL) {
		free(r);
		return -1;
	}
	for (i = 0; i < v->exists_sent; i++) {
		if (!(v->msgs[i].flags & IMAP_ENT_EXPUNGED) &&
		    imap_view_match(v, r, (size_t)nr, uid, i)) {
			if (open)
				out[n - 1].last = v->msgs[i].uid;
			else {
				out[n].first = out[n].last = v->msgs[i].uid;
				n++;
				open = 1;
			}
		} else
			open = 0;
	}
	free(r);
	*ranges_r = out;
	return (int)n;
}
