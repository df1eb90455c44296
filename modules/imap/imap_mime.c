/*
 * imap_mime.c -- the streaming MIME structure parser: splits the input
 * into lines (keeping at most one bounded line), tracks header fields of
 * every part, and opens and closes parts on boundary lines.  A boundary
 * of an outer multipart closes every part inside it, so a missing final
 * boundary or a truncated message still gives a well-formed tree.  Part
 * offsets follow RFC 2046: the CRLF before a boundary belongs to the
 * boundary, not to the part.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"

#define MIME_S_HEADER	1
#define MIME_S_BODY	2
#define MIME_S_PREAMBLE	3
#define MIME_S_EPILOGUE	4

static const char *const field_names[MIME_F_NUM] = {
	"content-type", "content-transfer-encoding", "content-id",
	"content-description", "content-disposition", "content-language",
	"content-location", "content-md5", "date", "subject", "from",
	"sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
};

static uint32_t
part_new(struct imap_mime *m, uint32_t parent, uint32_t flags,
    uint64_t hdr_off)
{
	struct mime_part *p;
	uint32_t idx;

	if (m->nparts >= m->lim.max_parts)
		return MIME_NONE;
	if ((m->nparts & (m->nparts - 1)) == 0 && m->nparts >= 8) {
		/* grow at powers of two */
		p = reallocarray(m->parts, (size_t)m->nparts * 2, sizeof(*p));
		if (p == NULL) {
			m->failed = 1;
			return MIME_NONE;
		}
		m->parts = p;
	}
	idx = m->nparts++;
	p = &m->parts[idx];
	memset(p, 0, sizeof(*p));
	p->flags = flags;
	p->parent = parent;
	p->first_child = p->last_child = p->next = MIME_NONE;
	p->hdr_off = hdr_off;
	p->body_off = hdr_off;
	if (parent != MIME_NONE) {
		struct mime_part *pp = &m->parts[parent];

		p->depth = pp->depth + 1;
		if (pp->last_child == MIME_NONE)
			pp->first_child = idx;
		else
			m->parts[pp->last_child].next = idx;
		pp->last_child = idx;
	}
	return idx;
}

int
imap_mime_init(struct imap_mime *m, const struct imap_mime_limits *l)
{
	memset(m, 0, sizeof(*m));
	m->lim = *l;
	if (m->lim.max_parts < 1)
		m->lim.max_parts = 1;
	m->parts = calloc(8, sizeof(*m->parts));
	m->bnd = calloc(m->lim.max_depth + 1, sizeof(*m->bnd));
	m->field = malloc((size_t)m->lim.max_header_value + 1);
	if (m->parts == NULL || m->bnd == NULL || m->field == NULL) {
		imap_mime_free(m);
		return -1;
	}
	part_new(m, MIME_NONE, MIME_P_MESSAGE, 0);
	m->cur = 0;
	m->state = MIME_S_HEADER;
	m->field_part = MIME_NONE;
	return 0;
}

void
imap_mime_free(struct imap_mime *m)
{
	free(m->parts);
	free(m->bnd);
	free(m->field);
	free(m->vals);
	m->parts = NULL;
	m->bnd = NULL;
	m->field = NULL;
	m->vals = NULL;
}

const char *
imap_mime_value(struct imap_mime *m, uint32_t part, int f, size_t *len_r)
{
	struct mime_part *p = &m->parts[part];

	if (p->f_off[f] == 0)
		return NULL;
	*len_r = p->f_len[f];
	return m->vals + p->f_off[f] - 1;
}

static void
value_store(struct imap_mime *m, uint32_t part, int f, const char *v,
    size_t len)
{
	struct mime_part *p = &m->parts[part];
	char *n;

	if (p->f_off[f] != 0)
		return;		/* the first occurrence wins */
	if (len > m->lim.max_values - m->vals_len)
		return;		/* over the budget: left out */
	if ((n = realloc(m->vals, m->vals_len + len + 1)) == NULL) {
		m->failed = 1;
		return;
	}
	m->vals = n;
	memcpy(m->vals + m->vals_len, v, len);
	m->vals[m->vals_len + len] = '\0';
	p->f_off[f] = (uint32_t)m->vals_len + 1;
	p->f_len[f] = (uint32_t)len;
	m->vals_len += len + 1;
}

static void
field_flush(struct imap_mime *m)
{
	char *colon, *v, *end;
	size_t nlen;
	int f;

	if (m->field_part == MIME_NONE)
		return;
	colon = memchr(m->field, ':', m->field_len);
	if (colon == NULL)
		goto out;
	nlen = (size_t)(colon - m->field);
	while (nlen > 0 && (m->field[nlen - 1] == ' ' ||
	    m->field[nlen - 1] == '\t'))
		nlen--;
	v = colon + 1;
	end = m->field + m->field_len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (f = 0; f < MIME_F_NUM; f++) {
		if (strlen(field_names[f]) == nlen &&
		    strncasecmp(m->field, field_names[f], nlen) == 0) {
			value_store(m, m->field_part, f, v, (size_t)(end - v));
			break;
		}
	}
out:
	m->field_part = MIME_NONE;
	m->field_len = 0;
}

static void
field_append(struct imap_mime *m, const char *s, size_t len)
{
	size_t room = m->lim.max_header_value - m->field_len;

	if (len > room)
		len = room;
	memcpy(m->field + m->field_len, s, len);
	m->field_len += len;
}

static void
header_line(struct imap_mime *m, const char *s, size_t len)
{
	if (s[0] == ' ' || s[0] == '\t') {
		if (m->field_part != MIME_NONE)
			field_append(m, s, len);
		return;
	}
	field_flush(m);
	if (memchr(s, ':', len) == NULL)
		return;		/* not a header field: ignored */
	m->field_part = m->cur;
	field_append(m, s, len);
}

/* Lower-case copy of the media type's two halves. */
static void
content_type(struct imap_mime *m, uint32_t part, char *type, size_t tcap,
    char *sub, size_t scap, char *boundary, size_t bcap)
{
	struct mime_param prm[16];
	const char *v, *tok, *slash;
	char scratch[1024];
	size_t len, tlen, n, i;

	type[0] = sub[0] = boundary[0] = '\0';
	if ((v = imap_mime_value(m, part, MIME_F_CTYPE, &len)) == NULL)
		return;
	n = mime_parse_params(v, len, &tok, &tlen, prm, 16, scratch,
	    sizeof(scratch));
	slash = memchr(tok, '/', tlen);
	if (slash == NULL)
		return;
	for (i = 0; i < (size_t)(slash - tok) && i + 1 < tcap; i++)
		type[i] = (char)tolower((unsigned char)tok[i]);
	type[i] = '\0';
	tlen -= (size_t)(slash - tok) + 1;
	for (i = 0; i < tlen && i + 1 < scap; i++)
		sub[i] = (char)tolower((unsigned char)slash[1 + i]);
	sub[i] = '\0';
	for (i = 0; i < n; i++) {
		if (prm[i].name_len == 8 &&
		    strncasecmp(prm[i].name, "boundary", 8) == 0 &&
		    prm[i].value_len > 0 && prm[i].value_len < bcap) {
			memcpy(boundary, prm[i].value, prm[i].value_len);
			boundary[prm[i].value_len] = '\0';
			break;
		}
	}
}

static int
encoded_cte(struct imap_mime *m, uint32_t part)
{
	const char *v;
	size_t len;

	if ((v = imap_mime_value(m, part, MIME_F_CTE, &len)) == NULL)
		return 0;
	return (len == 6 && strncasecmp(v, "base64", 6) == 0) ||
	    (len == 16 && strncasecmp(v, "quoted-printable", 16) == 0);
}

/* In a multipart/digest a part without Content-Type is message/rfc822. */
static int
parent_is_digest(struct imap_mime *m, uint32_t part)
{
	char t[32], s[32], b[8];
	uint32_t parent = m->parts[part].parent;

	if (parent == MIME_NONE ||
	    !(m->parts[parent].flags & MIME_P_MULTIPART))
		return 0;
	content_type(m, parent, t, sizeof(t), s, sizeof(s), b, sizeof(b));
	return strcmp(s, "digest") == 0;
}

static void
header_end(struct imap_mime *m, uint64_t body_off)
{
	struct mime_part *p = &m->parts[m->cur];
	char type[32], sub[64], bnd[sizeof(m->bnd[0].b) + 1];
	uint32_t child;

	field_flush(m);
	p->flags |= MIME_P_HDRDONE;
	p->hdr_len = body_off - p->hdr_off;
	p->body_off = body_off;
	p->body_line = m->nlines;
	m->state = MIME_S_BODY;
	content_type(m, m->cur, type, sizeof(type), sub, sizeof(sub), bnd,
	    sizeof(bnd));
	if (type[0] == '\0' && parent_is_digest(m, m->cur)) {
		strcpy(type, "message");
		strcpy(sub, "rfc822");
	}
	if (p->depth >= m->lim.max_depth)
		return;
	if (strcmp(type, "multipart") == 0 && bnd[0] != '\0' &&
	    m->nbnd < m->lim.max_depth) {
		struct mime_boundary *b = &m->bnd[m->nbnd++];

		b->part = m->cur;
		b->len = (uint32_t)strlen(bnd);
		memcpy(b->b, bnd, b->len);
		p->flags |= MIME_P_MULTIPART;
		m->state = MIME_S_PREAMBLE;
		return;
	}
	if (strcmp(type, "message") == 0 && strcmp(sub, "rfc822") == 0 &&
	    !encoded_cte(m, m->cur)) {
		child = part_new(m, m->cur, MIME_P_MESSAGE, body_off);
		if (child == MIME_NONE)
			return;
		m->parts[m->cur].flags |= MIME_P_RFC822;
		m->cur = child;
		m->state = MIME_S_HEADER;
	}
}

/* Close a part whose body ends at `end`; `idx` is the index of the line
 * that ends it (a boundary) or the line count at EOF. */
static void
part_close(struct imap_mime *m, uint32_t part, uint64_t end, uint64_t idx,
    int eof)
{
	struct mime_part *p = &m->parts[part];
	uint64_t lines;

	if (!(p->flags & MIME_P_HDRDONE)) {
		if (m->field_part == part)
			field_flush(m);
		if (end < p->hdr_off)
			end = p->hdr_off;
		p->hdr_len = end - p->hdr_off;
		p->body_off = end;
		p->body_line = idx;
		p->flags |= MIME_P_HDRDONE;
	}
	if (end < p->body_off)
		end = p->body_off;
	p->body_len = end - p->body_off;
	lines = idx > p->body_line ? idx - p->body_line : 0;
	/* The line before a boundary is cut at its CRLF: an empty one is
	 * not part of the body at all. */
	if (!eof && lines > 0 && m->prev_content == 0)
		lines--;
	p->lines = lines > UINT32_MAX ? UINT32_MAX : (uint32_t)lines;
}

static uint32_t
boundary_match(struct imap_mime *m, const char *s, size_t len, int *close_r)
{
	uint32_t i;

	if (len < 3 || s[0] != '-' || s[1] != '-')
		return MIME_NONE;
	for (i = m->nbnd; i-- > 0;) {
		struct mime_boundary *b = &m->bnd[i];
		const char *r;
		size_t rlen;

		if (len - 2 < b->len || memcmp(s + 2, b->b, b->len) != 0)
			continue;
		r = s + 2 + b->len;
		rlen = len - 2 - b->len;
		*close_r = 0;
		if (rlen >= 2 && r[0] == '-' && r[1] == '-') {
			*close_r = 1;
			r += 2;
			rlen -= 2;
		}
		while (rlen > 0 && (*r == ' ' || *r == '\t')) {
			r++;
			rlen--;
		}
		if (rlen == 0)
			return i;
	}
	return MIME_NONE;
}

static void
boundary_line(struct imap_mime *m, uint32_t bi, int close, uint64_t start,
    uint64_t next, uint64_t idx)
{
	uint32_t mp = m->bnd[bi].part, n, child;
	uint64_t end;

	end = start >= m->prev_eol ? start - m->prev_eol : start;
	for (n = m->cur; n != mp && n != MIME_NONE; n = m->parts[n].parent)
		part_close(m, n, end, idx, 0);
	if (m->field_part != MIME_NONE)
		field_flush(m);
	if (close) {
		m->nbnd = bi;
		m->cur = mp;
		m->state = MIME_S_EPILOGUE;
		return;
	}
	m->nbnd = bi + 1;
	child = part_new(m, mp, 0, next);
	if (child == MIME_NONE) {
		/* Too many parts: the rest stays inside the multipart. */
		m->cur = mp;
		m->state = MIME_S_PREAMBLE;
		return;
	}
	m->cur = child;
	m->state = MIME_S_HEADER;
}

static void
line_done(struct imap_mime *m, int has_lf)
{
	uint64_t total = m->line_total, content, idx, start = m->line_start;
	uint32_t eol = 0, bi;
	size_t kept = m->line_len;
	int close;

	if (has_lf)
		eol = m->line_cr ? 2 : 1;
	content = total - eol;
	if (kept > content)
		kept = (size_t)content;	/* the CR was kept */
	idx = m->nlines++;
	if (kept == content &&
	    (bi = boundary_match(m, m->line, kept, &close)) != MIME_NONE)
		boundary_line(m, bi, close, start, start + total, idx);
	else if (m->state == MIME_S_HEADER) {
		if (content == 0)
			header_end(m, start + total);
		else
			header_line(m, m->line, kept);
	}
	m->prev_eol = eol;
	m->prev_content = content > UINT32_MAX ? UINT32_MAX : (uint32_t)content;
	m->line_start = start + total;
	m->line_len = 0;
	m->line_total = 0;
	m->line_cr = 0;
}

void
imap_mime_feed(struct imap_mime *m, const char *buf, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl == NULL ? len : (size_t)(nl - buf);
		size_t room = sizeof(m->line) - m->line_len;
		size_t keep = n < room ? n : room;

		memcpy(m->line + m->line_len, buf, keep);
		m->line_len += keep;
		m->line_total += n;
		if (n > 0)
			m->line_cr = buf[n - 1] == '\r';
		m->off += n;
		if (nl == NULL)
			return;
		m->line_total++;
		m->off++;
		line_done(m, 1);
		buf += n + 1;
		len -= n + 1;
	}
}

void
imap_mime_finish(struct imap_mime *m)
{
	uint32_t n;

	if (m->line_total > 0) {
		m->line_cr = 0;
		line_done(m, 0);
	}
	field_flush(m);
	for (n = m->cur; n != MIME_NONE; n = m->parts[n].parent)
		part_close(m, n, m->off, m->nlines, 1);
}
