/*
 * imap_session.c -- one IMAP connection's input and output: lines and
 * literals into the command assembler, pipelined commands run one at a
 * time (input pauses while a command waits on SASL, storage or a full
 * output queue), tagged completion with the pending untagged updates,
 * the bad-command counter and teardown.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"

void
imap_write(struct imap_sess *s, const void *buf, size_t len)
{
	if (s->c != NULL && len > 0)
		imap_api->conn_write(s->c, buf, len);
}

static void
vprintf_out(struct imap_sess *s, const char *prefix, const char *fmt,
    va_list ap)
{
	char buf[2048], *big;
	size_t plen = strlen(prefix);
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n < sizeof(buf)) {
		imap_write(s, prefix, plen);
		imap_write(s, buf, (size_t)n);
	} else if ((big = malloc((size_t)n + 1)) != NULL) {
		vsnprintf(big, (size_t)n + 1, fmt, ap2);
		imap_write(s, prefix, plen);
		imap_write(s, big, (size_t)n);
		free(big);
	}
	va_end(ap2);
}

void
imap_printf(struct imap_sess *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf_out(s, "", fmt, ap);
	va_end(ap);
}

static void
cmd_end(struct imap_sess *s)
{
	imap_cmd_free(&s->cmd);
	s->in_cmd = 0;
	s->uid = 0;
	/* A parsed structure may be large: an idle session keeps none. */
	imap_msginfo_forget(s);
	if (s->paused && !s->closing) {
		s->paused = 0;
		imap_api->conn_resume(s->c);
	}
}

static void
done_v(struct imap_sess *s, int sync, int allow_expunge, const char *status,
    const char *fmt, va_list ap)
{
	if (sync && s->state == IMAP_ST_SELECTED && s->view != NULL)
		imap_view_sync(s, allow_expunge);
	imap_printf(s, "%s %s ", s->cmd.tag, status);
	vprintf_out(s, "", fmt, ap);
	imap_write(s, "\r\n", 2);
	cmd_end(s);
}

void
imap_done(struct imap_sess *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	done_v(s, 1, 1, status, fmt, ap);
	va_end(ap);
}

void
imap_done_noexpunge(struct imap_sess *s, const char *status,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	done_v(s, 1, 0, status, fmt, ap);
	va_end(ap);
}

void
imap_done_storage_error(struct imap_sess *s, int rc, const char *what)
{
	switch (rc) {
	case KURIR_E_NOTFOUND:
		imap_done(s, "NO", "[NONEXISTENT] %s: no such mailbox", what);
		break;
	case KURIR_E_EXISTS:
		imap_done(s, "NO", "[ALREADYEXISTS] %s: already exists", what);
		break;
	case KURIR_E_OVERQUOTA:
		imap_done(s, "NO", "[OVERQUOTA] %s: quota exceeded", what);
		break;
	case KURIR_E_TOOBIG:
		imap_done(s, "NO", "[TOOBIG] %s: too big", what);
		break;
	case KURIR_E_INVALID:
		imap_done(s, "NO", "[CANNOT] %s: not possible", what);
		break;
	case KURIR_E_UNSUPPORTED:
		imap_done(s, "NO", "[CANNOT] %s: not supported", what);
		break;
	default:
		imap_done(s, "NO", "[UNAVAILABLE] %s: try again later", what);
		break;
	}
}

void
imap_bye(struct imap_sess *s, const char *text)
{
	if (s->closing)
		return;
	imap_printf(s, "* BYE %s\r\n", text);
	s->closing = 1;
	imap_api->conn_close(s->c);
}

void
imap_capability_string(struct imap_sess *s, struct imap_str *out)
{
	imap_str_adds(out, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE "
	    "NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE");
	imap_str_printf(out, " APPENDLIMIT=%llu",
	    (unsigned long long)imap_conf.max_message);
	if (s->state == IMAP_ST_NOAUTH) {
		const char *mechs = imap_api->sasl_mechs(s->c);

		if (!imap_api->conn_is_tls(s->c))
			imap_str_adds(out, " STARTTLS");
		if (!imap_api->conn_plaintext_ok(s->c))
			imap_str_adds(out, " LOGINDISABLED");
		while (mechs != NULL && *mechs != '\0') {
			const char *sp = strchr(mechs, ' ');
			size_t n = sp == NULL ? strlen(mechs) :
			    (size_t)(sp - mechs);

			if (n > 0) {
				imap_str_adds(out, " AUTH=");
				imap_str_add(out, mechs, n);
			}
			mechs += n;
			while (*mechs == ' ')
				mechs++;
		}
	}
}

static void
job_run(struct imap_sess *s)
{
	struct imap_job *j = s->job;
	int rc;

	if (j == NULL)
		return;
	rc = j->step(s, j);
	if (rc == 0)
		return;		/* on_drain will call again */
	if (s->job == j) {
		s->job = NULL;
		j->free(j);
	}
}

void
imap_job_start(struct imap_sess *s, struct imap_job *j)
{
	s->job = j;
	job_run(s);
}

void
imap_session_drain(struct imap_sess *s)
{
	if (s->job != NULL && !s->closing)
		job_run(s);
}

static void
bad_command(struct imap_sess *s, const char *tag, const char *text)
{
	imap_printf(s, "%s BAD %s\r\n", tag, text);
	if (++s->bad_count >= imap_conf.max_bad && imap_conf.max_bad > 0)
		imap_bye(s, "Too many invalid commands");
}

/* The tag at the start of the command buffer, for early replies. */
static void
buffer_tag(struct imap_sess *s, char *tag, size_t cap)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < s->cb.len; i++) {
		char c = s->cb.buf[i];

		if (c == ' ' || !imap_is_atom_char((unsigned char)c))
			break;
		tag[i] = c;
	}
	tag[i] = '\0';
	if (i == 0)
		strcpy(tag, "*");
}

static void
run_command(struct imap_sess *s)
{
	const char *err;
	int rc;

	rc = imap_parse_command(s->cb.buf, s->cb.len, imap_conf.max_args,
	    &s->cmd, &err);
	imap_cmdbuf_reset(&s->cb);
	if (rc != IMAP_PARSE_OK) {
		bad_command(s, rc == IMAP_PARSE_NOTAG ? "*" : s->cmd.tag, err);
		imap_cmd_free(&s->cmd);
		return;
	}
	s->in_cmd = 1;
	imap_dispatch(s);
	if (s->in_cmd && !s->closing && !s->paused && !s->sasl_wait &&
	    !s->idle) {
		/* Still running: hold pipelined input until it answers. */
		s->paused = 1;
		imap_api->conn_pause(s->c);
	}
}

void
imap_session_input_line(struct imap_sess *s, char *line, size_t len,
    uint32_t flags)
{
	uint64_t lit;
	int sync, rc;
	char tag[IMAP_TAG_MAX + 2];

	if (s->closing)
		return;
	if (s->append != NULL) {
		imap_append_line(s, line, len);
		return;
	}
	if (s->idle) {
		imap_idle_line(s, line, len);
		return;
	}
	if (s->sasl_wait) {
		imap_auth_response(s, line, len);
		return;
	}
	if (s->in_cmd) {
		/* Input should be paused; keep the line for later. */
		return;
	}
	if (flags & KURIR_LINE_TOOLONG) {
		imap_cmdbuf_reset(&s->cb);
		bad_command(s, "*", "Line too long");
		return;
	}
	rc = imap_cmdbuf_line(&s->cb, line, len, &lit, &sync);
	switch (rc) {
	case IMAP_CB_COMPLETE:
		run_command(s);
		return;
	case IMAP_CB_LITERAL:
		if (imap_append_literal(s, lit, sync))
			return;
		if (sync)
			imap_printf(s, "+ Ready for literal data\r\n");
		if (lit > 0)
			imap_api->conn_read_bytes(s->c, lit);
		return;
	case IMAP_CB_TOOBIG:
		if (imap_append_literal(s, lit, sync))
			return;		/* APPEND has its own limit */
		buffer_tag(s, tag, sizeof(tag));
		imap_printf(s, "%s NO [TOOBIG] Literal too big\r\n", tag);
		imap_cmdbuf_reset(&s->cb);
		return;
	case IMAP_CB_TOOBIG_CLOSE:
		if (imap_append_literal(s, lit, sync))
			return;
		imap_cmdbuf_reset(&s->cb);
		imap_bye(s, "[TOOBIG] Non-synchronizing literal too big");
		return;
	case IMAP_CB_BADLIT:
		imap_cmdbuf_reset(&s->cb);
		imap_bye(s, "Bad literal size");
		return;
	case IMAP_CB_TOOLONG:
	default:
		buffer_tag(s, tag, sizeof(tag));
		imap_cmdbuf_reset(&s->cb);
		if (imap_literal_tail(line, len, &lit, &sync) == 1 && !sync) {
			imap_bye(s, "Command too long");
			return;
		}
		bad_command(s, tag, "Command too long");
		return;
	}
}

void
imap_session_input_data(struct imap_sess *s, const char *buf, size_t len,
    uint64_t remaining)
{
	if (s->append != NULL) {
		imap_append_data(s, buf, len, remaining);
		return;
	}
	imap_cmdbuf_data(&s->cb, buf, len);
}

void
imap_session_free(struct imap_sess *s)
{
	if (s->job != NULL) {
		s->job->free(s->job);
		s->job = NULL;
	}
	imap_append_free(s);
	imap_idle_stop(s);
	if (s->sasl != NULL)
		imap_api->sasl_free(s->sasl);
	imap_view_close(s);
	imap_msginfo_forget(s);
	if (s->store != NULL)
		imap_api->storage()->store_close(s->store);
	imap_cmd_free(&s->cmd);
	imap_cmdbuf_free(&s->cb);
	free(s);
}
