/*
 * imap_cmd_sel.c -- commands of the selected state that change messages:
 * CHECK, CLOSE, UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 4315),
 * STORE, COPY with COPYUID, and MOVE (RFC 6851).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "imap_flags.h"

void
imap_cmd_check(struct imap_sess *s, struct imap_arg *a)
{
	imap_done(s, "OK", "CHECK completed");
}

void
imap_cmd_unselect(struct imap_sess *s, struct imap_arg *a)
{
	imap_view_close(s);
	s->state = IMAP_ST_AUTH;
	imap_done(s, "OK", "UNSELECT completed");
}

/* UID ranges of the view's messages flagged \Deleted (and in `only`). */
static size_t
deleted_ranges(struct imap_view *v, const struct imap_seq_range *only,
    size_t nonly, struct kurir_uid_range *out)
{
	uint32_t i;
	size_t n = 0;
	int open = 0;

	for (i = 0; i < v->count; i++) {
		struct imap_msgent *e = &v->msgs[i];

		if (!(e->flags & IMAP_ENT_EXPUNGED) &&
		    (e->flags & KURIR_FLAG_DELETED) &&
		    (only == NULL || imap_seqset_contains(only, nonly, e->uid))) {
			if (open)
				out[n - 1].last = e->uid;
			else {
				out[n].first = out[n].last = e->uid;
				n++;
				open = 1;
			}
		} else
			open = 0;
	}
	return n;
}

static int
expunge_deleted(struct imap_sess *s, const struct imap_seq_range *only,
    size_t nonly, int report)
{
	struct imap_view *v = s->view;
	struct kurir_uid_range *set;
	size_t n, k;
	uint32_t i;
	int rc;

	if ((set = calloc(v->count + 1, sizeof(*set))) == NULL)
		return KURIR_E_NOMEM;
	n = deleted_ranges(v, only, nonly, set);
	rc = n == 0 ? KURIR_OK :
	    imap_api->storage()->msg_expunge(v->mb, set, n);
	if (rc == KURIR_OK && report) {
		/* highest first, so every number is valid when sent */
		for (i = v->count; i-- > 0;) {
			for (k = 0; k < n; k++)
				if (v->msgs[i].uid >= set[k].first &&
				    v->msgs[i].uid <= set[k].last)
					break;
			if (k < n)
				imap_view_expunge_seq(s, i + 1);
		}
	}
	free(set);
	return rc;
}

void
imap_cmd_close(struct imap_sess *s, struct imap_arg *a)
{
	if (!s->view->readonly)
		(void)expunge_deleted(s, NULL, 0, 0);
	imap_view_close(s);
	s->state = IMAP_ST_AUTH;
	imap_done(s, "OK", "CLOSE completed");
}

void
imap_cmd_expunge(struct imap_sess *s, struct imap_arg *a)
{
	struct imap_seq_range *only = NULL;
	int n = 0, rc;

	if (s->uid) {
		if (a == NULL || a->type != IMAP_ARG_ATOM ||
		    (n = imap_seqset_args(a->str, &only)) < 0) {
			imap_done(s, "BAD", "UID EXPUNGE needs a UID set");
			return;
		}
		imap_seqset_resolve(only, (size_t)n, s->view->count > 0 ?
		    s->view->msgs[s->view->count - 1].uid : 0);
	}
	if (s->view->readonly) {
		free(only);
		imap_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	/* learn of other sessions' flag changes first */
	imap_view_sync(s, 1);
	rc = expunge_deleted(s, only, (size_t)n, 1);
	free(only);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, "EXPUNGE");
		return;
	}
	imap_done(s, "OK", "EXPUNGE completed");
}

void
imap_cmd_store(struct imap_sess *s, struct imap_arg *a)
{
	struct imap_view *v = s->view;
	struct kurir_uid_range *set = NULL;
	struct imap_str kw, out;
	const char *item;
	uint32_t op, flags, i;
	int n, silent = 0, rc;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->next == NULL ||
	    a->next->type != IMAP_ARG_ATOM || a->next->next == NULL ||
	    a->next->next->next != NULL) {
		imap_done_noexpunge(s, "BAD", "STORE needs a set, an item and "
		    "flags");
		return;
	}
	item = a->next->str;
	if (*item == '+') {
		op = KURIR_FLAGS_ADD;
		item++;
	} else if (*item == '-') {
		op = KURIR_FLAGS_REMOVE;
		item++;
	} else
		op = KURIR_FLAGS_SET;
	if (strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = 1;
	else if (strcasecmp(item, "FLAGS") != 0) {
		imap_done_noexpunge(s, "BAD", "Unknown STORE item");
		return;
	}
	imap_str_init(&kw, 8192);
	if (imap_flags_parse(a->next->next, &flags, &kw) < 0) {
		imap_str_free(&kw);
		imap_done_noexpunge(s, "BAD", "Bad flag list");
		return;
	}
	if ((n = imap_view_uidset(s, a->str, s->uid, &set)) < 0) {
		imap_str_free(&kw);
		imap_done_noexpunge(s, "BAD", "Invalid sequence set");
		return;
	}
	if (v->readonly) {
		imap_str_free(&kw);
		free(set);
		imap_done_noexpunge(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	rc = n == 0 ? KURIR_OK : imap_api->storage()->msg_flags(v->mb, set,
	    (size_t)n, op, flags, kw.s != NULL ? kw.s : "", 0, NULL, NULL);
	imap_str_free(&kw);
	if (rc != KURIR_OK) {
		free(set);
		imap_done_storage_error(s, rc, "STORE");
		return;
	}
	imap_view_refresh(s, set, (size_t)n);
	imap_str_init(&out, 8192);
	for (i = 0; i < v->exists_sent && !silent; i++) {
		struct imap_msgent *e = &v->msgs[i];
		int k, hit = 0;

		for (k = 0; k < n && !hit; k++)
			hit = e->uid >= set[k].first && e->uid <= set[k].last;
		if (!hit || (e->flags & IMAP_ENT_EXPUNGED))
			continue;
		out.len = 0;
		out.over = 0;
		imap_str_printf(&out, "* %u FETCH (", i + 1);
		if (s->uid)
			imap_str_printf(&out, "UID %u ", e->uid);
		imap_str_adds(&out, "FLAGS ");
		imap_view_flags_str(e, &out);
		imap_str_adds(&out, ")\r\n");
		if (!out.over)
			imap_write(s, out.s, out.len);
	}
	imap_str_free(&out);
	free(set);
	imap_done_noexpunge(s, "OK", "STORE completed");
}

struct copy_ctx {
	struct imap_str	 src;
	struct imap_str	 dst;
	uint32_t	 last_src;
	uint32_t	 last_dst;
	uint32_t	 run;		/* a range is open */
};

static void
copy_close_run(struct copy_ctx *cc)
{
	if (cc->run > 1) {
		imap_str_printf(&cc->src, ":%u", cc->last_src);
		imap_str_printf(&cc->dst, ":%u", cc->last_dst);
	}
}

static int
copy_map(void *arg, uint32_t src, uint32_t dst)
{
	struct copy_ctx *cc = arg;

	if (cc->run > 0 && src == cc->last_src + 1 &&
	    dst == cc->last_dst + 1) {
		cc->last_src = src;
		cc->last_dst = dst;
		cc->run++;
		return 0;
	}
	if (cc->run > 0) {
		copy_close_run(cc);
		imap_str_addc(&cc->src, ',');
		imap_str_addc(&cc->dst, ',');
	}
	imap_str_printf(&cc->src, "%u", src);
	imap_str_printf(&cc->dst, "%u", dst);
	cc->last_src = src;
	cc->last_dst = dst;
	cc->run = 1;
	return 0;
}

static void
copy_common(struct imap_sess *s, struct imap_arg *a, int move)
{
	struct imap_view *v = s->view;
	struct kurir_uid_range *set = NULL;
	struct copy_ctx cc;
	char dest[IMAP_MBOX_MAX];
	uint32_t uidvalidity = 0, i;
	int n, rc, k;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->next == NULL ||
	    a->next->next != NULL) {
		imap_done(s, "BAD", "%s needs a set and a mailbox",
		    move ? "MOVE" : "COPY");
		return;
	}
	if (imap_arg_mailbox(s, a->next, dest, sizeof(dest)) < 0)
		return;
	if ((n = imap_view_uidset(s, a->str, s->uid, &set)) < 0) {
		imap_done(s, "BAD", "Invalid sequence set");
		return;
	}
	if (move && v->readonly) {
		free(set);
		imap_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (n == 0) {
		free(set);
		imap_done(s, "OK", "%s completed (nothing matched)",
		    move ? "MOVE" : "COPY");
		return;
	}
	memset(&cc, 0, sizeof(cc));
	imap_str_init(&cc.src, 1 << 20);
	imap_str_init(&cc.dst, 1 << 20);
	rc = imap_api->storage()->msg_copy(v->mb, set, (size_t)n, dest,
	    (uint32_t)move, &uidvalidity, copy_map, &cc);
	if (rc != KURIR_OK) {
		free(set);
		imap_str_free(&cc.src);
		imap_str_free(&cc.dst);
		if (rc == KURIR_E_NOTFOUND)
			imap_done(s, "NO", "[TRYCREATE] No such mailbox");
		else
			imap_done_storage_error(s, rc, move ? "MOVE" : "COPY");
		return;
	}
	copy_close_run(&cc);
	if (move) {
		if (cc.src.len > 0 && !cc.src.over && !cc.dst.over)
			imap_printf(s, "* OK [COPYUID %u %s %s] Moved\r\n",
			    uidvalidity, cc.src.s, cc.dst.s);
		for (i = v->count; i-- > 0;) {
			for (k = 0; k < n; k++)
				if (v->msgs[i].uid >= set[k].first &&
				    v->msgs[i].uid <= set[k].last)
					break;
			if (k < n)
				imap_view_expunge_seq(s, i + 1);
		}
		imap_done(s, "OK", "MOVE completed");
	} else if (cc.src.len > 0 && !cc.src.over && !cc.dst.over)
		imap_done(s, "OK", "[COPYUID %u %s %s] COPY completed",
		    uidvalidity, cc.src.s, cc.dst.s);
	else
		imap_done(s, "OK", "COPY completed");
	free(set);
	imap_str_free(&cc.src);
	imap_str_free(&cc.dst);
}

void
imap_cmd_copy(struct imap_sess *s, struct imap_arg *a)
{
	copy_common(s, a, 0);
}

void
imap_cmd_move(struct imap_sess *s, struct imap_arg *a)
{
	copy_common(s, a, 1);
}
