/*
 * fuzz_smtp_parse.c -- fuzz target for the SMTP module's parsers: the
 * input is a client byte stream split at LF; every line goes through the
 * verb parser, both path parsers (with and without SMTPUTF8), the MAIL
 * and RCPT parameter parsers, BDAT and HELO arguments, and the DATA line
 * filter (dot-stuffing, end mark, bare CR/LF).  Without libFuzzer the
 * replay driver (fuzz_imap_main.c, shared) runs the corpus in make check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *fuzz_imap_corpus = "smtp_parse";	/* the driver's name */

static void
one_line(struct smtp_dot *dot, const char *line, size_t len,
    uint32_t flags)
{
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	char buf[SMTP_AUTH_LINE_MAX], out[SMTP_PATH_MAX + 1];
	const char *args, *rest, *o;
	uint64_t size;
	size_t olen;
	int last, utf8;

	/* The DATA filter sees the raw line, NULs included. */
	(void)smtp_dot_line(dot, line, len, flags, &o, &olen);
	if (len >= sizeof(buf) || memchr(line, '\0', len) != NULL)
		return;
	memcpy(buf, line, len);
	buf[len] = '\0';
	switch (smtp_parse_verb(buf, len, &args)) {
	case SMTP_CMD_MAIL:
	case SMTP_CMD_RCPT:
		for (utf8 = 0; utf8 < 2; utf8++) {
			if (smtp_parse_path(args, "FROM:", 1, utf8, out,
			    sizeof(out), &rest) == 0) {
				(void)smtp_parse_mail_params(rest, &mp);
				(void)smtp_addr_domain(out);
			}
			if (smtp_parse_path(args, "TO:", 0, utf8, out,
			    sizeof(out), &rest) == 0)
				(void)smtp_parse_rcpt_params(rest, &rp);
		}
		break;
	case SMTP_CMD_BDAT:
		(void)smtp_parse_bdat(args, &size, &last);
		break;
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		(void)smtp_parse_helo(args, out, sizeof(out));
		break;
	default:
		(void)smtp_xtext_valid(args, strlen(args));
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct smtp_dot dot;
	size_t pos = 0;

	smtp_dot_init(&dot);
	while (pos < size) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t len = nl == NULL ? size - pos : (size_t)(nl - in) - pos;
		uint32_t flags = 0;

		if (nl != NULL) {
			flags = KURIR_LINE_LF;
			if (len > 0 && in[pos + len - 1] == '\r') {
				len--;
				flags = KURIR_LINE_CRLF;
			}
		}
		if (len > 4096) {
			len = 4096;
			flags |= KURIR_LINE_TOOLONG;
		}
		one_line(&dot, in + pos, len, flags);
		pos = nl == NULL ? size : (size_t)(nl - in) + 1;
	}
	return 0;
}
