/*
 * imap_utf7.c -- mailbox names at the edge: modified UTF-7 on the wire
 * (RFC 3501 section 5.1.3) to UTF-8 in storage and back, INBOX matched
 * case-insensitively.  Malformed names are refused, never guessed at.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap_utf7.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

static int
put_utf8(uint32_t cp, char *out, size_t cap, size_t *o)
{
	char tmp[4];
	size_t n;

	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*o + n + 1 > cap)
		return -1;
	memcpy(out + *o, tmp, n);
	*o += n;
	return 0;
}

int
imap_utf7_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		uint32_t bits = 0, nbits = 0, hi = 0;
		size_t start;

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (o + 2 > cap)
				return -1;
			out[o++] = (char)c;
			i++;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			if (o + 2 > cap)
				return -1;
			out[o++] = '&';
			i++;
			continue;
		}
		start = i;
		while (i < len && in[i] != '-') {
			int v = b64val(in[i++]);

			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				uint32_t u = (bits >> (nbits - 16)) & 0xffff;

				nbits -= 16;
				if (u >= 0xd800 && u < 0xdc00) {
					if (hi != 0)
						return -1;
					hi = u;
					continue;
				}
				if (u >= 0xdc00 && u < 0xe000) {
					if (hi == 0)
						return -1;
					u = 0x10000 + ((hi - 0xd800) << 10) +
					    (u - 0xdc00);
					hi = 0;
				} else if (hi != 0)
					return -1;
				/* printable ASCII must not be encoded */
				if (u >= 0x20 && u <= 0x7e)
					return -1;
				if (u == 0 || put_utf8(u, out, cap, &o) < 0)
					return -1;
			}
		}
		if (i >= len || i == start || hi != 0 || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0)
			return -1;
		i++;	/* '-' */
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Next code point of UTF-8 text; -1 when malformed. */
static int
next_cp(const unsigned char **pp, uint32_t *cp_r)
{
	const unsigned char *p = *pp;
	uint32_t cp;
	int n, i;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		*pp = p + 1;
		return 0;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		cp = p[0] & 0x1f;
		n = 1;
	} else if ((p[0] & 0xf0) == 0xe0) {
		cp = p[0] & 0x0f;
		n = 2;
	} else if ((p[0] & 0xf8) == 0xf0) {
		cp = p[0] & 0x07;
		n = 3;
	} else
		return -1;
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return -1;
	*cp_r = cp;
	*pp = p + n + 1;
	return 0;
}

int
imap_utf7_encode(const char *in, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	while (*p != '\0') {
		uint32_t bits = 0, nbits = 0;

		if (*p >= 0x20 && *p <= 0x7e) {
			if (o + 3 > cap)
				return -1;
			out[o++] = (char)*p;
			if (*p == '&')
				out[o++] = '-';
			p++;
			continue;
		}
		if (o + 2 > cap)
			return -1;
		out[o++] = '&';
		while (*p != '\0' && (*p < 0x20 || *p > 0x7e)) {
			uint32_t cp, units[2];
			int nu, k;

			if (next_cp(&p, &cp) < 0)
				return -1;
			if (cp >= 0x10000) {
				units[0] = 0xd800 + ((cp - 0x10000) >> 10);
				units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				nu = 2;
			} else {
				units[0] = cp;
				nu = 1;
			}
			for (k = 0; k < nu; k++) {
				bits = (bits << 16) | units[k];
				nbits += 16;
				while (nbits >= 6) {
					if (o + 2 > cap)
						return -1;
					out[o++] = b64[(bits >> (nbits - 6)) &
					    0x3f];
					nbits -= 6;
				}
			}
		}
		if (nbits > 0) {
			if (o + 2 > cap)
				return -1;
			out[o++] = b64[(bits << (6 - nbits)) & 0x3f];
		}
		if (o + 2 > cap)
			return -1;
		out[o++] = '-';
	}
	out[o] = '\0';
	return 0;
}

int
imap_mbox_from_wire(const char *in, size_t len, char *out, size_t cap)
{
	if (imap_utf7_decode(in, len, out, cap) < 0)
		return -1;
	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

int
imap_mbox_to_wire(const char *in, char *out, size_t cap)
{
	return imap_utf7_encode(in, out, cap);
}
