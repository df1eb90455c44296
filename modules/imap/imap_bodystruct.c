/*
 * imap_bodystruct.c -- BODY and BODYSTRUCTURE (RFC 3501 section 7.4.2)
 * from a parsed MIME tree, with extension data for BODYSTRUCTURE: MD5,
 * disposition, language and location for single parts; parameters,
 * disposition, language and location for multiparts.  Media types,
 * encodings and parameter names are upper-cased as in the RFC's
 * examples; values are kept as sent.
 */
#include <ctype.h>
#include <string.h>

#include "imap_mime.h"

#define MAX_PARAMS	32

static void
write_params(struct imap_str *out, const struct mime_param *p, size_t n)
{
	size_t i;

	if (n == 0) {
		imap_str_adds(out, "NIL");
		return;
	}
	imap_str_addc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			imap_str_addc(out, ' ');
		imap_str_astr_upper(out, p[i].name, p[i].name_len);
		imap_str_addc(out, ' ');
		imap_str_astr(out, p[i].value, p[i].value_len);
	}
	imap_str_addc(out, ')');
}

static void
write_disposition(struct imap_mime *m, uint32_t part, struct imap_str *out)
{
	struct mime_param prm[MAX_PARAMS];
	char scratch[2048];
	const char *v, *tok;
	size_t len, tlen, n;

	if ((v = imap_mime_value(m, part, MIME_F_CDISP, &len)) == NULL) {
		imap_str_adds(out, "NIL");
		return;
	}
	n = mime_parse_params(v, len, &tok, &tlen, prm, MAX_PARAMS, scratch,
	    sizeof(scratch));
	if (tlen == 0) {
		imap_str_adds(out, "NIL");
		return;
	}
	imap_str_addc(out, '(');
	imap_str_astr_upper(out, tok, tlen);
	imap_str_addc(out, ' ');
	write_params(out, prm, n);
	imap_str_addc(out, ')');
}

static void
write_language(struct imap_mime *m, uint32_t part, struct imap_str *out)
{
	const char *v, *p, *end, *toks[16];
	size_t len, lens[16], n = 0, i;

	if ((v = imap_mime_value(m, part, MIME_F_CLANG, &len)) == NULL) {
		imap_str_adds(out, "NIL");
		return;
	}
	p = v;
	end = v + len;
	while (p < end && n < 16) {
		const char *s;

		while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
			p++;
		s = p;
		while (p < end && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p > s) {
			toks[n] = s;
			lens[n++] = (size_t)(p - s);
		}
	}
	if (n == 0) {
		imap_str_adds(out, "NIL");
		return;
	}
	if (n == 1) {
		imap_str_astr(out, toks[0], lens[0]);
		return;
	}
	imap_str_addc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			imap_str_addc(out, ' ');
		imap_str_astr(out, toks[i], lens[i]);
	}
	imap_str_addc(out, ')');
}

static void
write_nfield(struct imap_mime *m, uint32_t part, int f, struct imap_str *out)
{
	const char *v;
	size_t len;

	v = imap_mime_value(m, part, f, &len);
	imap_str_nstr(out, v, len);
}

/* The media type of a part, with RFC 2045 defaults. */
struct media {
	const char	*type;
	size_t		 type_len;
	const char	*sub;
	size_t		 sub_len;
	struct mime_param prm[MAX_PARAMS];
	size_t		 nprm;
	char		 scratch[2048];
};

static int
is_digest_child(struct imap_mime *m, uint32_t part)
{
	struct media pm;
	uint32_t parent = m->parts[part].parent;
	const char *v, *tok, *slash;
	size_t len, tlen;

	if (parent == MIME_NONE ||
	    !(m->parts[parent].flags & MIME_P_MULTIPART))
		return 0;
	if ((v = imap_mime_value(m, parent, MIME_F_CTYPE, &len)) == NULL)
		return 0;
	mime_parse_params(v, len, &tok, &tlen, pm.prm, 1, pm.scratch,
	    sizeof(pm.scratch));
	slash = memchr(tok, '/', tlen);
	return slash != NULL && (size_t)(tok + tlen - slash - 1) == 6 &&
	    strncasecmp(slash + 1, "digest", 6) == 0;
}

static void
media_get(struct imap_mime *m, uint32_t part, struct media *md)
{
	const char *v, *tok, *slash;
	size_t len, tlen;

	md->nprm = 0;
	v = imap_mime_value(m, part, MIME_F_CTYPE, &len);
	if (v != NULL) {
		md->nprm = mime_parse_params(v, len, &tok, &tlen, md->prm,
		    MAX_PARAMS, md->scratch, sizeof(md->scratch));
		slash = memchr(tok, '/', tlen);
		if (slash != NULL && slash > tok && slash + 1 < tok + tlen) {
			md->type = tok;
			md->type_len = (size_t)(slash - tok);
			md->sub = slash + 1;
			md->sub_len = (size_t)(tok + tlen - slash - 1);
			return;
		}
		md->nprm = 0;
	}
	if (is_digest_child(m, part)) {
		md->type = "message";
		md->sub = "rfc822";
		md->type_len = 7;
		md->sub_len = 6;
		return;
	}
	md->type = "text";
	md->type_len = 4;
	md->sub = "plain";
	md->sub_len = 5;
	md->prm[0].name = "charset";
	md->prm[0].name_len = 7;
	md->prm[0].value = "us-ascii";
	md->prm[0].value_len = 8;
	md->nprm = 1;
}

static int
media_is(const struct media *md, const char *type, const char *sub)
{
	return md->type_len == strlen(type) &&
	    strncasecmp(md->type, type, md->type_len) == 0 &&
	    (sub == NULL || (md->sub_len == strlen(sub) &&
	    strncasecmp(md->sub, sub, md->sub_len) == 0));
}

static void
write_multipart(struct imap_mime *m, uint32_t part, const struct media *md,
    int ext, struct imap_str *out)
{
	uint32_t c;

	imap_str_addc(out, '(');
	if (m->parts[part].first_child == MIME_NONE) {
		/* No part was found: one empty text part keeps it valid. */
		imap_str_adds(out, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
		    "\"us-ascii\") NIL NIL \"7BIT\" 0 0)");
	}
	for (c = m->parts[part].first_child; c != MIME_NONE;
	    c = m->parts[c].next) {
		if (out->over)
			return;
		imap_mime_bodystructure(m, c, ext, out);
	}
	imap_str_addc(out, ' ');
	imap_str_astr_upper(out, md->sub, md->sub_len);
	if (ext) {
		imap_str_addc(out, ' ');
		write_params(out, md->prm, md->nprm);
		imap_str_addc(out, ' ');
		write_disposition(m, part, out);
		imap_str_addc(out, ' ');
		write_language(m, part, out);
		imap_str_addc(out, ' ');
		write_nfield(m, part, MIME_F_CLOC, out);
	}
	imap_str_addc(out, ')');
}

void
imap_mime_bodystructure(struct imap_mime *m, uint32_t part, int ext,
    struct imap_str *out)
{
	struct mime_part *p = &m->parts[part];
	struct media md;
	const char *v;
	size_t len;

	media_get(m, part, &md);
	if (p->flags & MIME_P_MULTIPART) {
		write_multipart(m, part, &md, ext, out);
		return;
	}
	if (media_is(&md, "message", "rfc822") &&
	    !(p->flags & MIME_P_RFC822)) {
		/* An encoded message/rfc822 has no envelope to show. */
		md.type = "application";
		md.type_len = 11;
		md.sub = "octet-stream";
		md.sub_len = 12;
	}
	imap_str_addc(out, '(');
	imap_str_astr_upper(out, md.type, md.type_len);
	imap_str_addc(out, ' ');
	imap_str_astr_upper(out, md.sub, md.sub_len);
	imap_str_addc(out, ' ');
	write_params(out, md.prm, md.nprm);
	imap_str_addc(out, ' ');
	write_nfield(m, part, MIME_F_CID, out);
	imap_str_addc(out, ' ');
	write_nfield(m, part, MIME_F_CDESC, out);
	imap_str_addc(out, ' ');
	if ((v = imap_mime_value(m, part, MIME_F_CTE, &len)) != NULL &&
	    len > 0)
		imap_str_astr_upper(out, v, len);
	else
		imap_str_adds(out, "\"7BIT\"");
	imap_str_printf(out, " %llu", (unsigned long long)p->body_len);
	if (p->flags & MIME_P_RFC822) {
		imap_str_addc(out, ' ');
		imap_mime_envelope(m, p->first_child, out);
		imap_str_addc(out, ' ');
		imap_mime_bodystructure(m, p->first_child, ext, out);
		imap_str_printf(out, " %u", p->lines);
	} else if (media_is(&md, "text", NULL))
		imap_str_printf(out, " %u", p->lines);
	if (ext) {
		imap_str_addc(out, ' ');
		write_nfield(m, part, MIME_F_CMD5, out);
		imap_str_addc(out, ' ');
		write_disposition(m, part, out);
		imap_str_addc(out, ' ');
		write_language(m, part, out);
		imap_str_addc(out, ' ');
		write_nfield(m, part, MIME_F_CLOC, out);
	}
	imap_str_addc(out, ')');
}
