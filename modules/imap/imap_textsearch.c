/*
 * imap_textsearch.c -- decoding and folding for SEARCH (see the header).
 * Charsets other than UTF-8 and US-ASCII go through iconv(3); text in a
 * charset iconv does not know is compared as it stands.  Every buffer is
 * fixed: a body streams through a window of TS_WINDOW bytes.
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_textsearch.h"

#define TS_WINDOW	16384
#define TS_MAX_NEEDLE	4096	/* longer needles never match */
#define TS_CHUNK	8192

#define CTE_IDENTITY	0
#define CTE_QP		1
#define CTE_BASE64	2

/* ---- case folding ---------------------------------------------------- */

/* Simple case folding of the two-byte UTF-8 letters that have one. */
static uint32_t
fold_cp(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c == 0x178)
		return 0xff;
	/* Latin Extended-A: pairs, upper case first (even, then odd) */
	if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) ||
	    (c >= 0x14a && c <= 0x177))
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) ? c + 1 : c;
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 0x20;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if (c == 0x3c2)		/* final sigma */
		return 0x3c3;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	return c;
}

/* Fold s[0..len); returns how far it got: a two-byte lead at the very
 * end waits for its continuation byte. */
static size_t
fold_upto(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;
	uint32_t c, f;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] += 'a' - 'A';
		else if ((p[i] & 0xe0) == 0xc0) {
			if (i + 1 == len)
				return i;
			if ((p[i + 1] & 0xc0) != 0x80)
				continue;
			c = (uint32_t)(p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f);
			if ((f = fold_cp(c)) != c) {
				p[i] = (unsigned char)(0xc0 | f >> 6);
				p[i + 1] = (unsigned char)(0x80 | (f & 0x3f));
			}
			i++;
		}
	}
	return len;
}

void
imap_text_fold(char *s, size_t len)
{
	(void)fold_upto(s, len);
}

/* ---- charsets -------------------------------------------------------- */

/* iconv for charset (NULL: none is needed or none is known). */
static iconv_t
charset_open(const char *cs, size_t len)
{
	char name[64];
	const char *star;

	if ((star = memchr(cs, '*', len)) != NULL)	/* RFC 2231 language */
		len = (size_t)(star - cs);
	if (len == 0 || len >= sizeof(name))
		return (iconv_t)-1;
	memcpy(name, cs, len);
	name[len] = '\0';
	if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0 ||
	    strcasecmp(name, "us-ascii") == 0 || strcasecmp(name, "ascii") == 0)
		return (iconv_t)-1;
	return iconv_open("UTF-8", name);
}

/*
 * Convert in[0..*inlen) through cd, handing UTF-8 to out().  An
 * incomplete sequence at the end is left in place (*inlen says how much
 * is left); a byte that cannot be converted becomes '?'.
 */
static int
convert(iconv_t cd, const char *in, size_t *inlen,
    int (*out)(void *, const char *, size_t), void *arg)
{
	char obuf[TS_CHUNK], *op;
	char *ip = (char *)(uintptr_t)in;
	size_t il = *inlen, ol;
	int stop = 0;

	while (il > 0 && !stop) {
		op = obuf;
		ol = sizeof(obuf);
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
			if (errno == EILSEQ) {
				ip++;
				il--;
				if (ol > 0) {
					*op++ = '?';
					ol--;
				}
			} else if (errno != E2BIG) {
				/* EINVAL: incomplete at the end; else give up */
				if (errno != EINVAL)
					il = 0;
				stop = 1;
			}
		}
		if (op > obuf && out(arg, obuf, (size_t)(op - obuf)))
			return 1;
	}
	*inlen = il;
	return 0;
}

/* ---- RFC 2047 encoded words ------------------------------------------ */

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
append_str(void *arg, const char *p, size_t len)
{
	imap_str_add(arg, p, len);
	return 0;
}

/*
 * Decode the encoded word "=?charset?enc?text?=" at p into out; returns
 * the end of the word, or NULL (out untouched) when p does not start a
 * well-formed one.
 */
static const char *
decode_word(const char *p, const char *end, struct imap_str *out)
{
	const char *cs = p + 2, *q, *text, *te;
	char buf[1024];
	size_t n = 0, left;
	uint32_t bits = 0;
	int nbits = 0, v, enc;
	iconv_t cd;

	for (q = cs; q < end && *q != '?' && *q != ' ' && *q != '\t'; q++)
		;
	if (q >= end || *q != '?' || q == cs || end - q < 5 || q[2] != '?')
		return NULL;
	enc = q[1] == 'Q' || q[1] == 'q' ? 'Q' :
	    q[1] == 'B' || q[1] == 'b' ? 'B' : 0;
	if (enc == 0)
		return NULL;
	text = q + 3;
	for (te = text; te + 1 < end && !(te[0] == '?' && te[1] == '=');
	    te++)
		if (*te == ' ' || *te == '\t')
			return NULL;
	if (te + 1 >= end || (size_t)(te - text) > sizeof(buf))
		return NULL;
	for (q = text; q < te; q++) {
		if (enc == 'Q') {
			if (*q == '_')
				buf[n++] = ' ';
			else if (*q == '=' && te - q > 2 &&
			    hexval((unsigned char)q[1]) >= 0 &&
			    hexval((unsigned char)q[2]) >= 0) {
				buf[n++] = (char)(hexval((unsigned char)q[1]) << 4 |
				    hexval((unsigned char)q[2]));
				q += 2;
			} else
				buf[n++] = *q;
		} else if ((v = b64val((unsigned char)*q)) >= 0) {
			bits = bits << 6 | (uint32_t)v;
			if ((nbits += 6) >= 8) {
				nbits -= 8;
				buf[n++] = (char)(bits >> nbits);
			}
		}
	}
	if ((cd = charset_open(cs, (size_t)(text - 3 - cs))) == (iconv_t)-1)
		imap_str_add(out, buf, n);
	else {
		left = n;
		(void)convert(cd, buf, &left, append_str, out);
		iconv_close(cd);
	}
	return te + 2;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
imap_text_hdr_decode(const char *v, size_t len, struct imap_str *out)
{
	const char *p = v, *end = v + len, *q, *next;
	int after_word = 0;

	while (p < end) {
		if (*p == '\r' || *p == '\n') {	/* unfolding */
			p++;
			continue;
		}
		if (after_word && is_blank(*p)) {
			/* blanks between two encoded words are dropped */
			for (q = p; q < end && is_blank(*q); q++)
				;
			if (end - q > 1 && q[0] == '=' && q[1] == '?' &&
			    (next = decode_word(q, end, out)) != NULL) {
				p = next;
				continue;
			}
			for (; p < q; p++)
				if (*p == ' ' || *p == '\t')
					imap_str_addc(out, *p);
			after_word = 0;
			continue;
		}
		if (end - p > 1 && p[0] == '=' && p[1] == '?' &&
		    (next = decode_word(p, end, out)) != NULL) {
			p = next;
			after_word = 1;
			continue;
		}
		imap_str_addc(out, *p++);
		after_word = 0;
	}
}

/* ---- streaming body match -------------------------------------------- */

struct imap_textscan {
	char		*needle;	/* folded */
	size_t		 nlen;
	int		 cte;
	iconv_t		 cd;		/* (iconv_t)-1: no conversion */
	int		 qp_state;	/* 0, 1 after '=', 2 after "=X", 3 "=\r" */
	char		 qp_hex;
	uint32_t	 b64_bits;
	int		 b64_n;
	char		 carry[16];	/* an incomplete multibyte sequence */
	size_t		 ncarry;
	int		 matched;
	size_t		 wlen;		/* bytes in win */
	size_t		 folded;	/* win[0..folded) is folded */
	char		 win[TS_WINDOW + TS_MAX_NEEDLE];
};

struct imap_textscan *
imap_textscan_new(const char *needle, size_t len)
{
	struct imap_textscan *ts;

	if (len > TS_MAX_NEEDLE || (ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	if ((ts->needle = malloc(len + 1)) == NULL) {
		free(ts);
		return NULL;
	}
	memcpy(ts->needle, needle, len);
	ts->needle[len] = '\0';
	imap_text_fold(ts->needle, len);
	ts->nlen = len;
	ts->cd = (iconv_t)-1;
	return ts;
}

void
imap_textscan_free(struct imap_textscan *ts)
{
	if (ts == NULL)
		return;
	if (ts->cd != (iconv_t)-1)
		iconv_close(ts->cd);
	free(ts->needle);
	free(ts);
}

void
imap_textscan_part(struct imap_textscan *ts, const char *cte,
    size_t cte_len, const char *charset, size_t charset_len)
{
	if (ts->cd != (iconv_t)-1)
		iconv_close(ts->cd);
	ts->cd = charset != NULL ? charset_open(charset, charset_len) :
	    (iconv_t)-1;
	ts->cte = CTE_IDENTITY;
	if (cte != NULL && cte_len == 16 &&
	    strncasecmp(cte, "quoted-printable", 16) == 0)
		ts->cte = CTE_QP;
	else if (cte != NULL && cte_len == 6 &&
	    strncasecmp(cte, "base64", 6) == 0)
		ts->cte = CTE_BASE64;
	ts->qp_state = 0;
	ts->b64_bits = 0;
	ts->b64_n = 0;
	ts->ncarry = 0;
	ts->wlen = 0;
	ts->folded = 0;
	ts->matched = ts->nlen == 0;
}

/* UTF-8 text into the window: fold what is new, look, keep the tail. */
static int
window_push(void *arg, const char *p, size_t len)
{
	struct imap_textscan *ts = arg;
	size_t take, keep;

	while (len > 0 && !ts->matched) {
		take = sizeof(ts->win) - ts->wlen;
		if (take > len)
			take = len;
		memcpy(ts->win + ts->wlen, p, take);
		ts->wlen += take;
		p += take;
		len -= take;
		ts->folded += fold_upto(ts->win + ts->folded,
		    ts->wlen - ts->folded);
		if (memmem(ts->win, ts->folded, ts->needle, ts->nlen) !=
		    NULL) {
			ts->matched = 1;
			break;
		}
		/* keep what a match could still start in */
		keep = ts->nlen - 1 + (ts->wlen - ts->folded);
		if (keep < ts->wlen) {
			memmove(ts->win, ts->win + ts->wlen - keep, keep);
			ts->folded -= ts->wlen - keep;
			ts->wlen = keep;
		}
	}
	return ts->matched;
}

/* Decoded bytes of the part: through the charset, into the window. */
static int
text_out(struct imap_textscan *ts, const char *p, size_t len)
{
	char buf[sizeof(ts->carry) + TS_CHUNK];
	size_t n, left;

	if (ts->cd == (iconv_t)-1)
		return window_push(ts, p, len);
	while (len > 0) {
		n = len < TS_CHUNK ? len : TS_CHUNK;
		memcpy(buf, ts->carry, ts->ncarry);
		memcpy(buf + ts->ncarry, p, n);
		left = ts->ncarry + n;
		if (convert(ts->cd, buf, &left, window_push, ts))
			return 1;
		/* a truncated sequence longer than any charset's: drop it */
		if (left > sizeof(ts->carry))
			left = 0;
		memcpy(ts->carry, buf + ts->ncarry + n - left, left);
		ts->ncarry = left;
		p += n;
		len -= n;
	}
	return 0;
}

static size_t
qp_decode(struct imap_textscan *ts, const char *in, size_t len, char *out)
{
	size_t i, n = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		switch (ts->qp_state) {
		case 1:
			if (hexval(c) >= 0) {
				ts->qp_hex = (char)c;
				ts->qp_state = 2;
			} else if (c == '\r')
				ts->qp_state = 3;
			else if (c == '\n')
				ts->qp_state = 0;	/* soft line break */
			else {
				out[n++] = '=';
				out[n++] = (char)c;
				ts->qp_state = 0;
			}
			continue;
		case 2:
			if (hexval(c) >= 0)
				out[n++] = (char)(hexval((unsigned char)
				    ts->qp_hex) << 4 | hexval(c));
			else {
				out[n++] = '=';
				out[n++] = ts->qp_hex;
				out[n++] = (char)c;
			}
			ts->qp_state = 0;
			continue;
		case 3:
			ts->qp_state = 0;
			if (c == '\n')
				continue;
			break;
		}
		if (c == '=')
			ts->qp_state = 1;
		else
			out[n++] = (char)c;
	}
	return n;
}

static size_t
b64_decode(struct imap_textscan *ts, const char *in, size_t len, char *out)
{
	size_t i, n = 0;
	int v;

	for (i = 0; i < len; i++) {
		if ((v = b64val((unsigned char)in[i])) < 0)
			continue;
		ts->b64_bits = ts->b64_bits << 6 | (uint32_t)v;
		if ((ts->b64_n += 6) >= 8) {
			ts->b64_n -= 8;
			out[n++] = (char)(ts->b64_bits >> ts->b64_n);
		}
	}
	return n;
}

int
imap_textscan_feed(struct imap_textscan *ts, const char *p, size_t len)
{
	/* QP may give back the two bytes of an "=X" held from before */
	char dec[TS_CHUNK + 2];
	size_t n, step;

	if (ts->cte == CTE_IDENTITY)
		return ts->matched || text_out(ts, p, len);
	while (len > 0 && !ts->matched) {
		step = len < TS_CHUNK ? len : TS_CHUNK;
		n = ts->cte == CTE_QP ? qp_decode(ts, p, step, dec) :
		    b64_decode(ts, p, step, dec);
		if (text_out(ts, dec, n))
			break;
		p += step;
		len -= step;
	}
	return ts->matched;
}

int
imap_textscan_end(struct imap_textscan *ts)
{
	char tail[2];

	if (ts->cte == CTE_QP && ts->qp_state == 2) {
		tail[0] = '=';
		tail[1] = ts->qp_hex;
		(void)text_out(ts, tail, 2);
	} else if (ts->cte == CTE_QP && ts->qp_state == 1)
		(void)text_out(ts, "=", 1);
	ts->qp_state = 0;
	if (!ts->matched && ts->folded < ts->wlen) {
		ts->folded = ts->wlen;
		ts->matched = memmem(ts->win, ts->wlen, ts->needle,
		    ts->nlen) != NULL;
	}
	return ts->matched;
}
