/*
 * imap_cmd_any.c -- commands valid in any state and the small extension
 * commands: CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), ENABLE (RFC 5161),
 * NAMESPACE (RFC 2342) and STARTTLS.
 */
#include <string.h>

#include "imap.h"

void
imap_cmd_capability(struct imap_sess *s, struct imap_arg *a)
{
	struct imap_str caps;

	if (a != NULL) {
		imap_done(s, "BAD", "CAPABILITY takes no arguments");
		return;
	}
	imap_str_init(&caps, 4096);
	imap_capability_string(s, &caps);
	imap_printf(s, "* CAPABILITY %s\r\n", caps.s != NULL ? caps.s : "");
	imap_str_free(&caps);
	imap_done(s, "OK", "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_sess *s, struct imap_arg *a)
{
	imap_done(s, "OK", "NOOP completed");
}

void
imap_cmd_logout(struct imap_sess *s, struct imap_arg *a)
{
	imap_printf(s, "* BYE Logging out\r\n");
	s->state = IMAP_ST_LOGOUT;
	imap_printf(s, "%s OK LOGOUT completed\r\n", s->cmd.tag);
	imap_cmd_free(&s->cmd);
	s->in_cmd = 0;
	s->closing = 1;
	imap_api->conn_close(s->c);
}

void
imap_cmd_id(struct imap_sess *s, struct imap_arg *a)
{
	if (a == NULL || (a->type != IMAP_ARG_LIST && a->type != IMAP_ARG_NIL)) {
		imap_done(s, "BAD", "ID needs a list or NIL");
		return;
	}
	imap_printf(s, "* ID (\"name\" \"kurir\" \"version\" \"%s\")\r\n",
	    imap_api->version != NULL ? imap_api->version : "0");
	imap_done(s, "OK", "ID completed");
}

void
imap_cmd_enable(struct imap_sess *s, struct imap_arg *a)
{
	if (a == NULL) {
		imap_done(s, "BAD", "ENABLE needs capability names");
		return;
	}
	/* None of the extensions ENABLE can turn on is offered. */
	imap_printf(s, "* ENABLED\r\n");
	imap_done(s, "OK", "ENABLE completed");
}

void
imap_cmd_namespace(struct imap_sess *s, struct imap_arg *a)
{
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_done(s, "OK", "NAMESPACE completed");
}

void
imap_cmd_starttls(struct imap_sess *s, struct imap_arg *a)
{
	int rc;

	if (imap_api->conn_is_tls(s->c)) {
		imap_done(s, "BAD", "TLS is already active");
		return;
	}
	imap_printf(s, "%s OK Begin TLS negotiation now\r\n", s->cmd.tag);
	imap_cmd_free(&s->cmd);
	s->in_cmd = 0;
	/* The core flushes the reply, drops pipelined plaintext, runs the
	 * handshake and calls on_tls(). */
	rc = imap_api->conn_starttls(s->c);
	if (rc < 0) {
		imap_bye(s, "TLS not available");
		return;
	}
	imap_cmdbuf_reset(&s->cb);
	if (s->paused) {
		s->paused = 0;
		imap_api->conn_resume(s->c);
	}
}
