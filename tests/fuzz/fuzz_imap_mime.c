/*
 * fuzz_imap_mime.c -- fuzz target for the MIME structure parser: the
 * input is a message, fed in chunks whose size comes from its first
 * byte; the result is rendered, serialised, loaded back and every part
 * path up to depth 3 is resolved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"
#include "imap_msginfo.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *fuzz_imap_corpus = "imap_mime";

static const struct imap_mime_limits lim = {
	.max_parts = 64, .max_depth = 8, .max_header_value = 512,
	.max_values = 8192,
};

static void
walk(const struct imap_msginfo *mi, const char *msg, size_t size)
{
	uint32_t path[3];
	int p, e;
	volatile char sink = 0;

	for (path[0] = 1; path[0] <= 4; path[0]++)
		for (path[1] = 1; path[1] <= 4; path[1]++)
			for (path[2] = 1; path[2] <= 4; path[2]++) {
				size_t n;

				for (n = 1; n <= 3; n++) {
					p = imap_msginfo_part(mi, path, n);
					if (p < 0)
						continue;
					e = imap_msginfo_message(mi, p);
					if (mi->parts[p].body_off +
					    mi->parts[p].body_len <= size &&
					    mi->parts[p].body_len > 0)
						sink ^= msg[mi->parts[p].body_off];
					(void)e;
				}
			}
	(void)sink;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_mime m;
	struct imap_msginfo mi;
	struct imap_str out;
	const char *msg = (const char *)data;
	size_t chunk, off;
	char *blob;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 17 + 1;
	if (imap_mime_init(&m, &lim) < 0)
		return 0;
	for (off = 0; off < size; off += chunk)
		imap_mime_feed(&m, msg + off, size - off < chunk ?
		    size - off : chunk);
	imap_mime_finish(&m);
	imap_str_init(&out, 1 << 22);
	if (imap_mime_serialize(&m, &out, 1 << 22) == 0 &&
	    (blob = malloc(out.len)) != NULL) {
		memcpy(blob, out.s, out.len);
		if (imap_msginfo_load(&mi, blob, out.len) == 0)
			walk(&mi, msg, size);
		imap_msginfo_free(&mi);
	}
	imap_str_free(&out);
	imap_mime_free(&m);
	/* The same bytes as a (damaged) cache blob. */
	if ((blob = malloc(size)) != NULL) {
		memcpy(blob, data, size);
		if (imap_msginfo_load(&mi, blob, size) == 0)
			walk(&mi, msg, 0);
		imap_msginfo_free(&mi);
	}
	return 0;
}
