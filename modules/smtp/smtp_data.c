/*
 * smtp_data.c -- the DATA line filter: finds the end-of-data mark,
 * removes dot-stuffing (RFC 5321 4.5.2) and notes bare line endings.
 *
 * SMTP smuggling.  The core's line reader splits at LF and says whether
 * a line ended in CR LF or a bare LF; a CR not followed by LF stays in
 * the line.  The message ends only at CR LF "." CR LF: the "." line must
 * end in CR LF and so must the line before it (or the DATA command).
 * "." ended by a bare LF, LF "." CR LF, and CR "." CR are content.  A
 * message that used a bare LF or bare CR is either refused after its
 * end (smtp_bare_newline = reject) or stored with every line ended by
 * CR LF (normalize, the default: bare CRs are kept as data bytes and
 * never end anything), so what is stored has one unambiguous form.
 */
#include <string.h>

#include "smtp.h"

void
smtp_dot_init(struct smtp_dot *d)
{
	/* The DATA command line itself ended in CR LF (or was refused). */
	d->prev_crlf = 1;
	d->bare = 0;
	d->toolong = 0;
}

int
smtp_dot_line(struct smtp_dot *d, const char *line, size_t len,
    uint32_t flags, const char **out_r, size_t *outlen_r)
{
	int crlf = (flags & KURIR_LINE_CRLF) != 0;

	if (crlf && d->prev_crlf && len == 1 && line[0] == '.' &&
	    (flags & KURIR_LINE_TOOLONG) == 0)
		return (1);
	if ((flags & KURIR_LINE_LF) || memchr(line, '\r', len) != NULL)
		d->bare = 1;
	d->prev_crlf = crlf;
	if (flags & KURIR_LINE_TOOLONG) {
		/* The core cut the line and skipped to its LF, so its ending
		 * is unknown.  The message is refused anyway; counting the
		 * line as CR LF-ended lets "." end the data, so the rest of
		 * the session stays in step. */
		d->toolong = 1;
		if ((flags & KURIR_LINE_LF) == 0)
			d->prev_crlf = 1;
	}
	/* A leading dot was doubled by the client: drop one. */
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	*out_r = line;
	*outlen_r = len;
	return (0);
}
