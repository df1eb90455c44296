/*
 * imap_msginfo.c -- the cache blob: written from a parsed MIME tree,
 * read back and checked (every index and offset) before use, and the
 * section-path walk of RFC 3501 section 6.4.5 over the part table.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"
#include "imap_msginfo.h"

int
imap_mime_serialize(struct imap_mime *m, struct imap_str *out, size_t max)
{
	struct imap_msginfo_hdr h;
	struct imap_str bs, body, env;
	uint32_t i;
	int rc = -1;

	imap_str_init(&bs, max);
	imap_str_init(&body, max);
	imap_str_init(&env, max);
	imap_mime_bodystructure(m, 0, 1, &bs);
	imap_mime_bodystructure(m, 0, 0, &body);
	imap_mime_envelope(m, 0, &env);
	if (bs.over || body.over || env.over || m->failed)
		goto out;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IMAP_MSGINFO_MAGIC, 4);
	h.nparts = m->nparts;
	h.bs_len = (uint32_t)bs.len;
	h.body_len = (uint32_t)body.len;
	h.env_len = (uint32_t)env.len;
	imap_str_add(out, &h, sizeof(h));
	for (i = 0; i < m->nparts; i++) {
		struct imap_part_rec r;
		struct mime_part *p = &m->parts[i];

		memset(&r, 0, sizeof(r));
		r.hdr_off = p->hdr_off;
		r.hdr_len = p->hdr_len;
		r.body_off = p->body_off;
		r.body_len = p->body_len;
		r.lines = p->lines;
		r.flags = p->flags;
		r.parent = p->parent;
		r.first_child = p->first_child;
		r.next = p->next;
		imap_str_add(out, &r, sizeof(r));
	}
	imap_str_add(out, bs.s, bs.len);
	imap_str_add(out, body.s, body.len);
	imap_str_add(out, env.s, env.len);
	rc = out->over ? -1 : 0;
out:
	imap_str_free(&bs);
	imap_str_free(&body);
	imap_str_free(&env);
	return rc;
}

static int
part_ok(const struct imap_part_rec *r, uint32_t n, uint32_t i)
{
	const struct imap_part_rec *p = &r[i];

	if (p->parent != MIME_NONE && p->parent >= i)
		return 0;	/* parents come first */
	if (p->first_child != MIME_NONE && (p->first_child <= i ||
	    p->first_child >= n))
		return 0;
	if (p->next != MIME_NONE && (p->next <= i || p->next >= n))
		return 0;
	if (p->hdr_off > UINT64_MAX / 2 || p->hdr_len > UINT64_MAX / 4 ||
	    p->body_off > UINT64_MAX / 2 || p->body_len > UINT64_MAX / 4)
		return 0;
	return 1;
}

int
imap_msginfo_load(struct imap_msginfo *mi, char *blob, size_t len)
{
	struct imap_msginfo_hdr h;
	size_t need;
	uint32_t i;

	memset(mi, 0, sizeof(*mi));
	mi->blob = blob;
	mi->blob_len = len;
	if (len < sizeof(h))
		return -1;
	memcpy(&h, blob, sizeof(h));
	if (memcmp(h.magic, IMAP_MSGINFO_MAGIC, 4) != 0 || h.nparts == 0 ||
	    h.nparts > (1u << 20))
		return -1;
	need = sizeof(h) + (size_t)h.nparts * sizeof(struct imap_part_rec) +
	    (size_t)h.bs_len + h.body_len + h.env_len;
	if (need != len)
		return -1;
	/* malloc'ed blobs are aligned for the records that follow the
	 * 24-byte header (8-byte aligned). */
	mi->parts = (const struct imap_part_rec *)(void *)(blob + sizeof(h));
	mi->nparts = h.nparts;
	for (i = 0; i < h.nparts; i++)
		if (!part_ok(mi->parts, h.nparts, i))
			return -1;
	mi->bodystructure = blob + sizeof(h) +
	    (size_t)h.nparts * sizeof(struct imap_part_rec);
	mi->bs_len = h.bs_len;
	mi->body = mi->bodystructure + h.bs_len;
	mi->body_len = h.body_len;
	mi->envelope = mi->body + h.body_len;
	mi->env_len = h.env_len;
	return 0;
}

void
imap_msginfo_free(struct imap_msginfo *mi)
{
	free(mi->blob);
	memset(mi, 0, sizeof(*mi));
}

static int
nth_child(const struct imap_msginfo *mi, int part, uint32_t n)
{
	uint32_t c = mi->parts[part].first_child;

	while (c != MIME_NONE && --n > 0)
		c = mi->parts[c].next;
	return c == MIME_NONE ? -1 : (int)c;
}

int
imap_msginfo_message(const struct imap_msginfo *mi, int part)
{
	const struct imap_part_rec *p = &mi->parts[part];

	if (p->flags & MIME_P_RFC822)
		return (int)p->first_child;
	if (part == 0)
		return 0;
	return -1;
}

int
imap_msginfo_part(const struct imap_msginfo *mi, const uint32_t *path,
    size_t npath)
{
	int cur = 0;
	size_t i;

	for (i = 0; i < npath; i++) {
		const struct imap_part_rec *p;

		if (path[i] == 0)
			return -1;
		/* Past a message/rfc822 part, numbers count inside the
		 * message it holds. */
		if (i > 0 && (mi->parts[cur].flags & MIME_P_RFC822))
			cur = (int)mi->parts[cur].first_child;
		p = &mi->parts[cur];
		if (p->flags & MIME_P_MULTIPART) {
			if ((cur = nth_child(mi, cur, path[i])) < 0)
				return -1;
		} else if (path[i] != 1 || !(p->flags & MIME_P_MESSAGE))
			return -1;
		/* else: part 1 of a single-part message is its body */
	}
	return cur;
}
