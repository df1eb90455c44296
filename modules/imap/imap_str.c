/*
 * imap_str.c -- bounded growable strings and IMAP string quoting.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_str.h"

void
imap_str_init(struct imap_str *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

void
imap_str_free(struct imap_str *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

void
imap_str_add(struct imap_str *b, const void *p, size_t len)
{
	size_t need;
	char *n;

	if (b->over)
		return;
	if (len > b->cap - b->len) {
		b->over = 1;
		return;
	}
	need = b->len + len + 1;
	if (need > b->alloc) {
		size_t na = b->alloc == 0 ? 256 : b->alloc;

		while (na < need)
			na *= 2;
		if (na > b->cap + 1)
			na = b->cap + 1;
		if ((n = realloc(b->s, na)) == NULL) {
			b->over = 1;
			return;
		}
		b->s = n;
		b->alloc = na;
	}
	memcpy(b->s + b->len, p, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void
imap_str_adds(struct imap_str *b, const char *s)
{
	imap_str_add(b, s, strlen(s));
}

void
imap_str_addc(struct imap_str *b, char c)
{
	imap_str_add(b, &c, 1);
}

void
imap_str_printf(struct imap_str *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp)) {
		b->over = 1;
		return;
	}
	imap_str_add(b, tmp, (size_t)n);
}

static int
quotable(const char *p, size_t len)
{
	size_t i;

	if (len > 1024)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\0' || ch == '\r' || ch == '\n' || ch >= 0x80)
			return 0;
	}
	return 1;
}

static void
str_quoted(struct imap_str *b, const char *p, size_t len, int upper)
{
	size_t i;

	imap_str_addc(b, '"');
	for (i = 0; i < len; i++) {
		char ch = p[i];

		if (ch == '"' || ch == '\\')
			imap_str_addc(b, '\\');
		imap_str_addc(b, upper ? (char)toupper((unsigned char)ch) : ch);
	}
	imap_str_addc(b, '"');
}

void
imap_str_astr(struct imap_str *b, const char *p, size_t len)
{
	if (quotable(p, len)) {
		str_quoted(b, p, len, 0);
		return;
	}
	imap_str_printf(b, "{%zu}\r\n", len);
	imap_str_add(b, p, len);
}

void
imap_str_astr_upper(struct imap_str *b, const char *p, size_t len)
{
	if (quotable(p, len))
		str_quoted(b, p, len, 1);
	else
		imap_str_astr(b, p, len);
}

void
imap_str_nstr(struct imap_str *b, const char *p, size_t len)
{
	if (p == NULL)
		imap_str_adds(b, "NIL");
	else
		imap_str_astr(b, p, len);
}
