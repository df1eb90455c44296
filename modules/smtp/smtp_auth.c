/*
 * smtp_auth.c -- AUTH (RFC 4954) on top of the core's SASL, with the
 * initial response (SASL-IR), and the sender login check: an
 * authenticated user may send only as an address that resolves to
 * their own mailbox (their address, aliases, plus-addresses).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

static void
smtp_auth_end(struct smtp_session *s)
{
	if (s->sasl != NULL) {
		smtp_api->sasl_free(s->sasl);
		s->sasl = NULL;
	}
	s->resume_state = SMTP_S_READY;
}

static void
smtp_auth_cb(void *arg, int status, const char *text)
{
	struct smtp_session *s = arg;
	char esc[128];

	if (!s->auth_pending)
		return;
	s->auth_pending = 0;
	switch (status) {
	case KURIR_SASL_OK:
		smtp_strlcpy(s->user, text, sizeof(s->user));
		smtp_auth_end(s);
		smtp_api->conn_log(s->conn, KURIR_LOG_INFO, "auth: user=%s",
		    smtp_api->log_escape(esc, sizeof(esc), text,
		    strlen(text)));
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case KURIR_SASL_CONTINUE:
		s->resume_state = SMTP_S_AUTH;
		smtp_reply_line(s, 334, 1, "%s", text);
		break;
	case KURIR_SASL_FAIL:
		smtp_auth_end(s);
		smtp_reply(s, 535, "5.7.8", "Authentication credentials "
		    "invalid");
		smtp_session_error(s);
		break;
	case KURIR_SASL_PLAINDENIED:
		smtp_auth_end(s);
		smtp_reply(s, 538, "5.7.11", "Encryption required for "
		    "requested authentication mechanism");
		smtp_session_error(s);
		break;
	case KURIR_SASL_BADPROTO:
		smtp_auth_end(s);
		smtp_reply(s, 501, "5.5.2", "Invalid authentication exchange");
		smtp_session_error(s);
		break;
	default:
		smtp_auth_end(s);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication "
		    "failure, try again later");
		break;
	}
	smtp_session_resume(s);
}

void
smtp_cmd_auth(struct smtp_session *s, const char *args)
{
	char mech[32];
	const char *ir = NULL;
	size_t n;
	int r;

	if (s->state == SMTP_S_GREETED || !s->esmtp) {
		smtp_reply(s, 503, "5.5.1", "Send EHLO first");
		smtp_session_error(s);
		return;
	}
	if (s->user[0] != '\0') {
		smtp_reply(s, 503, "5.5.1", "Already authenticated");
		smtp_session_error(s);
		return;
	}
	if (s->state != SMTP_S_READY) {
		smtp_reply(s, 503, "5.5.1", "AUTH not allowed in a mail "
		    "transaction");
		smtp_session_error(s);
		return;
	}
	if (!smtp_api->conn_is_tls(s->conn) &&
	    !smtp_api->conn_plaintext_ok(s->conn)) {
		smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS command "
		    "first");
		smtp_session_error(s);
		return;
	}
	for (n = 0; args[n] != '\0' && args[n] != ' '; n++)
		if (!isalnum((unsigned char)args[n]) && args[n] != '-' &&
		    args[n] != '_')
			break;
	if (n == 0 || n >= sizeof(mech) ||
	    (args[n] != '\0' && args[n] != ' ')) {
		smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
		    "[initial-response]");
		smtp_session_error(s);
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	if (args[n] == ' ') {
		ir = args + n + 1;
		if (*ir == '\0' || strchr(ir, ' ') != NULL) {
			smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
			    "[initial-response]");
			smtp_session_error(s);
			return;
		}
	}
	s->resume_state = SMTP_S_READY;
	s->state = SMTP_S_BUSY;
	smtp_api->conn_pause(s->conn);
	s->auth_pending = 1;
	r = smtp_api->sasl_start(s->conn, mech, ir, smtp_auth_cb, s,
	    &s->sasl);
	if (r < 0 && s->auth_pending) {
		s->auth_pending = 0;
		smtp_auth_end(s);
		smtp_reply(s, 504, "5.5.4", "Unrecognized authentication "
		    "type");
		smtp_session_error(s);
		smtp_session_resume(s);
	}
}

void
smtp_auth_line(struct smtp_session *s, const char *line, size_t len,
    uint32_t flags)
{
	int r;

	if ((flags & KURIR_LINE_TOOLONG) || len + 2 > SMTP_AUTH_LINE_MAX) {
		smtp_auth_end(s);
		s->state = SMTP_S_READY;
		smtp_reply(s, 500, "5.5.6", "Authentication exchange line "
		    "is too long");
		smtp_session_error(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		smtp_auth_end(s);
		s->state = SMTP_S_READY;
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	s->resume_state = SMTP_S_READY;
	s->state = SMTP_S_BUSY;
	smtp_api->conn_pause(s->conn);
	s->auth_pending = 1;
	r = smtp_api->sasl_step(s->sasl, line);
	if (r < 0 && s->auth_pending) {
		s->auth_pending = 0;
		smtp_auth_end(s);
		smtp_reply(s, 501, "5.5.2", "Invalid authentication exchange");
		smtp_session_error(s);
		smtp_session_resume(s);
	}
}

struct smtp_owner {
	const char	*user;
	int		 found;
};

static int
smtp_owner_cb(void *arg, const char *address, int is_local)
{
	struct smtp_owner *o = arg;

	if (is_local && strcasecmp(address, o->user) == 0)
		o->found = 1;
	return (0);
}

int
smtp_auth_sender_ok(struct smtp_session *s, const char *from)
{
	struct smtp_owner o;
	const char *dom;
	int r;

	if (strcasecmp(from, s->user) == 0)
		return (1);
	dom = smtp_addr_domain(from);
	if (dom == NULL || !smtp_api->is_local_domain(dom))
		return (0);
	o.user = s->user;
	o.found = 0;
	r = smtp_api->rcpt_resolve(from, smtp_owner_cb, &o);
	if (r == KURIR_E_NOTFOUND || r == KURIR_E_INVALID)
		return (0);
	if (r != KURIR_OK)
		return (r < 0 ? r : KURIR_E_TEMPFAIL);
	return (o.found);
}
