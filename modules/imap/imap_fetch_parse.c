/*
 * imap_fetch_parse.c -- FETCH item names: the simple items, the macros
 * ALL/FAST/FULL, and BODY[section]<partial> with part numbers, HEADER,
 * HEADER.FIELDS[.NOT] (list), TEXT and MIME.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_fetch.h"

static const struct {
	const char	*name;
	uint32_t	 kind;
} simple[] = {
	{ "FLAGS", FI_FLAGS },
	{ "UID", FI_UID },
	{ "INTERNALDATE", FI_INTERNALDATE },
	{ "RFC822.SIZE", FI_SIZE },
	{ "ENVELOPE", FI_ENVELOPE },
	{ "BODY", FI_BODY },
	{ "BODYSTRUCTURE", FI_BODYSTRUCTURE },
	{ "RFC822", FI_RFC822 },
	{ "RFC822.HEADER", FI_RFC822_HEADER },
	{ "RFC822.TEXT", FI_RFC822_TEXT },
};

/* Field names of HEADER.FIELDS: "(" astring *(SP astring) ")". */
static int
parse_fields(const char *p, const char *end, struct fetch_item *it)
{
	size_t n = 0, len = (size_t)(end - p);
	char *w;

	while (p < end && *p == ' ')
		p++;
	if (p >= end || *p != '(')
		return -1;
	p++;
	it->fieldbuf = malloc(len + 1);
	it->fields = calloc(FETCH_MAX_FIELDS, sizeof(*it->fields));
	if (it->fieldbuf == NULL || it->fields == NULL)
		return -1;
	w = it->fieldbuf;
	for (;;) {
		const char *s;

		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			return -1;
		if (*p == ')') {
			p++;
			break;
		}
		if (n >= FETCH_MAX_FIELDS)
			return -1;
		s = w;
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				*w++ = *p;
			}
			if (p >= end)
				return -1;
			p++;
		} else {
			while (p < end && *p != ' ' && *p != ')' &&
			    *p != '(' && *p != '"')
				*w++ = *p++;
		}
		if (w == s)
			return -1;
		*w++ = '\0';
		it->fields[n].type = IMAP_ARG_ATOM;
		it->fields[n].str = (char *)s;
		it->fields[n].len = (uint32_t)(w - s - 1);
		if (n > 0)
			it->fields[n - 1].next = &it->fields[n];
		n++;
	}
	if (n == 0 || p != end)
		return -1;
	return 0;
}

static int
parse_section(const char *sec, size_t len, struct fetch_item *it)
{
	const char *p = sec, *end = sec + len;

	it->npath = 0;
	while (p < end && isdigit((unsigned char)*p)) {
		unsigned long v = 0;

		while (p < end && isdigit((unsigned char)*p)) {
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > 100000)
				return -1;
			p++;
		}
		if (v == 0 || it->npath >= FETCH_MAX_PATH)
			return -1;
		it->path[it->npath++] = (uint32_t)v;
		if (p < end && *p == '.')
			p++;
		else
			break;
	}
	if (p == end) {
		/* "" or "1.2": a trailing dot is an error */
		if (len > 0 && end[-1] == '.')
			return -1;
		it->spec = SP_NONE;
		return 0;
	}
	if ((size_t)(end - p) == 6 && strncasecmp(p, "HEADER", 6) == 0)
		it->spec = SP_HEADER;
	else if ((size_t)(end - p) == 4 && strncasecmp(p, "TEXT", 4) == 0)
		it->spec = SP_TEXT;
	else if ((size_t)(end - p) == 4 && strncasecmp(p, "MIME", 4) == 0) {
		if (it->npath == 0)
			return -1;
		it->spec = SP_MIME;
	} else if ((size_t)(end - p) > 17 &&
	    strncasecmp(p, "HEADER.FIELDS.NOT", 17) == 0) {
		it->spec = SP_FIELDS_NOT;
		return parse_fields(p + 17, end, it);
	} else if ((size_t)(end - p) > 13 &&
	    strncasecmp(p, "HEADER.FIELDS", 13) == 0) {
		it->spec = SP_FIELDS;
		return parse_fields(p + 13, end, it);
	} else
		return -1;
	return 0;
}

/* BODY[...]<a.b> and BODY.PEEK[...]<a.b> */
static int
parse_body_section(const char *s, struct fetch_item *it)
{
	const char *open = strchr(s, '['), *close;
	char *endp;

	if (open == NULL)
		return -1;
	if ((size_t)(open - s) == 4 && strncasecmp(s, "BODY", 4) == 0)
		it->peek = 0;
	else if ((size_t)(open - s) == 9 && strncasecmp(s, "BODY.PEEK", 9)
	    == 0)
		it->peek = 1;
	else
		return -1;
	close = strrchr(open, ']');
	if (close == NULL)
		return -1;
	if (parse_section(open + 1, (size_t)(close - open - 1), it) < 0)
		return -1;
	it->kind = FI_SECTION;
	if ((size_t)(close - open) + 8 > sizeof(it->label))
		return -1;
	snprintf(it->label, sizeof(it->label), "BODY[%.*s]",
	    (int)(close - open - 1), open + 1);
	if (close[1] == '\0')
		return 0;
	if (close[1] != '<')
		return -1;
	it->partial = 1;
	if (!isdigit((unsigned char)close[2]))
		return -1;
	it->p_off = strtoull(close + 2, &endp, 10);
	if (*endp != '.' || !isdigit((unsigned char)endp[1]))
		return -1;
	it->p_len = strtoull(endp + 1, &endp, 10);
	if (endp[0] != '>' || endp[1] != '\0' || it->p_len == 0)
		return -1;
	snprintf(it->label + strlen(it->label),
	    sizeof(it->label) - strlen(it->label), "<%llu>",
	    (unsigned long long)it->p_off);
	return 0;
}

static int
parse_one(const char *s, struct fetch_item *it)
{
	size_t i;

	memset(it, 0, sizeof(*it));
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcasecmp(s, simple[i].name) == 0) {
			it->kind = simple[i].kind;
			snprintf(it->label, sizeof(it->label), "%s",
			    simple[i].name);
			return 0;
		}
	return parse_body_section(s, it);
}

static int
add_macro(const char *s, struct fetch_item *items, size_t max)
{
	static const char *const all[] = { "FLAGS", "INTERNALDATE",
	    "RFC822.SIZE", "ENVELOPE", NULL };
	static const char *const fast[] = { "FLAGS", "INTERNALDATE",
	    "RFC822.SIZE", NULL };
	static const char *const full[] = { "FLAGS", "INTERNALDATE",
	    "RFC822.SIZE", "ENVELOPE", "BODY", NULL };
	const char *const *m;
	size_t n;

	if (strcasecmp(s, "ALL") == 0)
		m = all;
	else if (strcasecmp(s, "FAST") == 0)
		m = fast;
	else if (strcasecmp(s, "FULL") == 0)
		m = full;
	else
		return -1;
	for (n = 0; m[n] != NULL && n < max; n++)
		parse_one(m[n], &items[n]);
	return (int)n;
}

int
imap_fetch_parse_items(const struct imap_arg *a, struct fetch_item *items,
    size_t max, const char **err_r)
{
	const struct imap_arg *c;
	size_t n = 0;
	int m;

	*err_r = "Bad FETCH item";
	if (a == NULL)
		return -1;
	if (a->type == IMAP_ARG_ATOM) {
		if ((m = add_macro(a->str, items, max)) >= 0)
			return m;
		if (parse_one(a->str, &items[0]) < 0) {
			imap_fetch_items_free(items, 1);
			return -1;
		}
		return 1;
	}
	if (a->type != IMAP_ARG_LIST || a->child == NULL)
		return -1;
	for (c = a->child; c != NULL; c = c->next) {
		if (n >= max) {
			*err_r = "Too many FETCH items";
			imap_fetch_items_free(items, n);
			return -1;
		}
		if (c->type != IMAP_ARG_ATOM || parse_one(c->str, &items[n])
		    < 0) {
			imap_fetch_items_free(items, n + 1);
			return -1;
		}
		n++;
	}
	return (int)n;
}

void
imap_fetch_items_free(struct fetch_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(items[i].fields);
		free(items[i].fieldbuf);
		items[i].fields = NULL;
		items[i].fieldbuf = NULL;
	}
}
