/*
 * imap_envelope.c -- the ENVELOPE of a message (RFC 3501 section 7.4.2)
 * and the RFC 5322 address-list parser behind it.  The parser is lenient:
 * display names, angle addresses with or without routes, groups,
 * comments, quoted local parts; anything it cannot read is skipped.
 * Strings are returned raw (encoded words are the client's business).
 */
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"

#define MAX_TOKENS	4096
#define MAX_ADDRS	500

#define T_ATOM		1
#define T_QUOTED	2
#define T_DLIT		3	/* [domain literal] */
#define T_SPECIAL	4	/* < > @ , ; : */

struct tok {
	uint32_t	 type;
	char		 ch;		/* T_SPECIAL */
	const char	*s;
	size_t		 len;
};

struct addrparse {
	struct tok	*t;
	size_t		 n;
	size_t		 i;
	char		*scratch;	/* unescaped quoted strings */
	size_t		 used;
	size_t		 cap;
	struct imap_str	*out;
	size_t		 naddrs;
};

static int
atom_char(char c)
{
	switch (c) {
	case '(': case ')': case '<': case '>': case '@': case ',':
	case ';': case ':': case '"': case '[': case ']': case '\\':
	case ' ': case '\t': case '\r': case '\n':
		return 0;
	}
	return 1;
}

static size_t
tokenize(const char *v, size_t len, struct tok *t, size_t max, char *scratch)
{
	const char *p = v, *end = v + len;
	size_t n = 0, used = 0;

	while (p < end && n < max) {
		char c = *p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p++;
		} else if (c == '(') {
			int depth = 0;

			for (; p < end; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0) {
					p++;
					break;
				}
			}
		} else if (c == '"') {
			char *w = scratch + used;
			size_t wl = 0;

			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				w[wl++] = *p;
			}
			if (p < end)
				p++;
			t[n].type = T_QUOTED;
			t[n].s = w;
			t[n].len = wl;
			used += wl;
			n++;
		} else if (c == '[') {
			const char *s = p;

			while (p < end && *p != ']')
				p++;
			if (p < end)
				p++;
			t[n].type = T_DLIT;
			t[n].s = s;
			t[n].len = (size_t)(p - s);
			n++;
		} else if (atom_char(c)) {
			const char *s = p;

			while (p < end && atom_char(*p))
				p++;
			t[n].type = T_ATOM;
			t[n].s = s;
			t[n].len = (size_t)(p - s);
			n++;
		} else {
			t[n].type = T_SPECIAL;
			t[n].ch = c;
			t[n].s = p;
			t[n].len = 1;
			n++;
			p++;
		}
	}
	return n;
}

static int
is_special(const struct addrparse *ap, size_t i, char c)
{
	return i < ap->n && ap->t[i].type == T_SPECIAL && ap->t[i].ch == c;
}

static int
is_word(const struct addrparse *ap, size_t i)
{
	return i < ap->n && ap->t[i].type != T_SPECIAL;
}

/* Join tokens [from, to) into the scratch area: words with a space
 * between them (phrase) or without (local part, domain). */
static const char *
join(struct addrparse *ap, size_t from, size_t to, int spaces, size_t *len_r)
{
	char *w = ap->scratch + ap->used;
	size_t wl = 0, i;

	for (i = from; i < to; i++) {
		if (ap->t[i].len + 1 > ap->cap - ap->used - wl)
			break;
		if (spaces && wl > 0)
			w[wl++] = ' ';
		memcpy(w + wl, ap->t[i].s, ap->t[i].len);
		wl += ap->t[i].len;
	}
	ap->used += wl;
	*len_r = wl;
	return w;
}

static void
emit(struct addrparse *ap, const char *name, size_t nlen, const char *adl,
    size_t alen, const char *mbox, size_t mlen, const char *host,
    size_t hlen)
{
	struct imap_str *out = ap->out;

	if (ap->naddrs >= MAX_ADDRS)
		return;
	if (ap->naddrs++ == 0)
		imap_str_addc(out, '(');
	imap_str_addc(out, '(');
	imap_str_nstr(out, name, nlen);
	imap_str_addc(out, ' ');
	imap_str_nstr(out, adl, alen);
	imap_str_addc(out, ' ');
	imap_str_nstr(out, mbox, mlen);
	imap_str_addc(out, ' ');
	imap_str_nstr(out, host, hlen);
	imap_str_addc(out, ')');
}

/* addr-spec or angle-addr contents from ap->i up to a stop token. */
static void
addr_spec(struct addrparse *ap, char stop, const char **mbox_r,
    size_t *mlen_r, const char **host_r, size_t *hlen_r)
{
	size_t s = ap->i, e;

	while (is_word(ap, ap->i) || (is_special(ap, ap->i, '.')))
		ap->i++;
	e = ap->i;
	*mbox_r = join(ap, s, e, 0, mlen_r);
	*host_r = NULL;
	*hlen_r = 0;
	if (is_special(ap, ap->i, '@')) {
		ap->i++;
		s = ap->i;
		while (is_word(ap, ap->i))
			ap->i++;
		*host_r = join(ap, s, ap->i, 0, hlen_r);
	}
	/* skip anything else up to the stop token */
	while (ap->i < ap->n && !is_special(ap, ap->i, stop) &&
	    !(stop != ',' && is_special(ap, ap->i, ',')))
		ap->i++;
}

static void
one_mailbox(struct addrparse *ap, size_t phrase_start, size_t phrase_end)
{
	const char *name = NULL, *mbox, *host, *adl = NULL;
	size_t nlen = 0, mlen, hlen, alen = 0, rs;

	if (is_special(ap, ap->i, '<')) {
		if (phrase_end > phrase_start)
			name = join(ap, phrase_start, phrase_end, 1, &nlen);
		ap->i++;
		if (is_special(ap, ap->i, '@')) {
			/* obsolete route: @a,@b: */
			rs = ap->i;
			while (ap->i < ap->n && !is_special(ap, ap->i, ':') &&
			    !is_special(ap, ap->i, '>'))
				ap->i++;
			adl = join(ap, rs, ap->i, 0, &alen);
			if (is_special(ap, ap->i, ':'))
				ap->i++;
		}
		addr_spec(ap, '>', &mbox, &mlen, &host, &hlen);
		if (is_special(ap, ap->i, '>'))
			ap->i++;
	} else {
		ap->i = phrase_start;
		addr_spec(ap, ',', &mbox, &mlen, &host, &hlen);
	}
	if (mlen == 0 && host == NULL)
		return;		/* "<>" or junk */
	if (host == NULL) {
		host = "MISSING_DOMAIN";
		hlen = 14;
	}
	emit(ap, name, nlen, adl, alen, mbox, mlen, host, hlen);
}

static void
address_list(struct addrparse *ap)
{
	int in_group = 0;

	while (ap->i < ap->n && ap->naddrs < MAX_ADDRS) {
		size_t ps, pe, before = ap->i;

		if (is_special(ap, ap->i, ',')) {
			ap->i++;
			continue;
		}
		if (is_special(ap, ap->i, ';')) {
			if (in_group)
				emit(ap, NULL, 0, NULL, 0, NULL, 0, NULL, 0);
			in_group = 0;
			ap->i++;
			continue;
		}
		ps = ap->i;
		while (is_word(ap, ap->i) || is_special(ap, ap->i, '.'))
			ap->i++;
		pe = ap->i;
		if (is_special(ap, ap->i, ':') && !in_group && pe > ps) {
			const char *g;
			size_t glen;

			g = join(ap, ps, pe, 1, &glen);
			emit(ap, NULL, 0, NULL, 0, g, glen, NULL, 0);
			in_group = 1;
			ap->i++;
			continue;
		}
		one_mailbox(ap, ps, pe);
		if (ap->i == before)
			ap->i++;	/* always make progress */
	}
	if (in_group)
		emit(ap, NULL, 0, NULL, 0, NULL, 0, NULL, 0);
}

static void
write_addresses(struct imap_mime *m, uint32_t part, int f, int fallback,
    struct imap_str *out)
{
	struct addrparse ap;
	const char *v;
	size_t len;

	v = imap_mime_value(m, part, f, &len);
	if ((v == NULL || len == 0) && fallback >= 0)
		v = imap_mime_value(m, part, fallback, &len);
	if (v == NULL || len == 0) {
		imap_str_adds(out, "NIL");
		return;
	}
	memset(&ap, 0, sizeof(ap));
	ap.t = calloc(MAX_TOKENS, sizeof(*ap.t));
	/* Each join copies tokens once more: 3x the value is enough. */
	ap.cap = 4 * len + 16;
	ap.scratch = malloc(ap.cap);
	ap.out = out;
	if (ap.t == NULL || ap.scratch == NULL) {
		imap_str_adds(out, "NIL");
		goto out_free;
	}
	ap.n = tokenize(v, len, ap.t, MAX_TOKENS, ap.scratch);
	ap.used = len + 1;
	address_list(&ap);
	if (ap.naddrs == 0)
		imap_str_adds(out, "NIL");
	else
		imap_str_addc(out, ')');
out_free:
	free(ap.t);
	free(ap.scratch);
}

void
imap_mime_envelope(struct imap_mime *m, uint32_t part, struct imap_str *out)
{
	const char *v;
	size_t len;

	imap_str_addc(out, '(');
	v = imap_mime_value(m, part, MIME_F_DATE, &len);
	imap_str_nstr(out, v, len);
	imap_str_addc(out, ' ');
	v = imap_mime_value(m, part, MIME_F_SUBJECT, &len);
	imap_str_nstr(out, v, len);
	imap_str_addc(out, ' ');
	write_addresses(m, part, MIME_F_FROM, -1, out);
	imap_str_addc(out, ' ');
	write_addresses(m, part, MIME_F_SENDER, MIME_F_FROM, out);
	imap_str_addc(out, ' ');
	write_addresses(m, part, MIME_F_REPLYTO, MIME_F_FROM, out);
	imap_str_addc(out, ' ');
	write_addresses(m, part, MIME_F_TO, -1, out);
	imap_str_addc(out, ' ');
	write_addresses(m, part, MIME_F_CC, -1, out);
	imap_str_addc(out, ' ');
	write_addresses(m, part, MIME_F_BCC, -1, out);
	imap_str_addc(out, ' ');
	v = imap_mime_value(m, part, MIME_F_INREPLYTO, &len);
	imap_str_nstr(out, v, len);
	imap_str_addc(out, ' ');
	v = imap_mime_value(m, part, MIME_F_MSGID, &len);
	imap_str_nstr(out, v, len);
	imap_str_addc(out, ')');
}
