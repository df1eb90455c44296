/*
 * lmdbst_util.c -- pure helpers of the LMDB backend: mailbox name
 * checks (UTF-8, '/' separator, INBOX case-insensitive), keyword lists
 * and UID set normalization.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmdbst.h"

/* Length of the UTF-8 sequence at s, 0 if it is not valid UTF-8. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * Check a mailbox name and write its stored form: INBOX (any case) as
 * the first component becomes "INBOX".  Names are UTF-8 with '/' between
 * non-empty components and no control characters.
 */
int
lmdbst_name_norm(const char *in, char *out, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i, n, total;

	if (in == NULL || (total = strlen(in)) == 0 ||
	    total > LMDBST_NAME_MAX || total >= len)
		return KURIR_E_INVALID;
	if (in[0] == '/' || in[total - 1] == '/')
		return KURIR_E_INVALID;
	for (i = 0; i < total; i += n) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return KURIR_E_INVALID;
		if (s[i] == '/' && s[i + 1] == '/')
			return KURIR_E_INVALID;
		if ((n = utf8_len(s + i)) == 0)
			return KURIR_E_INVALID;
	}
	memcpy(out, in, total + 1);
	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return KURIR_OK;
}

static int
kw_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* Is the keyword w (n bytes) in the space separated list? */
static int
kw_has(const char *list, size_t llen, const char *w, size_t n)
{
	const char *p = list, *end = list + llen, *sp;

	while (p < end) {
		if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
			sp = end;
		if ((size_t)(sp - p) == n && strncasecmp(p, w, n) == 0)
			return 1;
		p = sp + 1;
	}
	return 0;
}

static int
kw_add(char *out, size_t *olen, size_t cap, const char *w, size_t n)
{
	if (kw_has(out, *olen, w, n))
		return KURIR_OK;
	if (*olen + n + 2 > cap)
		return KURIR_E_TOOBIG;
	if (*olen > 0)
		out[(*olen)++] = ' ';
	memcpy(out + *olen, w, n);
	*olen += n;
	out[*olen] = '\0';
	return KURIR_OK;
}

/* Check keywords (IMAP atoms, not system flags) and drop duplicates. */
int
lmdbst_kw_norm(const char *in, char *out, size_t len)
{
	const char *p, *w;
	size_t olen = 0, n;
	int rc;

	if (len == 0)
		return KURIR_E_INVALID;
	out[0] = '\0';
	if (in == NULL)
		return KURIR_OK;
	for (p = in; *p != '\0'; ) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (w = p; *p != '\0' && *p != ' '; p++)
			if (!kw_char_ok((unsigned char)*p))
				return KURIR_E_INVALID;
		n = (size_t)(p - w);
		if (w[0] == '\\')
			return KURIR_E_INVALID;
		if ((rc = kw_add(out, &olen, len, w, n)) != KURIR_OK)
			return rc;
	}
	return KURIR_OK;
}

/* out = cur op kw, where kw is normalized and cur is stored (no NUL). */
int
lmdbst_kw_apply(const char *cur, size_t curlen, uint32_t op, const char *kw,
    char *out, size_t len)
{
	const char *p, *end, *sp;
	size_t olen = 0;
	int rc;

	out[0] = '\0';
	if (op == KURIR_FLAGS_SET)
		return lmdbst_kw_norm(kw, out, len);
	for (p = cur, end = cur + curlen; p < end; p = sp + 1) {
		if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
			sp = end;
		if (sp == p)
			continue;
		if (op == KURIR_FLAGS_REMOVE &&
		    kw_has(kw, strlen(kw), p, (size_t)(sp - p)))
			continue;
		if ((rc = kw_add(out, &olen, len, p, (size_t)(sp - p))) != 0)
			return rc;
	}
	if (op == KURIR_FLAGS_ADD) {
		for (p = kw, end = kw + strlen(kw); p < end; p = sp + 1) {
			if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
				sp = end;
			if (sp > p && (rc = kw_add(out, &olen, len, p,
			    (size_t)(sp - p))) != 0)
				return rc;
		}
	}
	return KURIR_OK;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct kurir_uid_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorted, merged copy of a UID set (free() it); NULL on no memory. */
struct kurir_uid_range *
lmdbst_set_norm(const struct kurir_uid_range *set, size_t nset, size_t *n_r)
{
	struct kurir_uid_range *r;
	size_t i, n = 0;
	uint32_t a, b;

	if ((r = calloc(nset + 1, sizeof(*r))) == NULL)
		return NULL;
	for (i = 0; i < nset; i++) {
		a = set[i].first;
		b = set[i].last;
		if (a > b) {
			uint32_t tmp = a;
			a = b;
			b = tmp;
		}
		if (b == 0)
			continue;
		r[n].first = a == 0 ? 1 : a;
		r[n].last = b;
		n++;
	}
	qsort(r, n, sizeof(*r), range_cmp);
	for (i = 1, *n_r = n > 0; i < n; i++) {
		struct kurir_uid_range *cur = &r[*n_r - 1];

		if (r[i].first <= cur->last ||
		    (cur->last != UINT32_MAX && r[i].first == cur->last + 1)) {
			if (r[i].last > cur->last)
				cur->last = r[i].last;
		} else
			r[(*n_r)++] = r[i];
	}
	return r;
}
