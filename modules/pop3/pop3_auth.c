/*
 * pop3_auth.c -- the AUTHORIZATION state: USER/PASS (RFC 1939), AUTH
 * with an optional initial response (RFC 5034), STLS (RFC 2595) and the
 * results of the core's SASL checks, which may arrive later or at once.
 */
#include <stdio.h>
#include <string.h>

#include "pop3.h"

#define POP3_MSG_PLAIN	"-ERR [AUTH] Plaintext authentication disallowed " \
			"on non-secure (TLS) connections."

/* Free a finished exchange, once sasl_start/step has handed it back. */
static void
pop3_sasl_release(struct pop3_sess *s)
{
	if (s->sasl_done && !s->sasl_starting && s->sasl != NULL) {
		pop3_api->sasl_free(s->sasl);
		s->sasl = NULL;
	}
}

void
pop3_auth_reset(struct pop3_sess *s)
{
	if (s->sasl != NULL) {
		pop3_api->sasl_free(s->sasl);
		s->sasl = NULL;
	}
	s->sasl_done = 0;
	explicit_bzero(s->user, sizeof(s->user));
	s->have_user = 0;
}

static void
pop3_auth_cb(void *arg, int status, const char *text)
{
	struct pop3_sess *s = arg;

	s->sasl_called = 1;
	if (status != KURIR_SASL_CONTINUE)
		s->sasl_done = 1;
	pop3_sasl_release(s);
	if (s->gone)
		return;
	switch (status) {
	case KURIR_SASL_CONTINUE:
		pop3_reply(s, "+ %s", text != NULL ? text : "");
		pop3_resume(s, POP3_ST_SASL);
		return;
	case KURIR_SASL_OK:
		if (text == NULL || *text == '\0' ||
		    strlen(text) >= sizeof(s->authuser)) {
			pop3_reply(s, "-ERR [SYS/TEMP] Internal error.");
			break;
		}
		strcpy(s->authuser, text);
		explicit_bzero(s->user, sizeof(s->user));
		s->have_user = 0;
		/* Still paused: the maildrop opens, then TRANSACTION. */
		pop3_drop_open(s);
		return;
	case KURIR_SASL_FAIL:
		pop3_err(s, "-ERR [AUTH] Authentication failed.");
		break;
	case KURIR_SASL_PLAINDENIED:
		pop3_err(s, POP3_MSG_PLAIN);
		break;
	case KURIR_SASL_BADPROTO:
		pop3_err(s, "-ERR Invalid authentication exchange.");
		break;
	case KURIR_SASL_TEMPFAIL:
	default:
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure, try again later.");
		break;
	}
	explicit_bzero(s->user, sizeof(s->user));
	s->have_user = 0;
	pop3_resume(s, POP3_ST_AUTH);
}

/* After sasl_start/login_plain/sasl_step returned: a failure that did
 * not come through the callback still needs an answer. */
static void
pop3_sasl_after(struct pop3_sess *s, int r)
{
	s->sasl_starting = 0;
	if (r < 0 && !s->sasl_called) {
		if (s->sasl != NULL) {
			pop3_api->sasl_free(s->sasl);
			s->sasl = NULL;
		}
		if (r == KURIR_E_INVALID || r == KURIR_E_UNSUPPORTED)
			pop3_err(s, "-ERR Unsupported authentication "
			    "mechanism.");
		else
			pop3_reply(s, "-ERR [SYS/TEMP] Temporary "
			    "authentication failure, try again later.");
		pop3_resume(s, POP3_ST_AUTH);
		return;
	}
	pop3_sasl_release(s);
}

void
pop3_cmd_user(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	if (!pop3_api->conn_plaintext_ok(s->c)) {
		pop3_err(s, POP3_MSG_PLAIN);
		return;
	}
	if (strlen(cmd->args[0]) >= sizeof(s->user)) {
		pop3_err(s, "-ERR [AUTH] User name too long.");
		return;
	}
	strcpy(s->user, cmd->args[0]);
	s->have_user = 1;
	pop3_reply(s, "+OK");
}

void
pop3_cmd_pass(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	int r;

	if (!s->have_user) {
		pop3_err(s, "-ERR No user name: send USER first.");
		return;
	}
	if (!pop3_api->conn_plaintext_ok(s->c)) {
		pop3_err(s, POP3_MSG_PLAIN);
		return;
	}
	strcpy(s->mech, "USER");
	pop3_pause(s, POP3_ST_WAIT);
	s->sasl_starting = 1;
	s->sasl_called = 0;
	s->sasl_done = 0;
	r = pop3_api->login_plain(s->c, s->user, cmd->args[0], pop3_auth_cb,
	    s, &s->sasl);
	pop3_sasl_after(s, r);
}

/* AUTH without arguments: the mechanism list (as many clients expect,
 * though RFC 5034 does not define it). */
static void
pop3_auth_list(struct pop3_sess *s)
{
	const char *mechs, *p, *e;
	char buf[1024];
	size_t o = 0;

	mechs = pop3_api->sasl_mechs(s->c);
	o += (size_t)snprintf(buf, sizeof(buf), "+OK\r\n");
	for (p = mechs != NULL ? mechs : ""; *p != '\0'; p = e) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		e = p;
		while (*e != '\0' && *e != ' ')
			e++;
		if (o + (size_t)(e - p) + 8 > sizeof(buf))
			break;
		memcpy(buf + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
		buf[o++] = '\r';
		buf[o++] = '\n';
	}
	memcpy(buf + o, ".\r\n", 3);
	o += 3;
	pop3_api->conn_write(s->c, buf, o);
}

void
pop3_cmd_auth(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	const char *initial;
	size_t i;
	int r;

	if (cmd->nargs == 0) {
		pop3_auth_list(s);
		return;
	}
	if (strlen(cmd->args[0]) >= sizeof(s->mech)) {
		pop3_err(s, "-ERR Unsupported authentication mechanism.");
		return;
	}
	for (i = 0; cmd->args[0][i] != '\0'; i++) {
		char ch = cmd->args[0][i];

		s->mech[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
	}
	s->mech[i] = '\0';
	initial = cmd->nargs > 1 ? cmd->args[1] : NULL;
	pop3_pause(s, POP3_ST_WAIT);
	s->sasl_starting = 1;
	s->sasl_called = 0;
	s->sasl_done = 0;
	r = pop3_api->sasl_start(s->c, s->mech, initial, pop3_auth_cb, s,
	    &s->sasl);
	pop3_sasl_after(s, r);
}

/* A client response during AUTH (RFC 5034 section 4). */
void
pop3_sasl_line(struct pop3_sess *s, char *line, size_t len, uint32_t flags)
{
	int r;

	if (s->sasl == NULL) {
		s->state = POP3_ST_AUTH;
		return;
	}
	if (len == 1 && line[0] == '*') {
		pop3_api->sasl_free(s->sasl);
		s->sasl = NULL;
		pop3_err(s, "-ERR Authentication cancelled.");
		if (s->state != POP3_ST_CLOSED)
			s->state = POP3_ST_AUTH;
		return;
	}
	if ((flags & KURIR_LINE_TOOLONG) || strlen(line) != len) {
		explicit_bzero(line, len);
		pop3_api->sasl_free(s->sasl);
		s->sasl = NULL;
		pop3_err(s, "-ERR Invalid authentication response.");
		if (s->state != POP3_ST_CLOSED)
			s->state = POP3_ST_AUTH;
		return;
	}
	pop3_pause(s, POP3_ST_WAIT);
	s->sasl_starting = 1;
	s->sasl_called = 0;
	r = pop3_api->sasl_step(s->sasl, line);
	explicit_bzero(line, len);
	pop3_sasl_after(s, r);
}

void
pop3_cmd_stls(struct pop3_sess *s)
{
	int r;

	if (pop3_api->conn_is_tls(s->c)) {
		pop3_err(s, "-ERR TLS is already active.");
		return;
	}
	if (!pop3_tls_ok) {
		pop3_err(s, "-ERR TLS is not available.");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation now.");
	/* No command is valid until on_tls(); the core discards what the
	 * client sent after STLS (RFC 2595 section 4). */
	s->state = POP3_ST_WAIT;
	if ((r = pop3_api->conn_starttls(s->c)) < 0) {
		pop3_api->conn_log(s->c, KURIR_LOG_ERR,
		    "STLS: cannot start TLS (%d)", r);
		s->state = POP3_ST_CLOSED;
		pop3_api->conn_close(s->c);
	}
}
