/*
 * smtp_reply.c -- replies: "CODE X.Y.Z text" with the RFC 3463 enhanced
 * status code, single or multi-line (RFC 5321 4.2.1).  Each line is
 * formatted into a bounded buffer and queued with conn_write().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp.h"

/* RFC 5321 4.5.3.1.5 says 512; SASL challenges (334) may be longer. */
#define SMTP_REPLY_MAX	2048

static void
smtp_reply_v(struct smtp_session *s, int code, char sep, const char *esc,
    const char *fmt, va_list ap)
{
	char buf[SMTP_REPLY_MAX];
	size_t n;
	int r;

	if (s->closing || s->gone)
		return;
	if (esc != NULL)
		r = snprintf(buf, sizeof(buf), "%03d%c%s ", code, sep, esc);
	else
		r = snprintf(buf, sizeof(buf), "%03d%c", code, sep);
	n = (size_t)r;
	r = vsnprintf(buf + n, sizeof(buf) - n - 2, fmt, ap);
	if (r < 0)
		r = 0;
	n += (size_t)r < sizeof(buf) - n - 2 ? (size_t)r : sizeof(buf) - n - 3;
	buf[n++] = '\r';
	buf[n++] = '\n';
	(void)smtp_api->conn_write(s->conn, buf, n);
}

void
smtp_reply(struct smtp_session *s, int code, const char *esc,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, code, ' ', esc, fmt, ap);
	va_end(ap);
}

void
smtp_reply_line(struct smtp_session *s, int code, int last,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, code, last ? ' ' : '-', NULL, fmt, ap);
	va_end(ap);
}
