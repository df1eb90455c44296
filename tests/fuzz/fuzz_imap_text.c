/*
 * fuzz_imap_text.c -- fuzz target for SEARCH's text decoding: the input
 * is decoded as a header value, then scanned as a body part whose
 * transfer encoding, charset and chunk size come from its first bytes,
 * with its next bytes (up to a NUL) as the needle.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_textsearch.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *fuzz_imap_corpus = "imap_text";

static const char *const ctes[] = { NULL, "quoted-printable", "base64" };
static const char *const charsets[] = {
	NULL, "utf-8", "iso-8859-1", "UTF-16LE", "shift_jis", "x-unknown"
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_textscan *ts;
	struct imap_str out;
	const char *p = (const char *)data, *cte, *cs, *nul;
	size_t step, nlen, off, n;

	imap_str_init(&out, 65536);
	imap_text_hdr_decode(p, size, &out);
	imap_str_free(&out);
	if (size < 2)
		return 0;
	cte = ctes[data[0] % 3];
	cs = charsets[(data[0] / 3) % 6];
	step = (size_t)data[1] + 1;
	p += 2;
	size -= 2;
	nul = memchr(p, '\0', size);
	nlen = nul != NULL ? (size_t)(nul - p) : (size < 8 ? size : 8);
	if ((ts = imap_textscan_new(p, nlen)) == NULL)
		return 0;
	p += nlen;
	size -= nlen;
	imap_textscan_part(ts, cte, cte != NULL ? strlen(cte) : 0, cs,
	    cs != NULL ? strlen(cs) : 0);
	for (off = 0; off < size; off += n) {
		n = size - off < step ? size - off : step;
		if (imap_textscan_feed(ts, p + off, n))
			break;
	}
	(void)imap_textscan_end(ts);
	imap_textscan_free(ts);
	return 0;
}
