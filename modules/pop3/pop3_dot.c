/*
 * pop3_dot.c -- see pop3_dot.h.  Works a line segment at a time (memchr
 * for the LF, memcpy for the text) so the common CRLF message costs
 * little more than a copy.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pop3_dot.h"

void
pop3_dot_init(struct pop3_dot *d, int64_t body_lines)
{
	memset(d, 0, sizeof(*d));
	d->bol = 1;
	d->lines_left = body_lines < 0 ? -1 : body_lines;
}

/* A line ended (its LF was just written): count it for TOP. */
static void
pop3_dot_eol(struct pop3_dot *d)
{
	int empty;

	empty = d->line_len == 0 || (d->line_len == 1 && d->prev_cr);
	if (!d->in_body) {
		if (empty) {
			d->in_body = 1;
			if (d->lines_left == 0)
				d->done = 1;
		}
	} else if (d->lines_left > 0) {
		if (--d->lines_left == 0)
			d->done = 1;
	}
	d->bol = 1;
	d->prev_cr = 0;
	d->line_len = 0;
}

size_t
pop3_dot_encode(struct pop3_dot *d, const char *in, size_t len, char *out)
{
	const char *p = in, *end = in + len, *nl;
	char *o = out;
	size_t seg;

	while (p < end && !d->done) {
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (size_t)((nl != NULL ? nl : end) - p);
		if (seg > 0) {
			if (d->bol && *p == '.')
				*o++ = '.';
			memcpy(o, p, seg);
			o += seg;
			d->bol = 0;
			d->prev_cr = p[seg - 1] == '\r';
			d->line_len += seg;
			p += seg;
		}
		if (nl == NULL)
			break;
		/* A bare LF becomes CRLF; a CRLF stays as it is. */
		if (!d->prev_cr)
			*o++ = '\r';
		*o++ = '\n';
		p++;
		pop3_dot_eol(d);
	}
	return (size_t)(o - out);
}

size_t
pop3_dot_finish(struct pop3_dot *d, char *out)
{
	char *o = out;

	if (!d->bol) {
		/* The message ended inside a line: close it. */
		if (!d->prev_cr)
			*o++ = '\r';
		*o++ = '\n';
	}
	memcpy(o, ".\r\n", 3);
	o += 3;
	return (size_t)(o - out);
}
