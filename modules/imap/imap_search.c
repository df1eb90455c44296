/*
 * imap_search.c -- SEARCH and UID SEARCH (RFC 3501 6.4.4): the search
 * program is parsed into a bounded tree, then evaluated per message with
 * the cheap tests first (flags, sizes, dates, sets) and message bytes
 * read only when a key needs them, in bounded chunks.  Strings are
 * compared as text (imap_textsearch.h): encoded words in headers and
 * the transfer encoding and charset of each body part are decoded, and
 * both sides are case-folded (CHARSET UTF-8 and US-ASCII).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap.h"
#include "imap_textsearch.h"

#define K_ALL		1
#define K_FLAG		2	/* flag set */
#define K_UNFLAG	3	/* flag clear */
#define K_NEW		4	/* \Recent and not \Seen */
#define K_KEYWORD	5
#define K_UNKEYWORD	6
#define K_BEFORE	7
#define K_ON		8
#define K_SINCE		9
#define K_SENTBEFORE	10
#define K_SENTON	11
#define K_SENTSINCE	12
#define K_LARGER	13
#define K_SMALLER	14
#define K_UID		15
#define K_SEQ		16
#define K_HEADER	17
#define K_BODY		18
#define K_TEXT		19
#define K_NOT		20
#define K_OR		21
#define K_AND		22

#define MAX_DEPTH	64
#define MAX_KEYS	4096

struct skey {
	uint32_t	 type;
	uint32_t	 flag;
	const char	*str;		/* into the command's strings */
	size_t		 len;
	const char	*field;
	int64_t		 day;
	uint64_t	 size;
	struct imap_seq_range *set;
	size_t		 nset;
	struct skey	*a;		/* NOT, OR, AND: first child */
	struct skey	*b;		/* OR: second; AND: via next */
	struct skey	*next;
	struct imap_textscan *ts;	/* string keys: the folded matcher */
};

struct sparse {
	struct imap_sess *s;
	int		 uid;
	size_t		 nkeys;
	const char	*err;
};

static const struct {
	const char	*name;
	uint32_t	 type;
	uint32_t	 flag;
} simple_keys[] = {
	{ "ALL", K_ALL, 0 },
	{ "ANSWERED", K_FLAG, KURIR_FLAG_ANSWERED },
	{ "DELETED", K_FLAG, KURIR_FLAG_DELETED },
	{ "DRAFT", K_FLAG, KURIR_FLAG_DRAFT },
	{ "FLAGGED", K_FLAG, KURIR_FLAG_FLAGGED },
	{ "SEEN", K_FLAG, KURIR_FLAG_SEEN },
	{ "UNANSWERED", K_UNFLAG, KURIR_FLAG_ANSWERED },
	{ "UNDELETED", K_UNFLAG, KURIR_FLAG_DELETED },
	{ "UNDRAFT", K_UNFLAG, KURIR_FLAG_DRAFT },
	{ "UNFLAGGED", K_UNFLAG, KURIR_FLAG_FLAGGED },
	{ "UNSEEN", K_UNFLAG, KURIR_FLAG_SEEN },
	{ "NEW", K_NEW, 0 },
	{ "RECENT", K_FLAG, IMAP_ENT_RECENT },
	{ "OLD", K_UNFLAG, IMAP_ENT_RECENT },
};

static const struct {
	const char	*name;
	uint32_t	 type;
	const char	*field;
} string_keys[] = {
	{ "BCC", K_HEADER, "Bcc" },
	{ "CC", K_HEADER, "Cc" },
	{ "FROM", K_HEADER, "From" },
	{ "SUBJECT", K_HEADER, "Subject" },
	{ "TO", K_HEADER, "To" },
	{ "BODY", K_BODY, NULL },
	{ "TEXT", K_TEXT, NULL },
	{ "KEYWORD", K_KEYWORD, NULL },
	{ "UNKEYWORD", K_UNKEYWORD, NULL },
};

static const struct {
	const char	*name;
	uint32_t	 type;
} date_keys[] = {
	{ "BEFORE", K_BEFORE }, { "ON", K_ON }, { "SINCE", K_SINCE },
	{ "SENTBEFORE", K_SENTBEFORE }, { "SENTON", K_SENTON },
	{ "SENTSINCE", K_SENTSINCE },
};

static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

static int64_t
days_from_civil(int y, int m, int d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m;
	tm.tm_mday = d;
	return (int64_t)timegm(&tm) / 86400;
}

/* "1-Feb-1994" */
static int
parse_date(const char *s, int64_t *day_r)
{
	char mon[4];
	int d, y, n = 0;
	const char *m;

	if (sscanf(s, "%2d-%3s-%4d%n", &d, mon, &y, &n) != 3 || s[n] != '\0')
		return -1;
	mon[0] = (char)tolower((unsigned char)mon[0]);
	mon[1] = (char)tolower((unsigned char)mon[1]);
	mon[2] = (char)tolower((unsigned char)mon[2]);
	if (strlen(mon) != 3 || (m = strstr(months, mon)) == NULL ||
	    (m - months) % 3 != 0 || d < 1 || d > 31 || y < 1900)
		return -1;
	*day_r = days_from_civil(y, (int)((m - months) / 3), d);
	return 0;
}

/* RFC 5322 Date: "[Day, ]1 Feb 1994 ..." -> day number */
static int
parse_header_date(const char *v, size_t len, int64_t *day_r)
{
	char buf[128], mon[4];
	const char *p, *m;
	int d, y;

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	p = strchr(buf, ',');
	p = p == NULL ? buf : p + 1;
	if (sscanf(p, "%d %3s %d", &d, mon, &y) != 3)
		return -1;
	mon[0] = (char)tolower((unsigned char)mon[0]);
	mon[1] = (char)tolower((unsigned char)mon[1]);
	mon[2] = (char)tolower((unsigned char)mon[2]);
	if ((m = strstr(months, mon)) == NULL || (m - months) % 3 != 0)
		return -1;
	if (y < 50)
		y += 2000;
	else if (y < 1000)
		y += 1900;
	*day_r = days_from_civil(y, (int)((m - months) / 3), d);
	return 0;
}

static struct skey *parse_key(struct sparse *sp, struct imap_arg **ap,
    int depth);

static struct skey *
key_new(struct sparse *sp, uint32_t type)
{
	struct skey *k;

	if (++sp->nkeys > MAX_KEYS) {
		sp->err = "Search program too large";
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		sp->err = "Out of memory";
		return NULL;
	}
	k->type = type;
	return k;
}

static void
key_free(struct skey *k)
{
	while (k != NULL) {
		struct skey *n = k->next;

		key_free(k->a);
		key_free(k->b);
		imap_textscan_free(k->ts);
		free(k->set);
		free(k);
		k = n;
	}
}

/* A list of keys ANDed together, until the end of `a`'s siblings. */
static struct skey *
parse_and(struct sparse *sp, struct imap_arg *a, int depth)
{
	struct skey *k, *last = NULL, *and;

	if ((and = key_new(sp, K_AND)) == NULL)
		return NULL;
	while (a != NULL) {
		if ((k = parse_key(sp, &a, depth + 1)) == NULL) {
			key_free(and);
			return NULL;
		}
		if (last == NULL)
			and->a = k;
		else
			last->next = k;
		last = k;
	}
	if (and->a == NULL) {
		sp->err = "Empty search program";
		key_free(and);
		return NULL;
	}
	return and;
}

static struct skey *
parse_key(struct sparse *sp, struct imap_arg **ap, int depth)
{
	struct imap_arg *a = *ap;
	struct skey *k;
	size_t i;
	int n;

	if (depth > MAX_DEPTH) {
		sp->err = "Search program nested too deep";
		return NULL;
	}
	if (a == NULL) {
		sp->err = "Missing search key";
		return NULL;
	}
	*ap = a->next;
	if (a->type == IMAP_ARG_LIST)
		return parse_and(sp, a->child, depth);
	if (a->type != IMAP_ARG_ATOM) {
		sp->err = "Bad search key";
		return NULL;
	}
	for (i = 0; i < sizeof(simple_keys) / sizeof(simple_keys[0]); i++)
		if (strcasecmp(a->str, simple_keys[i].name) == 0) {
			if ((k = key_new(sp, simple_keys[i].type)) != NULL)
				k->flag = simple_keys[i].flag;
			return k;
		}
	for (i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++)
		if (strcasecmp(a->str, string_keys[i].name) == 0) {
			struct imap_arg *v = a->next;

			if (!imap_arg_is_string(v)) {
				sp->err = "Missing search string";
				return NULL;
			}
			*ap = v->next;
			if ((k = key_new(sp, string_keys[i].type)) == NULL)
				return NULL;
			k->field = string_keys[i].field;
			k->str = v->str;
			k->len = v->len;
			if (k->type != K_KEYWORD && k->type != K_UNKEYWORD)
				k->ts = imap_textscan_new(v->str, v->len);
			return k;
		}
	for (i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++)
		if (strcasecmp(a->str, date_keys[i].name) == 0) {
			struct imap_arg *v = a->next;
			int64_t day;

			if (!imap_arg_is_string(v) || parse_date(v->str,
			    &day) < 0) {
				sp->err = "Bad search date";
				return NULL;
			}
			*ap = v->next;
			if ((k = key_new(sp, date_keys[i].type)) != NULL)
				k->day = day;
			return k;
		}
	if (strcasecmp(a->str, "LARGER") == 0 ||
	    strcasecmp(a->str, "SMALLER") == 0) {
		struct imap_arg *v = a->next;
		char *end;
		unsigned long long sz;

		if (v == NULL || v->type != IMAP_ARG_ATOM ||
		    !isdigit((unsigned char)v->str[0])) {
			sp->err = "Bad search size";
			return NULL;
		}
		sz = strtoull(v->str, &end, 10);
		if (*end != '\0') {
			sp->err = "Bad search size";
			return NULL;
		}
		*ap = v->next;
		k = key_new(sp, toupper((unsigned char)a->str[0]) == 'L' ?
		    K_LARGER : K_SMALLER);
		if (k != NULL)
			k->size = sz;
		return k;
	}
	if (strcasecmp(a->str, "HEADER") == 0) {
		struct imap_arg *f = a->next, *v;

		if (!imap_arg_is_string(f) || !imap_arg_is_string(f->next)) {
			sp->err = "HEADER needs a field and a string";
			return NULL;
		}
		v = f->next;
		*ap = v->next;
		if ((k = key_new(sp, K_HEADER)) == NULL)
			return NULL;
		k->field = f->str;
		k->str = v->str;
		k->len = v->len;
		k->ts = imap_textscan_new(v->str, v->len);
		return k;
	}
	if (strcasecmp(a->str, "NOT") == 0) {
		if ((k = key_new(sp, K_NOT)) == NULL)
			return NULL;
		if ((k->a = parse_key(sp, ap, depth + 1)) == NULL) {
			key_free(k);
			return NULL;
		}
		return k;
	}
	if (strcasecmp(a->str, "OR") == 0) {
		if ((k = key_new(sp, K_OR)) == NULL)
			return NULL;
		if ((k->a = parse_key(sp, ap, depth + 1)) == NULL ||
		    (k->b = parse_key(sp, ap, depth + 1)) == NULL) {
			key_free(k);
			return NULL;
		}
		return k;
	}
	if (strcasecmp(a->str, "UID") == 0) {
		struct imap_arg *v = a->next;

		if (v == NULL || v->type != IMAP_ARG_ATOM) {
			sp->err = "UID needs a set";
			return NULL;
		}
		*ap = v->next;
		a = v;
		if ((k = key_new(sp, K_UID)) == NULL)
			return NULL;
	} else if ((k = key_new(sp, K_SEQ)) == NULL)
		return NULL;
	if ((n = imap_seqset_args(a->str, &k->set)) < 0) {
		sp->err = "Unknown search key";
		key_free(k);
		return NULL;
	}
	k->nset = (size_t)n;
	if (k->type == K_UID)
		imap_seqset_resolve(k->set, k->nset, sp->s->view->count > 0 ?
		    sp->s->view->msgs[sp->s->view->count - 1].uid : 0);
	else
		imap_seqset_resolve(k->set, k->nset, sp->s->view->exists_sent);
	return k;
}

/* ---- evaluation ---------------------------------------------------- */

struct seval {
	struct imap_sess *s;
	uint32_t	 idx;
	struct imap_msgent *e;
	uint32_t	 have_meta;
	uint64_t	 size;
	int64_t		 date;
	uint32_t	 have_hdr;
	struct imap_str	 hdr;
	char		*buf;
};

static int
meta_cb(void *arg, const struct kurir_msg *m)
{
	struct seval *ev = arg;

	ev->size = m->size;
	ev->date = m->internal_date;
	ev->have_meta = 1;
	return 1;
}

static void
need_meta(struct seval *ev)
{
	if (ev->have_meta)
		return;
	imap_api->storage()->msg_list(ev->s->view->mb, ev->e->uid, ev->e->uid,
	    meta_cb, ev);
	ev->have_meta = 1;
}

static void
need_header(struct seval *ev)
{
	const struct imap_msginfo *mi;

	if (ev->have_hdr)
		return;
	ev->have_hdr = 1;
	imap_str_init(&ev->hdr, (size_t)imap_conf.max_header_fetch);
	if ((mi = imap_msginfo_get(ev->s, ev->e->uid)) == NULL)
		return;
	imap_msg_read_region(ev->s, ev->e->uid, mi->parts[0].hdr_off,
	    mi->parts[0].hdr_len, &ev->hdr);
}

/* The Date: field of the message, as a day number. */
static int
header_date(struct seval *ev, int64_t *day_r)
{
	struct mime_field f;
	const char *p, *end, *v;
	char val[8192];
	size_t vl = 0;

	need_header(ev);
	if (ev->hdr.s == NULL)
		return 0;
	p = ev->hdr.s;
	end = p + ev->hdr.len;
	while (mime_next_field(&p, end, &f)) {
		if (f.name_len != 4 || strncasecmp(f.start, "Date", 4) != 0)
			continue;
		for (v = f.value; v < f.value + f.value_len &&
		    vl < sizeof(val); v++)
			if (*v != '\r' && *v != '\n')
				val[vl++] = *v;
		return parse_header_date(val, vl, day_r) == 0;
	}
	return 0;
}

/* Does a field of the header block h (those called name, or any whole
 * field with name NULL) contain the key's string, decoded? */
static int
fields_match(const char *h, size_t hlen, const char *name,
    const struct skey *k)
{
	struct mime_field f;
	struct imap_str val;
	const char *p = h, *end = h + hlen;
	size_t namelen = name != NULL ? strlen(name) : 0;
	int hit = 0;

	if (h == NULL || k->ts == NULL)
		return 0;
	while (!hit && mime_next_field(&p, end, &f)) {
		if (name != NULL && (f.name_len != namelen ||
		    strncasecmp(f.start, name, namelen) != 0))
			continue;
		imap_str_init(&val, f.len + 1);
		if (name != NULL)
			imap_text_hdr_decode(f.value, f.value_len, &val);
		else
			imap_text_hdr_decode(f.start, f.len, &val);
		imap_textscan_part(k->ts, NULL, 0, NULL, 0);
		hit = imap_textscan_feed(k->ts, val.s, val.len) ||
		    imap_textscan_end(k->ts);
		imap_str_free(&val);
	}
	return hit;
}

/* Bytes off..off+len of the message through the key's matcher, as one
 * part with the given transfer encoding and charset. */
static int
region_match(struct seval *ev, uint64_t off, uint64_t len,
    const struct skey *k, const char *cte, size_t cte_len, const char *cs,
    size_t cs_len)
{
	const size_t chunk = 65536;
	size_t n;

	if (k->ts == NULL)
		return 0;
	if (ev->buf == NULL && (ev->buf = malloc(chunk)) == NULL)
		return 0;
	imap_textscan_part(k->ts, cte, cte_len, cs, cs_len);
	while (len > 0) {
		size_t want = len < chunk ? (size_t)len : chunk;

		if (imap_api->storage()->msg_read(ev->s->view->mb, ev->e->uid,
		    off, ev->buf, want, &n) != KURIR_OK || n == 0)
			break;
		if (imap_textscan_feed(k->ts, ev->buf, n))
			return 1;
		off += n;
		len -= n;
		if (n < want)
			break;
	}
	return imap_textscan_end(k->ts);
}

/* One body part's text: decoded as its own MIME header says. */
static int
part_text_match(struct seval *ev, const struct imap_part_rec *pr,
    const struct imap_str *h, const struct skey *k)
{
	struct mime_field f;
	struct mime_param prm[8];
	const char *p = h->s, *end = h->s + h->len, *tok, *cte = NULL;
	const char *cs = NULL;
	char scratch[256], scratch2[64];
	size_t tok_len, cte_len = 0, cs_len = 0, n, i;

	while (p != NULL && mime_next_field(&p, end, &f)) {
		if (f.name_len == 25 && strncasecmp(f.start,
		    "Content-Transfer-Encoding", 25) == 0) {
			(void)mime_parse_params(f.value, f.value_len, &cte,
			    &cte_len, prm, 0, scratch2, sizeof(scratch2));
		} else if (f.name_len == 12 && strncasecmp(f.start,
		    "Content-Type", 12) == 0) {
			n = mime_parse_params(f.value, f.value_len, &tok,
			    &tok_len, prm, 8, scratch, sizeof(scratch));
			for (i = 0; i < n; i++)
				if (prm[i].name_len == 7 && strncasecmp(
				    prm[i].name, "charset", 7) == 0) {
					cs = prm[i].value;
					cs_len = prm[i].value_len;
				}
		}
	}
	return region_match(ev, pr->body_off, pr->body_len, k, cte, cte_len,
	    cs, cs_len);
}

/* BODY: the decoded text of every leaf part and the header fields of
 * every embedded message. */
static int
body_match(struct seval *ev, const struct skey *k)
{
	const struct imap_msginfo *mi;
	struct imap_part_rec pr;
	struct imap_str h;
	uint32_t i, nparts;
	uint64_t hlen;
	int hit = 0;

	if ((mi = imap_msginfo_get(ev->s, ev->e->uid)) == NULL)
		return 0;
	nparts = mi->nparts;
	for (i = 0; i < nparts && !hit; i++) {
		/* a copy: reading message bytes may reload the part table */
		if ((mi = imap_msginfo_get(ev->s, ev->e->uid)) == NULL ||
		    i >= mi->nparts)
			break;
		pr = mi->parts[i];
		if (i == 0) {
			need_header(ev);
			h = ev->hdr;
		} else {
			hlen = pr.hdr_len < imap_conf.max_header_fetch ?
			    pr.hdr_len : imap_conf.max_header_fetch;
			imap_str_init(&h, (size_t)hlen + 1);
			imap_msg_read_region(ev->s, ev->e->uid, pr.hdr_off,
			    hlen, &h);
		}
		if (i > 0 && (pr.flags & MIME_P_MESSAGE))
			hit = fields_match(h.s, h.len, NULL, k);
		if (!hit && !(pr.flags & (MIME_P_MULTIPART | MIME_P_RFC822)))
			hit = part_text_match(ev, &pr, &h, k);
		if (i > 0)
			imap_str_free(&h);
	}
	return hit;
}

static int64_t
day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

static int
eval(struct seval *ev, const struct skey *k)
{
	const struct skey *c;
	int64_t day;

	switch (k->type) {
	case K_ALL:
		return 1;
	case K_NEW:
		return (ev->e->flags & (IMAP_ENT_RECENT | KURIR_FLAG_SEEN)) ==
		    IMAP_ENT_RECENT;
	case K_FLAG:
		return (ev->e->flags & k->flag) != 0;
	case K_UNFLAG:
		return (ev->e->flags & k->flag) == 0;
	case K_KEYWORD:
	case K_UNKEYWORD: {
		const char *p = ev->e->kw;
		int found = 0;

		while (p != NULL && *p != '\0' && !found) {
			const char *sp = strchr(p, ' ');
			size_t n = sp == NULL ? strlen(p) : (size_t)(sp - p);

			found = n == k->len && strncasecmp(p, k->str, n) == 0;
			p = sp == NULL ? NULL : sp + 1;
		}
		return k->type == K_KEYWORD ? found : !found;
	}
	case K_BEFORE:
	case K_ON:
	case K_SINCE:
		need_meta(ev);
		day = day_of(ev->date);
		return k->type == K_BEFORE ? day < k->day :
		    k->type == K_ON ? day == k->day : day >= k->day;
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		if (!header_date(ev, &day))
			return 0;
		return k->type == K_SENTBEFORE ? day < k->day :
		    k->type == K_SENTON ? day == k->day : day >= k->day;
	case K_LARGER:
		need_meta(ev);
		return ev->size > k->size;
	case K_SMALLER:
		need_meta(ev);
		return ev->size < k->size;
	case K_UID:
		return imap_seqset_contains(k->set, k->nset, ev->e->uid);
	case K_SEQ:
		return imap_seqset_contains(k->set, k->nset, ev->idx + 1);
	case K_HEADER:
		need_header(ev);
		return fields_match(ev->hdr.s, ev->hdr.len, k->field, k);
	case K_BODY:
		return body_match(ev, k);
	case K_TEXT:
		need_header(ev);
		if (fields_match(ev->hdr.s, ev->hdr.len, NULL, k))
			return 1;
		if (imap_msginfo_get(ev->s, ev->e->uid) != NULL)
			return body_match(ev, k);
		/* no structure: the raw message as it stands */
		need_meta(ev);
		return region_match(ev, 0, ev->size, k, NULL, 0, NULL, 0);
	case K_NOT:
		return !eval(ev, k->a);
	case K_OR:
		return eval(ev, k->a) || eval(ev, k->b);
	case K_AND:
		for (c = k->a; c != NULL; c = c->next)
			if (!eval(ev, c))
				return 0;
		return 1;
	}
	return 0;
}

void
imap_cmd_search(struct imap_sess *s, struct imap_arg *a)
{
	struct imap_view *v = s->view;
	struct sparse sp;
	struct skey *prog;
	struct imap_str out;
	struct seval ev;
	uint32_t i;

	if (imap_arg_atom_eq(a, "CHARSET")) {
		a = a->next;
		if (!imap_arg_is_string(a)) {
			imap_done_noexpunge(s, "BAD", "Missing charset");
			return;
		}
		if (strcasecmp(a->str, "UTF-8") != 0 &&
		    strcasecmp(a->str, "US-ASCII") != 0) {
			imap_done_noexpunge(s, "NO", "[BADCHARSET (US-ASCII "
			    "UTF-8)] Unsupported charset");
			return;
		}
		a = a->next;
	}
	memset(&sp, 0, sizeof(sp));
	sp.s = s;
	sp.uid = s->uid;
	if ((prog = parse_and(&sp, a, 0)) == NULL) {
		imap_done_noexpunge(s, "BAD", "%s",
		    sp.err != NULL ? sp.err : "Bad search program");
		return;
	}
	imap_str_init(&out, (size_t)v->exists_sent * 11 + 64);
	imap_str_adds(&out, "* SEARCH");
	memset(&ev, 0, sizeof(ev));
	ev.s = s;
	for (i = 0; i < v->exists_sent; i++) {
		ev.idx = i;
		ev.e = &v->msgs[i];
		ev.have_meta = 0;
		if (ev.have_hdr)
			imap_str_free(&ev.hdr);
		ev.have_hdr = 0;
		if (ev.e->flags & IMAP_ENT_EXPUNGED)
			continue;
		if (eval(&ev, prog))
			imap_str_printf(&out, " %u", s->uid ? ev.e->uid : i + 1);
	}
	if (ev.have_hdr)
		imap_str_free(&ev.hdr);
	free(ev.buf);
	imap_str_adds(&out, "\r\n");
	imap_write(s, out.s, out.len);
	imap_str_free(&out);
	key_free(prog);
	if (s->uid)
		imap_done(s, "OK", "UID SEARCH completed");
	else
		imap_done_noexpunge(s, "OK", "SEARCH completed");
}
