/*
 * fuzz_pop3.c -- fuzz target for the POP3 module's pure parts: the input
 * is split into lines and each parsed as a command (arguments tried as
 * message numbers), then the whole input goes through the RETR/TOP dot
 * encoder in pieces whose sizes come from the input, and the output is
 * checked against the encoder's bounds and the wire rules (CRLF only,
 * no undoubled leading dot, one terminator at the end).  The replay
 * driver is the one the IMAP targets use (fuzz_imap_main.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_dot.h"
#include "pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *fuzz_imap_corpus = "pop3";

static void
fuzz_commands(const uint8_t *data, size_t size)
{
	struct pop3_cmd cmd;
	char line[512];
	size_t pos = 0, len, i;
	uint32_t n;

	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);

		len = nl == NULL ? size - pos : (size_t)(nl - data) - pos;
		if (len < sizeof(line)) {
			memcpy(line, data + pos, len);
			line[len] = '\0';
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
			if (pop3_parse(line, len, &cmd) == POP3_PARSE_OK) {
				if (cmd.id == 0 || cmd.name == NULL ||
				    cmd.nargs > POP3_MAX_ARGS)
					abort();
				for (i = 0; i < cmd.nargs; i++)
					(void)pop3_parse_num(cmd.args[i], &n);
			}
		}
		pos += len + 1;
		if (nl == NULL)
			break;
	}
}

/* The wire form: every line ends in CRLF, no bare CR or LF, a line
 * starting with '.' is either the terminator (last) or has "..". */
static void
check_wire(const char *w, size_t len)
{
	size_t i, bol = 0;

	if (len < 3 || memcmp(w + len - 3, ".\r\n", 3) != 0)
		abort();
	for (i = 0; i < len; i++) {
		if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
			abort();
		if (w[i] == '\r' && (i + 1 == len || w[i + 1] != '\n'))
			abort();
		if (w[i] == '\n') {
			if (w[bol] == '.' && i + 1 != len && w[bol + 1] != '.')
				abort();
			bol = i + 1;
		}
	}
}

static int
lone_cr(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'))
			return 1;
	return 0;
}

static void
fuzz_dot(const uint8_t *data, size_t size)
{
	struct pop3_dot d;
	char *out;
	size_t pos = 0, o = 0, piece, step;
	int64_t lines = size > 0 ? (int64_t)(data[0] % 8) - 1 : -1;

	if ((out = malloc(POP3_DOT_OUT_MAX(size) + POP3_DOT_FINISH_MAX +
	    1)) == NULL)
		return;
	pop3_dot_init(&d, lines);
	step = size > 1 ? (size_t)data[1] % 64 + 1 : 1;
	while (pos < size && !d.done) {
		piece = size - pos < step ? size - pos : step;
		o += pop3_dot_encode(&d, (const char *)data + pos, piece,
		    out + o);
		if (o > POP3_DOT_OUT_MAX(pos + piece))
			abort();
		pos += piece;
	}
	o += pop3_dot_finish(&d, out + o);
	/* A CR not before an LF is message text the encoder passes on:
	 * the wire rules hold for input without one. */
	if (!lone_cr(data, size))
		check_wire(out, o);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_commands(data, size);
	fuzz_dot(data, size);
	return 0;
}
