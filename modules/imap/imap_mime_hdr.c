/*
 * imap_mime_hdr.c -- header blocks split into fields, and structured
 * MIME header values: "token; name=value" lists (Content-Type,
 * Content-Disposition), lenient about spaces, comments and quoting, and
 * bounded by the caller's arrays.
 */
#include <string.h>

#include "imap_mime.h"

static const char *
skip_cfws(const char *p, const char *end)
{
	int depth;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if (p >= end || *p != '(')
			return p;
		depth = 0;
		while (p < end) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
}

static int
tspecial_end(char c)
{
	return c == ';' || c == ' ' || c == '\t' || c == '(' || c == '"' ||
	    c == '\r' || c == '\n';
}

size_t
mime_parse_params(const char *v, size_t len, const char **tok_r,
    size_t *tok_len_r, struct mime_param *prm, size_t max, char *scratch,
    size_t scratch_cap)
{
	const char *p = v, *end = v + len, *s;
	size_t n = 0, used = 0;

	p = skip_cfws(p, end);
	s = p;
	while (p < end && !tspecial_end(*p))
		p++;
	*tok_r = s;
	*tok_len_r = (size_t)(p - s);
	while (p < end && n < max) {
		const char *name, *val;
		size_t nlen, vlen;

		/* to the next ';' */
		while (p < end && *p != ';') {
			if (*p == '"') {
				for (p++; p < end && *p != '"'; p++)
					if (*p == '\\' && p + 1 < end)
						p++;
			}
			if (p < end)
				p++;
		}
		if (p >= end)
			break;
		p = skip_cfws(p + 1, end);
		name = p;
		while (p < end && *p != '=' && *p != ';' && !tspecial_end(*p))
			p++;
		nlen = (size_t)(p - name);
		p = skip_cfws(p, end);
		if (nlen == 0 || p >= end || *p != '=')
			continue;
		p = skip_cfws(p + 1, end);
		if (p < end && *p == '"') {
			char *w = scratch + used;
			size_t room = scratch_cap - used;

			val = w;
			vlen = 0;
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (vlen < room)
					w[vlen++] = *p;
			}
			if (p < end)
				p++;
			used += vlen;
		} else {
			val = p;
			while (p < end && !tspecial_end(*p))
				p++;
			vlen = (size_t)(p - val);
		}
		prm[n].name = name;
		prm[n].name_len = nlen;
		prm[n].value = val;
		prm[n].value_len = vlen;
		n++;
	}
	return n;
}

int
mime_next_field(const char **pp, const char *end, struct mime_field *f)
{
	const char *p = *pp, *fs, *colon, *nl;

	while (p < end && *p != '\r' && *p != '\n') {
		fs = p;
		/* one field: up to a line that does not start with WSP */
		for (;;) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl == NULL ? end : nl + 1;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		if ((colon = memchr(fs, ':', (size_t)(p - fs))) == NULL)
			continue;
		f->start = fs;
		f->len = (size_t)(p - fs);
		f->name_len = (size_t)(colon - fs);
		while (f->name_len > 0 && (fs[f->name_len - 1] == ' ' ||
		    fs[f->name_len - 1] == '\t'))
			f->name_len--;
		f->value = colon + 1;
		f->value_len = (size_t)(p - f->value);
		*pp = p;
		return 1;
	}
	*pp = p;
	return 0;
}
