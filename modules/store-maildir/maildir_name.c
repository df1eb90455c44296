/*
 * maildir_name.c -- storage names <-> Maildir++ folder directory names.
 *
 * Storage names are UTF-8 with '/' between levels ("Archive/2026").
 * "INBOX" (any case) is the Maildir root; "Archive/2026" lives in the
 * directory ".Archive.2026".  Each level is encoded as Dovecot and Courier
 * do, so they and mutt see the same folders:
 *
 *  1. modified UTF-7 (RFC 3501 5.1.3): printable ASCII stands for itself,
 *     '&' becomes "&-", anything else is "&" + modified base64 of UTF-16
 *     + "-" ("Entwürfe" -> "Entw&APw-rfe");
 *  2. then Dovecot's listescape: '.', '\' and a leading '~' become '\'
 *     and two lowercase hex digits ("v1.2" -> "v1\2e2").
 *
 * So "a.b/c" is the directory ".a\2eb.c".  Rejected names: empty levels
 * ("a//b", "/a", "a/"), "." and "..", control characters, invalid UTF-8,
 * and names whose directory would be longer than NAME_MAX.  "INBOX/x"
 * is ".INBOX.x" (the INBOX prefix is case-insensitive too).
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "maildir.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Decode one UTF-8 sequence at s (n bytes left); 0 on error. */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	uint32_t	 cp;
	size_t		 len, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

static int
put(char *out, size_t cap, size_t *o, char c)
{
	if (*o + 1 >= cap)
		return -1;
	out[(*o)++] = c;
	return 0;
}

static int
put_utf8(char *out, size_t cap, size_t *o, uint32_t cp)
{
	if (cp < 0x80)
		return put(out, cap, o, (char)cp);
	if (cp < 0x800)
		return put(out, cap, o, (char)(0xc0 | (cp >> 6))) ||
		    put(out, cap, o, (char)(0x80 | (cp & 0x3f)));
	if (cp < 0x10000)
		return put(out, cap, o, (char)(0xe0 | (cp >> 12))) ||
		    put(out, cap, o, (char)(0x80 | ((cp >> 6) & 0x3f))) ||
		    put(out, cap, o, (char)(0x80 | (cp & 0x3f)));
	return put(out, cap, o, (char)(0xf0 | (cp >> 18))) ||
	    put(out, cap, o, (char)(0x80 | ((cp >> 12) & 0x3f))) ||
	    put(out, cap, o, (char)(0x80 | ((cp >> 6) & 0x3f))) ||
	    put(out, cap, o, (char)(0x80 | (cp & 0x3f)));
}

/* UTF-8 -> modified UTF-7.  -1 on bad UTF-8 or no room. */
int
md_utf7_encode(const char *in, size_t len, char *out, size_t cap)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i = 0, o = 0, n;
	uint32_t		 cp, bits = 0, u[2];
	int			 nbits = 0, inb64 = 0, nu, k;

	while (i < len) {
		if ((n = utf8_next(s + i, len - i, &cp)) == 0)
			return -1;
		i += n;
		if (cp >= 0x20 && cp < 0x7f) {
			if (inb64) {
				if (nbits > 0 && put(out, cap, &o,
				    b64[(bits << (6 - nbits)) & 0x3f]))
					return -1;
				if (put(out, cap, &o, '-'))
					return -1;
				inb64 = 0;
				nbits = 0;
				bits = 0;
			}
			if (put(out, cap, &o, (char)cp))
				return -1;
			if (cp == '&' && put(out, cap, &o, '-'))
				return -1;
			continue;
		}
		if (!inb64) {
			if (put(out, cap, &o, '&'))
				return -1;
			inb64 = 1;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			u[0] = 0xd800 | (cp >> 10);
			u[1] = 0xdc00 | (cp & 0x3ff);
			nu = 2;
		} else {
			u[0] = cp;
			nu = 1;
		}
		for (k = 0; k < nu; k++) {
			bits = (bits << 16) | u[k];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				if (put(out, cap, &o,
				    b64[(bits >> nbits) & 0x3f]))
					return -1;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (inb64) {
		if (nbits > 0 && put(out, cap, &o,
		    b64[(bits << (6 - nbits)) & 0x3f]))
			return -1;
		if (put(out, cap, &o, '-'))
			return -1;
	}
	out[o] = '\0';
	return 0;
}

static int
b64val(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

/* Modified UTF-7 -> UTF-8, strictly: -1 on anything Dovecot would not
 * have written (8-bit bytes, bad base64, encoded printable ASCII). */
int
md_utf7_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t		 i = 0, o = 0;
	uint32_t	 bits, u, hi;
	int		 nbits, v, have_hi;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c >= 0x7f)
			return -1;
		if (c != '&') {
			if (put(out, cap, &o, (char)c))
				return -1;
			i++;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			if (put(out, cap, &o, '&'))
				return -1;
			i++;
			continue;
		}
		bits = 0;
		nbits = 0;
		have_hi = 0;
		hi = 0;
		while (i < len && in[i] != '-') {
			if ((v = b64val(in[i])) < 0)
				return -1;
			i++;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			if (have_hi) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				u = 0x10000 + ((hi - 0xd800) << 10) +
				    (u - 0xdc00);
				have_hi = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi = u;
				have_hi = 1;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff)
				return -1;
			if (u >= 0x20 && u < 0x7f)
				return -1;	/* must have been literal */
			if (put_utf8(out, cap, &o, u))
				return -1;
		}
		if (i >= len || have_hi || nbits >= 6 || bits != 0)
			return -1;
		i++;		/* the '-' */
	}
	out[o] = '\0';
	return 0;
}

int
md_name_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

int
md_name_valid(const char *name)
{
	const unsigned char	*s = (const unsigned char *)name;
	size_t			 i, n, len = strlen(name), start = 0;
	uint32_t		 cp;

	if (len == 0 || len > 1024)
		return 0;
	for (i = 0; i <= len; i += n) {
		if (i == len || name[i] == '/') {
			/* a level ends: no empty, "." or ".." level */
			if (i == start || (i - start == 1 && name[start] ==
			    '.') || (i - start == 2 && name[start] == '.' &&
			    name[start + 1] == '.'))
				return 0;
			start = i + 1;
			n = 1;
			continue;
		}
		if ((n = utf8_next(s + i, len - i, &cp)) == 0)
			return 0;
		if (cp < 0x20 || cp == 0x7f)
			return 0;
	}
	return 1;
}

/* The folder directory name for name: "" for INBOX, ".A.B" else. */
int
md_name_to_dir(const char *name, char *out, size_t cap)
{
	char		 u7[1024];
	const char	*p, *e;
	size_t		 o = 0, k;

	if (!md_name_valid(name))
		return KURIR_E_INVALID;
	if (md_name_is_inbox(name)) {
		if (cap < 1)
			return KURIR_E_INVALID;
		out[0] = '\0';
		return KURIR_OK;
	}
	for (p = name; *p != '\0'; p = *e == '/' ? e + 1 : e) {
		const char *seg = p;

		if ((e = strchr(p, '/')) == NULL)
			e = p + strlen(p);
		if (p == name && e - p == 5 && strncasecmp(p, "INBOX", 5) == 0)
			seg = "INBOX";
		if (md_utf7_encode(seg, (size_t)(e - p), u7, sizeof(u7)) == -1)
			return KURIR_E_INVALID;
		if (put(out, cap, &o, '.'))
			return KURIR_E_INVALID;
		for (k = 0; u7[k] != '\0'; k++) {
			if (u7[k] == '.' || u7[k] == '\\' ||
			    (k == 0 && u7[k] == '~')) {
				if (o + 3 >= cap)
					return KURIR_E_INVALID;
				o += (size_t)snprintf(out + o, cap - o,
				    "\\%02x", (unsigned char)u7[k]);
			} else if (put(out, cap, &o, u7[k]))
				return KURIR_E_INVALID;
		}
	}
	out[o] = '\0';
	if (o > NAME_MAX)
		return KURIR_E_INVALID;
	return KURIR_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ".A.B" -> "A/B"; -1 for a directory that is no folder of ours. */
int
md_dir_to_name(const char *dir, char *out, size_t cap)
{
	char		 esc[1024];
	const char	*p, *e;
	size_t		 o = 0, k, n;
	int		 h, l;

	if (dir[0] != '.' || dir[1] == '\0' || strcmp(dir, "..") == 0)
		return -1;
	for (p = dir + 1; ; p = e + 1) {
		if ((e = strchr(p, '.')) == NULL)
			e = p + strlen(p);
		if (e == p)
			return -1;
		for (k = 0, n = 0; p + k < e; k++) {
			if (n + 2 >= sizeof(esc))
				return -1;
			if (p[k] == '\\') {
				if (p + k + 2 >= e ||
				    (h = hexval(p[k + 1])) < 0 ||
				    (l = hexval(p[k + 2])) < 0)
					return -1;
				esc[n++] = (char)(h * 16 + l);
				k += 2;
			} else
				esc[n++] = p[k];
		}
		esc[n] = '\0';
		if (o > 0 && put(out, cap, &o, '/'))
			return -1;
		if (md_utf7_decode(esc, n, out + o, cap - o) == -1)
			return -1;
		o += strlen(out + o);
		if (*e == '\0')
			break;
	}
	out[o] = '\0';
	if (!md_name_valid(out))
		return -1;
	return 0;
}
