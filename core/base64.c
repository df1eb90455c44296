/*
 * base64.c -- strict RFC 4648 base64 (see base64.h).  Strict because SASL
 * data compared byte for byte (SCRAM's c= attribute) must have one
 * encoding only.
 */
#include <stdint.h>

#include "base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_encode(const void *in, size_t len, char *out, size_t cap)
{
	const unsigned char	*p = in;
	size_t			 i, o = 0;
	uint32_t		 v;

	if (cap < BASE64_ENCODED_LEN(len))
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int
b64_value(unsigned char c)
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

int
base64_decode(const char *in, size_t len, void *out, size_t cap)
{
	unsigned char	*q = out;
	size_t		 i, o = 0, pad = 0;
	uint32_t	 v;
	int		 d, j;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	if (len / 4 * 3 - pad > cap)
		return -1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == len &&
			    j >= 4 - (int)pad) {
				v <<= 6;
				continue;
			}
			if ((d = b64_value((unsigned char)in[i + j])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		q[o++] = v >> 16 & 0xff;
		if (i + 4 < len || pad < 2)
			q[o++] = v >> 8 & 0xff;
		if (i + 4 < len || pad < 1)
			q[o++] = v & 0xff;
		/* Non-canonical trailing bits: reject, one encoding only. */
		if (i + 4 == len && ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0)))
			return -1;
	}
	return (int)o;
}
