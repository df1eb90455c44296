/*
 * imap_fetch.c -- FETCH and UID FETCH as a resumable job.  Small items
 * are rendered into a per-message buffer; message bytes (BODY[...],
 * RFC822*) are streamed from storage in bounded chunks while the output
 * queue is below its high mark, and the job resumes from on_drain, so a
 * FETCH of any size never holds a whole message in memory.  Non-peek
 * body items set \Seen and report FLAGS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fetch.h"

#define STREAM_CHUNK	16384

struct fetch_job {
	struct imap_job	 job;
	struct fetch_item items[FETCH_MAX_ITEMS + 2];
	size_t		 nitems;
	struct imap_seq_range *set;
	size_t		 nset;
	uint32_t	 uid;		/* UID FETCH */
	uint32_t	 idx;		/* view index */
	uint32_t	 in_msg;
	uint32_t	 item;
	uint32_t	 add_flags;	/* \Seen was set: report FLAGS */
	uint32_t	 first;
	/* the message being written */
	uint32_t	 m_uid;
	uint64_t	 m_size;
	int64_t		 m_date;
	uint32_t	 m_found;
	/* streaming state */
	uint32_t	 streaming;
	uint64_t	 s_off;
	uint64_t	 s_left;
	uint32_t	 s_broken;	/* source vanished: pad */
	struct imap_str	 out;
	char		*buf;
	uint32_t	 any_missing;
};

static int
meta_cb(void *arg, const struct kurir_msg *m)
{
	struct fetch_job *fj = arg;

	fj->m_size = m->size;
	fj->m_date = m->internal_date;
	fj->m_found = 1;
	return 1;
}

static void
flush_out(struct imap_sess *s, struct fetch_job *fj)
{
	if (fj->out.len > 0 && !fj->out.over)
		imap_write(s, fj->out.s, fj->out.len);
	fj->out.len = 0;
	fj->out.over = 0;
}

static void
item_sep(struct fetch_job *fj)
{
	if (!fj->first)
		imap_str_addc(&fj->out, ' ');
	fj->first = 0;
}

/* Begin streaming [off, off + len) of the message as a literal. */
static void
stream_start(struct imap_sess *s, struct fetch_job *fj, uint64_t off,
    uint64_t len)
{
	imap_str_printf(&fj->out, "{%llu}\r\n", (unsigned long long)len);
	flush_out(s, fj);
	fj->streaming = 1;
	fj->s_off = off;
	fj->s_left = len;
	fj->s_broken = 0;
}

/* Returns 1 when the stream is done, 0 when the queue is full. */
static int
stream_more(struct imap_sess *s, struct fetch_job *fj)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	size_t n;
	int rc;

	while (fj->s_left > 0) {
		size_t want = fj->s_left < STREAM_CHUNK ? (size_t)fj->s_left :
		    STREAM_CHUNK;

		if (!imap_api->conn_writable(s->c))
			return 0;
		n = 0;
		if (!fj->s_broken) {
			rc = st->msg_read(s->view->mb, fj->m_uid, fj->s_off,
			    fj->buf, want, &n);
			if (rc != KURIR_OK)
				n = 0;
		}
		if (n == 0) {
			/* The literal size is out already: keep the
			 * protocol in step with padding. */
			fj->s_broken = 1;
			memset(fj->buf, ' ', want);
			n = want;
		}
		imap_write(s, fj->buf, n);
		fj->s_off += n;
		fj->s_left -= n;
	}
	fj->streaming = 0;
	return 1;
}

/* The region an item covers; -1 when the part does not exist. */
static int
item_region(struct imap_sess *s, struct fetch_job *fj,
    const struct fetch_item *it, const struct imap_msginfo *mi,
    uint64_t *off_r, uint64_t *len_r, int *msgpart_r)
{
	int p = 0, e;

	*msgpart_r = 0;
	if (it->npath > 0 && (p = imap_msginfo_part(mi, it->path, it->npath))
	    < 0)
		return -1;
	switch (it->spec) {
	case SP_NONE:
		if (it->npath == 0) {
			*off_r = 0;
			*len_r = fj->m_size;
		} else {
			*off_r = mi->parts[p].body_off;
			*len_r = mi->parts[p].body_len;
		}
		break;
	case SP_MIME:
		*off_r = mi->parts[p].hdr_off;
		*len_r = mi->parts[p].hdr_len;
		break;
	default:
		if ((e = imap_msginfo_message(mi, p)) < 0)
			return -1;
		*msgpart_r = e;
		if (it->spec == SP_TEXT) {
			*off_r = mi->parts[e].body_off;
			*len_r = mi->parts[e].body_len;
		} else {
			*off_r = mi->parts[e].hdr_off;
			*len_r = mi->parts[e].hdr_len;
		}
		break;
	}
	if (*off_r > fj->m_size)
		*off_r = fj->m_size;
	if (*len_r > fj->m_size - *off_r)
		*len_r = fj->m_size - *off_r;
	return 0;
}

static void
apply_partial(const struct fetch_item *it, uint64_t *off, uint64_t *len)
{
	if (!it->partial)
		return;
	if (it->p_off >= *len) {
		*off += *len;
		*len = 0;
		return;
	}
	*off += it->p_off;
	*len -= it->p_off;
	if (*len > it->p_len)
		*len = it->p_len;
}

static int
need_msginfo(const struct fetch_item *it)
{
	switch (it->kind) {
	case FI_ENVELOPE:
	case FI_BODY:
	case FI_BODYSTRUCTURE:
	case FI_RFC822_HEADER:
	case FI_RFC822_TEXT:
		return 1;
	case FI_SECTION:
		return it->npath > 0 || it->spec != SP_NONE;
	}
	return 0;
}

/* Write one item; returns 1 when done, 0 when streaming must wait. */
static int
item_write(struct imap_sess *s, struct fetch_job *fj,
    const struct fetch_item *it)
{
	struct imap_msgent *e = &s->view->msgs[fj->idx];
	const struct imap_msginfo *mi = NULL;
	char date[64];
	uint64_t off = 0, len = 0;
	int mp;

	if (need_msginfo(it) &&
	    (mi = imap_msginfo_get(s, fj->m_uid)) == NULL) {
		item_sep(fj);
		imap_str_printf(&fj->out, "%s NIL", it->label);
		fj->any_missing = 1;
		return 1;
	}
	item_sep(fj);
	switch (it->kind) {
	case FI_FLAGS:
		imap_str_adds(&fj->out, "FLAGS ");
		imap_view_flags_str(e, &fj->out);
		return 1;
	case FI_UID:
		imap_str_printf(&fj->out, "UID %u", fj->m_uid);
		return 1;
	case FI_INTERNALDATE:
		imap_date_str(fj->m_date, date, sizeof(date));
		imap_str_printf(&fj->out, "INTERNALDATE \"%s\"", date);
		return 1;
	case FI_SIZE:
		imap_str_printf(&fj->out, "RFC822.SIZE %llu",
		    (unsigned long long)fj->m_size);
		return 1;
	case FI_ENVELOPE:
		imap_str_adds(&fj->out, "ENVELOPE ");
		imap_str_add(&fj->out, mi->envelope, mi->env_len);
		return 1;
	case FI_BODY:
		imap_str_adds(&fj->out, "BODY ");
		imap_str_add(&fj->out, mi->body, mi->body_len);
		return 1;
	case FI_BODYSTRUCTURE:
		imap_str_adds(&fj->out, "BODYSTRUCTURE ");
		imap_str_add(&fj->out, mi->bodystructure, mi->bs_len);
		return 1;
	case FI_RFC822:
		imap_str_adds(&fj->out, "RFC822 ");
		stream_start(s, fj, 0, fj->m_size);
		return 0;
	case FI_RFC822_HEADER:
		imap_str_adds(&fj->out, "RFC822.HEADER ");
		off = mi->parts[0].hdr_off;
		len = mi->parts[0].hdr_len;
		stream_start(s, fj, off, len);
		return 0;
	case FI_RFC822_TEXT:
		imap_str_adds(&fj->out, "RFC822.TEXT ");
		off = mi->parts[0].body_off;
		len = mi->parts[0].body_len;
		if (off > fj->m_size)
			off = fj->m_size;
		if (len > fj->m_size - off)
			len = fj->m_size - off;
		stream_start(s, fj, off, len);
		return 0;
	}
	/* FI_SECTION */
	imap_str_printf(&fj->out, "%s ", it->label);
	if (item_region(s, fj, it, mi, &off, &len, &mp) < 0) {
		imap_str_adds(&fj->out, "NIL");
		return 1;
	}
	if (it->spec == SP_FIELDS || it->spec == SP_FIELDS_NOT) {
		struct imap_str f;
		uint64_t foff = 0, flen;

		imap_str_init(&f, (size_t)imap_conf.max_header_fetch + 2);
		imap_header_filter(s, fj->m_uid, off, len, it->fields,
		    it->spec == SP_FIELDS_NOT, &f);
		flen = f.len;
		apply_partial(it, &foff, &flen);
		imap_str_printf(&fj->out, "{%llu}\r\n",
		    (unsigned long long)flen);
		if (flen > 0)
			imap_str_add(&fj->out, f.s + foff, (size_t)flen);
		imap_str_free(&f);
		return 1;
	}
	apply_partial(it, &off, &len);
	stream_start(s, fj, off, len);
	return 0;
}

static int
sets_seen(const struct fetch_item *it)
{
	return (it->kind == FI_SECTION && !it->peek) ||
	    it->kind == FI_RFC822 || it->kind == FI_RFC822_TEXT;
}

/* Start a message: metadata, implicit \Seen, "* n FETCH (". */
static int
msg_begin(struct imap_sess *s, struct fetch_job *fj)
{
	struct imap_view *v = s->view;
	struct imap_msgent *e = &v->msgs[fj->idx];
	const struct kurir_storage_ops *st = imap_api->storage();
	size_t i;
	int seen = 0;

	fj->m_uid = e->uid;
	fj->m_size = 0;
	fj->m_date = 0;
	fj->m_found = 0;
	if (st->msg_list(v->mb, e->uid, e->uid, meta_cb, fj) < 0 ||
	    !fj->m_found) {
		/*
		 * Expunged by someone else, EXPUNGE not sent yet (RFC 2180
		 * 4.1): UID and FLAGS are still known from the view and are
		 * answered; anything needing the message is not, and the
		 * command ends in NO [EXPUNGEISSUED] (RFC 5530).
		 */
		for (i = 0; i < fj->nitems; i++)
			if (fj->items[i].kind != FI_UID &&
			    fj->items[i].kind != FI_FLAGS)
				break;
		if (i < fj->nitems) {
			fj->any_missing = 1;
			return -1;
		}
	}
	for (i = 0; i < fj->nitems; i++)
		seen |= sets_seen(&fj->items[i]);
	fj->add_flags = 0;
	if (seen && !v->readonly && !(e->flags & KURIR_FLAG_SEEN)) {
		struct kurir_uid_range r = { e->uid, e->uid };

		if (st->msg_flags(v->mb, &r, 1, KURIR_FLAGS_ADD,
		    KURIR_FLAG_SEEN, NULL, 0, NULL, NULL) == KURIR_OK) {
			e->flags |= KURIR_FLAG_SEEN;
			fj->add_flags = 1;
			for (i = 0; i < fj->nitems; i++)
				if (fj->items[i].kind == FI_FLAGS)
					fj->add_flags = 0;
		}
	}
	fj->out.len = 0;
	fj->out.over = 0;
	imap_str_printf(&fj->out, "* %u FETCH (", fj->idx + 1);
	fj->first = 1;
	fj->item = 0;
	fj->in_msg = 1;
	return 0;
}

static int
fetch_step(struct imap_sess *s, struct imap_job *j)
{
	struct fetch_job *fj = (struct fetch_job *)j;
	struct imap_view *v = s->view;

	while (fj->idx < v->exists_sent) {
		if (!fj->in_msg) {
			if (!imap_api->conn_writable(s->c))
				return 0;
			if (!imap_view_match(v, fj->set, fj->nset, fj->uid,
			    fj->idx) || msg_begin(s, fj) < 0) {
				fj->idx++;
				continue;
			}
		}
		while (fj->item < fj->nitems + fj->add_flags) {
			if (fj->streaming) {
				if (!stream_more(s, fj))
					return 0;
				fj->item++;
				continue;
			}
			if (fj->item == fj->nitems) {
				struct fetch_item fl;

				memset(&fl, 0, sizeof(fl));
				fl.kind = FI_FLAGS;
				item_write(s, fj, &fl);
				fj->item++;
				continue;
			}
			if (item_write(s, fj, &fj->items[fj->item]))
				fj->item++;
		}
		imap_str_adds(&fj->out, ")\r\n");
		flush_out(s, fj);
		fj->in_msg = 0;
		fj->idx++;
	}
	if (fj->any_missing) {
		if (fj->uid)
			imap_done(s, "NO", "[EXPUNGEISSUED] Some of the "
			    "requested messages no longer exist");
		else
			imap_done_noexpunge(s, "NO", "[EXPUNGEISSUED] Some of "
			    "the requested messages no longer exist");
	} else if (fj->uid)
		imap_done(s, "OK", "UID FETCH completed");
	else
		imap_done_noexpunge(s, "OK", "FETCH completed");
	return 1;
}

static void
fetch_free(struct imap_job *j)
{
	struct fetch_job *fj = (struct fetch_job *)j;

	imap_fetch_items_free(fj->items, fj->nitems);
	free(fj->set);
	free(fj->buf);
	imap_str_free(&fj->out);
	free(fj);
}

void
imap_cmd_fetch(struct imap_sess *s, struct imap_arg *a)
{
	struct fetch_job *fj;
	const char *err;
	size_t i;
	int n, has_uid = 0;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->next == NULL ||
	    a->next->next != NULL) {
		imap_done_noexpunge(s, "BAD", "FETCH needs a set and items");
		return;
	}
	if ((fj = calloc(1, sizeof(*fj))) == NULL) {
		imap_done_noexpunge(s, "NO", "[UNAVAILABLE] Out of memory");
		return;
	}
	fj->job.step = fetch_step;
	fj->job.free = fetch_free;
	fj->uid = s->uid;
	n = imap_fetch_parse_items(a->next, fj->items, FETCH_MAX_ITEMS, &err);
	if (n < 0) {
		fetch_free(&fj->job);
		imap_done_noexpunge(s, "BAD", "%s", err);
		return;
	}
	fj->nitems = (size_t)n;
	for (i = 0; i < fj->nitems; i++)
		has_uid |= fj->items[i].kind == FI_UID;
	if (fj->uid && !has_uid) {
		/* UID FETCH always reports the UID, first */
		memmove(&fj->items[1], &fj->items[0],
		    fj->nitems * sizeof(fj->items[0]));
		memset(&fj->items[0], 0, sizeof(fj->items[0]));
		fj->items[0].kind = FI_UID;
		fj->nitems++;
	}
	n = imap_seqset_args(a->str, &fj->set);
	if (n < 0) {
		fetch_free(&fj->job);
		imap_done_noexpunge(s, "BAD", "Invalid sequence set");
		return;
	}
	fj->nset = (size_t)n;
	if (fj->uid)
		imap_seqset_resolve(fj->set, fj->nset, s->view->exists_sent > 0 ?
		    s->view->msgs[s->view->exists_sent - 1].uid : 0);
	else {
		for (i = 0; i < fj->nset; i++)
			if ((fj->set[i].first != UINT32_MAX &&
			    fj->set[i].first > s->view->exists_sent) ||
			    (fj->set[i].last != UINT32_MAX &&
			    fj->set[i].last > s->view->exists_sent)) {
				fetch_free(&fj->job);
				imap_done_noexpunge(s, "BAD",
				    "Invalid sequence number");
				return;
			}
		imap_seqset_resolve(fj->set, fj->nset, s->view->exists_sent);
	}
	imap_str_init(&fj->out, (size_t)imap_conf.max_cache_blob +
	    (size_t)imap_conf.max_header_fetch + 65536);
	if ((fj->buf = malloc(STREAM_CHUNK)) == NULL) {
		fetch_free(&fj->job);
		imap_done_noexpunge(s, "NO", "[UNAVAILABLE] Out of memory");
		return;
	}
	imap_job_start(s, &fj->job);
}
