/*
 * pop3_session.c -- a POP3 connection: greeting, the command dispatch by
 * state (RFC 1939 AUTHORIZATION and TRANSACTION), error counting, input
 * pacing around asynchronous work, and the end of the session.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

static void
pop3_vreply(struct pop3_sess *s, const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	if (s->gone)
		return;
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)(sizeof(buf) - 3);
	buf[n++] = '\r';
	buf[n++] = '\n';
	pop3_api->conn_write(s->c, buf, (size_t)n);
}

void
pop3_reply(struct pop3_sess *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, fmt, ap);
	va_end(ap);
}

/* A -ERR the client earned: counted, and too many end the session. */
void
pop3_err(struct pop3_sess *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, fmt, ap);
	va_end(ap);
	if (s->gone || ++s->errors < pop3_conf.max_errors)
		return;
	pop3_api->conn_log(s->c, KURIR_LOG_NOTICE,
	    "too many errors (%u), closing", s->errors);
	s->state = POP3_ST_CLOSED;
	pop3_api->conn_close(s->c);
}

/* Asynchronous work starts: no input until pop3_resume(). */
void
pop3_pause(struct pop3_sess *s, uint32_t state)
{
	s->state = state;
	if (!s->paused) {
		s->paused = 1;
		pop3_api->conn_pause(s->c);
	}
}

void
pop3_resume(struct pop3_sess *s, uint32_t state)
{
	/* Closed meanwhile (too many errors): stay closed. */
	if (s->gone || s->state == POP3_ST_CLOSED)
		return;
	s->state = state;
	if (s->shutdown) {
		/* The server is stopping and the command is done. */
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
		s->state = POP3_ST_CLOSED;
		pop3_api->conn_close(s->c);
		return;
	}
	if (s->paused) {
		s->paused = 0;
		pop3_api->conn_resume(s->c);
	}
}

int
pop3_on_connect(struct kurir_conn *c, void **sess_r)
{
	struct pop3_sess *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KURIR_E_NOMEM;
	s->c = c;
	s->state = POP3_ST_AUTH;
	s->lockfd = -1;
	pop3_api->conn_set_timeout(c, pop3_conf.idle_timeout);
	pop3_reply(s, "+OK kurir POP3 server ready.");
	*sess_r = s;
	return 0;
}

static void
pop3_dispatch_auth(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	switch (cmd->id) {
	case POP3_CMD_USER:
		pop3_cmd_user(s, cmd);
		break;
	case POP3_CMD_PASS:
		pop3_cmd_pass(s, cmd);
		break;
	case POP3_CMD_AUTH:
		pop3_cmd_auth(s, cmd);
		break;
	case POP3_CMD_STLS:
		pop3_cmd_stls(s);
		break;
	case POP3_CMD_CAPA:
		pop3_cmd_capa(s);
		break;
	case POP3_CMD_QUIT:
		pop3_reply(s, "+OK kurir POP3 server signing off.");
		s->state = POP3_ST_CLOSED;
		pop3_api->conn_close(s->c);
		break;
	default:
		pop3_err(s, "-ERR %s not valid before login.", cmd->name);
		break;
	}
}

static void
pop3_dispatch_trans(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	switch (cmd->id) {
	case POP3_CMD_STAT:
		pop3_cmd_stat(s);
		break;
	case POP3_CMD_LIST:
		pop3_cmd_list(s, cmd, 0);
		break;
	case POP3_CMD_UIDL:
		pop3_cmd_list(s, cmd, 1);
		break;
	case POP3_CMD_RETR:
	case POP3_CMD_TOP:
		pop3_cmd_retr(s, cmd);
		break;
	case POP3_CMD_DELE:
		pop3_cmd_dele(s, cmd);
		break;
	case POP3_CMD_RSET:
		pop3_cmd_rset(s);
		break;
	case POP3_CMD_NOOP:
		pop3_reply(s, "+OK");
		break;
	case POP3_CMD_CAPA:
		pop3_cmd_capa(s);
		break;
	case POP3_CMD_QUIT:
		pop3_drop_update(s);
		break;
	default:
		pop3_err(s, "-ERR %s not valid after login.", cmd->name);
		break;
	}
}

void
pop3_on_line(void *sess, char *line, size_t len, uint32_t flags)
{
	struct pop3_sess *s = sess;
	struct pop3_cmd cmd;
	int r;

	switch (s->state) {
	case POP3_ST_SASL:
		pop3_sasl_line(s, line, len, flags);
		return;
	case POP3_ST_AUTH:
	case POP3_ST_TRANS:
		break;
	case POP3_ST_CLOSED:
		return;
	default:
		/* Input is paused while work runs; a line here would be
		 * answered out of order, so it is dropped. */
		pop3_api->conn_log(s->c, KURIR_LOG_WARNING,
		    "line received while busy (state %u), dropped", s->state);
		explicit_bzero(line, len);
		return;
	}
	if ((flags & KURIR_LINE_TOOLONG) || len + 2 > pop3_conf.max_line) {
		explicit_bzero(line, len);
		pop3_err(s, "-ERR Line too long.");
		return;
	}
	r = pop3_parse(line, len, &cmd);
	switch (r) {
	case POP3_PARSE_OK:
		if (s->state == POP3_ST_AUTH)
			pop3_dispatch_auth(s, &cmd);
		else
			pop3_dispatch_trans(s, &cmd);
		break;
	case POP3_PARSE_EMPTY:
		pop3_err(s, "-ERR Empty command.");
		break;
	case POP3_PARSE_UNKNOWN:
		pop3_err(s, "-ERR Unknown command.");
		break;
	case POP3_PARSE_BADCHAR:
		pop3_err(s, "-ERR Invalid characters in command.");
		break;
	default:
		pop3_err(s, "-ERR Wrong number of arguments for %s.",
		    cmd.name);
		break;
	}
	/* The line may have held a password (PASS, AUTH ... initial). */
	explicit_bzero(line, len);
}

void
pop3_on_tls(void *sess, int status)
{
	struct pop3_sess *s = sess;

	if (status < 0) {
		s->state = POP3_ST_CLOSED;
		return;
	}
	/* RFC 2595: forget everything learnt before the handshake. */
	pop3_auth_reset(s);
	s->state = POP3_ST_AUTH;
}

void
pop3_on_drain(void *sess)
{
	struct pop3_sess *s = sess;

	if (s->state == POP3_ST_STREAM)
		pop3_stream_run(s);
}

void
pop3_on_timeout(void *sess)
{
	struct pop3_sess *s = sess;

	if (s->state != POP3_ST_CLOSED)
		pop3_reply(s, "-ERR Disconnected for inactivity.");
	s->state = POP3_ST_CLOSED;
}

void
pop3_on_shutdown(void *sess)
{
	struct pop3_sess *s = sess;

	switch (s->state) {
	case POP3_ST_WAIT:
	case POP3_ST_STREAM:
	case POP3_ST_UPDATE:
		/* Let the command finish; pop3_resume() closes. */
		s->shutdown = 1;
		break;
	case POP3_ST_CLOSED:
		break;
	default:
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
		s->state = POP3_ST_CLOSED;
		pop3_api->conn_close(s->c);
		break;
	}
}

void
pop3_sess_free(struct pop3_sess *s)
{
	if (s->sasl != NULL)
		pop3_api->sasl_free(s->sasl);
	free(s->msgs);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
pop3_on_close(void *sess)
{
	struct pop3_sess *s = sess;

	s->gone = 1;
	s->state = POP3_ST_CLOSED;
	if (s->sasl != NULL) {
		/* Cancels a check in flight: its callback will not come. */
		pop3_api->sasl_free(s->sasl);
		s->sasl = NULL;
	}
	if (s->job)
		return;		/* the job's end frees the session */
	pop3_drop_abandon(s);
}
