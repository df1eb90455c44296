/*
 * imap_seqset.c -- RFC 3501 sequence sets ("1,3:5,7:*"): parsing into
 * ranges, resolving '*' against the highest number in use, and lookup.
 */
#include <ctype.h>
#include <stddef.h>

#include "imap_parse.h"

static int
seq_number(const char **pp, uint32_t *v_r)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p == '*') {
		*v_r = UINT32_MAX;
		*pp = p + 1;
		return 0;
	}
	if (!isdigit((unsigned char)*p) || *p == '0')
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX - 1)
			return -1;
		p++;
	}
	*v_r = (uint32_t)v;
	*pp = p;
	return 0;
}

int
imap_seqset_parse(const char *s, struct imap_seq_range *r, size_t max)
{
	const char *p = s;
	size_t n = 0;
	uint32_t a, b, t;

	if (*p == '\0')
		return -1;
	for (;;) {
		if (seq_number(&p, &a) < 0)
			return -1;
		b = a;
		if (*p == ':') {
			p++;
			if (seq_number(&p, &b) < 0)
				return -1;
		}
		if (a > b) {
			t = a;
			a = b;
			b = t;
		}
		if (n >= max)
			return -1;
		r[n].first = a;
		r[n].last = b;
		n++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	return (int)n;
}

void
imap_seqset_resolve(struct imap_seq_range *r, size_t n, uint32_t star)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (r[i].first == UINT32_MAX)
			r[i].first = star;
		if (r[i].last == UINT32_MAX)
			r[i].last = star;
		if (r[i].first > r[i].last) {
			uint32_t t = r[i].first;

			r[i].first = r[i].last;
			r[i].last = t;
		}
	}
}

int
imap_seqset_contains(const struct imap_seq_range *r, size_t n, uint32_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v >= r[i].first && v <= r[i].last)
			return 1;
	return 0;
}
