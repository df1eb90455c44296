/*
 * fuzz_imap_parse.c -- fuzz target for the IMAP command assembler and
 * parser: the input is a client byte stream, split into lines and
 * literals as the core would, each complete command parsed and its
 * argument tree walked, sequence sets tried on every atom.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_cmdbuf.h"
#include "imap_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *fuzz_imap_corpus = "imap_parse";

static size_t
walk(const struct imap_arg *a, int depth)
{
	struct imap_seq_range r[64];
	size_t n = 0;

	for (; a != NULL; a = a->next) {
		n++;
		if (a->type == IMAP_ARG_LIST)
			n += walk(a->child, depth + 1);
		else if (a->type == IMAP_ARG_ATOM &&
		    imap_seqset_parse(a->str, r, 64) > 0)
			imap_seqset_resolve(r, 64, 10);
	}
	return n;
}

static void
one_command(struct imap_cmdbuf *cb)
{
	struct imap_cmd cmd;
	const char *err;

	if (imap_parse_command(cb->buf, cb->len, 256, &cmd, &err) ==
	    IMAP_PARSE_OK)
		walk(cmd.args, 0);
	imap_cmd_free(&cmd);
	imap_cmdbuf_reset(cb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct imap_cmdbuf cb;
	size_t pos = 0;

	imap_cmdbuf_init(&cb, 4096, 1024);
	while (pos < size) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t len = nl == NULL ? size - pos : (size_t)(nl - in) - pos;
		uint64_t lit;
		int sync, rc;

		if (len > 0 && in[pos + len - 1] == '\r')
			len--;
		rc = imap_cmdbuf_line(&cb, in + pos, len, &lit, &sync);
		pos = nl == NULL ? size : (size_t)(nl - in) + 1;
		if (rc == IMAP_CB_COMPLETE) {
			one_command(&cb);
			continue;
		}
		if (rc != IMAP_CB_LITERAL) {
			imap_cmdbuf_reset(&cb);
			continue;
		}
		/* Literal: up to lit raw bytes, in chunks of 7. */
		while (lit > 0 && pos < size) {
			size_t n = lit < 7 ? (size_t)lit : 7;

			if (n > size - pos)
				n = size - pos;
			imap_cmdbuf_data(&cb, in + pos, n);
			pos += n;
			lit -= n;
		}
	}
	imap_cmdbuf_free(&cb);
	return 0;
}
