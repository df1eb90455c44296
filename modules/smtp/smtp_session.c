/*
 * smtp_session.c -- the SMTP server state machine (RFC 5321 with the
 * ESMTP extensions of smtp.h): greeting, command dispatch, sequencing
 * (503), errors per session, STARTTLS state reset (RFC 3207 4.2), DATA
 * and BDAT (RFC 3030) input, and the connection callbacks.  Address
 * policy lives in smtp_rcpt.c, AUTH in smtp_auth.c, the message sink in
 * smtp_deliver.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

static void smtp_command(struct smtp_session *, char *, size_t);

/* Close after the queued replies; nothing else is read. */
static void
smtp_close(struct smtp_session *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->state = SMTP_S_QUIT;
	smtp_api->conn_close(s->conn);
}

void
smtp_session_error(struct smtp_session *s)
{
	if (++s->errors < smtp_conf.max_errors || smtp_conf.max_errors == 0)
		return;
	smtp_reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
	    smtp_conf.hostname);
	smtp_api->conn_log(s->conn, KURIR_LOG_NOTICE,
	    "too many errors (%u), disconnecting", s->errors);
	smtp_close(s);
}

/* Leave SMTP_S_BUSY: take input again. */
void
smtp_session_resume(struct smtp_session *s)
{
	if (s->closing || s->gone)
		return;
	if (s->stopping) {
		/* on_shutdown() came while we were busy */
		smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
		    smtp_conf.hostname);
		smtp_close(s);
		return;
	}
	s->state = s->resume_state;
	smtp_api->conn_resume(s->conn);
}

static void
smtp_session_pause(struct smtp_session *s, enum smtp_state after)
{
	s->resume_state = after;
	s->state = SMTP_S_BUSY;
	smtp_api->conn_pause(s->conn);
}

void
smtp_txn_reset(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	size_t i;

	smtp_deliver_abort(s);
	smtp_remote_reset(s);
	for (i = 0; i < t->ntarget; i++)
		free(t->targets[i].location);
	free(t->targets);
	free(t->rcpts);
	free(t->uparams);
	free(t->uptrs);
	/* the spool buffer is kept for the next message */
	t->targets = NULL;
	t->rcpts = NULL;
	t->uparams = NULL;
	t->uptrs = NULL;
	t->ntarget = t->nrcpt = t->targets_cap = t->rcpts_cap = 0;
	t->qid[0] = '\0';
	t->from[0] = '\0';
	memset(&t->params, 0, sizeof(t->params));
	t->msg_bytes = 0;
	t->chunk_left = 0;
	t->bdat_last = t->bdat_used = t->bdat_discard = 0;
	t->fail = 0;
	t->spool_len = 0;
	t->commit_status = 0;
	if (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT ||
	    s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT)
		s->state = SMTP_S_READY;
}

static void
smtp_session_free(struct smtp_session *s)
{
	smtp_txn_reset(s);
	free(s->txn.spool);
	if (s->sasl != NULL)
		smtp_api->sasl_free(s->sasl);
	if (s->ip_key[0] != '\0')
		smtp_limit_leave(s->ip_key);
	free(s);
}

int
smtp_on_connect(struct kurir_conn *c, void **sess_r)
{
	struct smtp_session *s;
	const char *svc, *ip;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (KURIR_E_NOMEM);
	s->conn = c;
	svc = smtp_api->conn_service(c);
	s->service = svc != NULL ? svc : "smtp";
	s->submission = strcmp(s->service, "smtp") != 0;
	s->state = SMTP_S_GREETED;
	*sess_r = s;
	ip = smtp_api->conn_peer_addr(c);
	if (ip == NULL)
		ip = "";
	if (smtp_limit_enter(ip, smtp_conf.connections_per_ip) != KURIR_OK) {
		smtp_reply(s, 421, "4.7.0", "%s Too many connections from "
		    "your address, try again later", smtp_conf.hostname);
		smtp_api->conn_log(c, KURIR_LOG_NOTICE,
		    "connection limit per address (%u) reached",
		    smtp_conf.connections_per_ip);
		smtp_close(s);
		return (0);
	}
	smtp_strlcpy(s->ip_key, ip, sizeof(s->ip_key));
	smtp_api->conn_set_timeout(c, smtp_conf.command_timeout);
	smtp_reply(s, 220, NULL, "%s ESMTP kurir", smtp_conf.hostname);
	return (0);
}

/* Replies for parse errors of MAIL and RCPT. */
static void
smtp_reply_parse(struct smtp_session *s, int r, int rcpt)
{
	switch (r) {
	case SMTP_PE_UTF8:
		smtp_reply(s, 553, "5.6.7", "Non-ASCII address requires the "
		    "SMTPUTF8 parameter");
		break;
	case SMTP_PE_TOOLONG:
		smtp_reply(s, 501, rcpt ? "5.1.3" : "5.1.7",
		    "Address too long");
		break;
	case SMTP_PE_PARAM:
		smtp_reply(s, 555, "5.5.4", "Unsupported parameter");
		break;
	case SMTP_PE_PARAMVAL:
	case SMTP_PE_DUPPARAM:
		smtp_reply(s, 501, "5.5.4", "Invalid parameter value");
		break;
	default:
		if (rcpt)
			smtp_reply(s, 501, "5.1.3",
			    "Bad recipient address syntax");
		else
			smtp_reply(s, 501, "5.1.7",
			    "Bad sender address syntax");
		break;
	}
	smtp_session_error(s);
}

static void
smtp_cmd_ehlo(struct smtp_session *s, const char *args, int esmtp)
{
	const char *mechs;
	char helo[sizeof(s->helo)];

	if (smtp_parse_helo(args, helo, sizeof(helo)) != 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		smtp_session_error(s);
		return;
	}
	smtp_txn_reset(s);
	memcpy(s->helo, helo, sizeof(s->helo));
	s->esmtp = esmtp;
	s->state = SMTP_S_READY;
	if (!esmtp) {
		smtp_reply(s, 250, NULL, "%s", smtp_conf.hostname);
		return;
	}
	smtp_reply_line(s, 250, 0, "%s greets %s", smtp_conf.hostname,
	    helo);
	smtp_reply_line(s, 250, 0, "PIPELINING");
	smtp_reply_line(s, 250, 0, "SIZE %" PRIu64,
	    smtp_conf.max_message_size);
	smtp_reply_line(s, 250, 0, "8BITMIME");
	smtp_reply_line(s, 250, 0, "ENHANCEDSTATUSCODES");
	if (!smtp_api->conn_is_tls(s->conn) && smtp_conf.tls_available)
		smtp_reply_line(s, 250, 0, "STARTTLS");
	if (s->user[0] == '\0' && (smtp_api->conn_is_tls(s->conn) ||
	    smtp_api->conn_plaintext_ok(s->conn)) &&
	    (mechs = smtp_api->sasl_mechs(s->conn)) != NULL &&
	    *mechs != '\0')
		smtp_reply_line(s, 250, 0, "AUTH %s", mechs);
	smtp_reply_line(s, 250, 0, "SMTPUTF8");
	smtp_reply_line(s, 250, 0, "DSN");
	smtp_reply_line(s, 250, 0, "CHUNKING");
	smtp_reply_line(s, 250, 1, "HELP");
}

/* Sequencing common to MAIL, RCPT, DATA and BDAT. */
static int
smtp_need_helo(struct smtp_session *s)
{
	if (s->state != SMTP_S_GREETED)
		return (0);
	smtp_reply(s, 503, "5.5.1", "Send HELO or EHLO first");
	smtp_session_error(s);
	return (1);
}

static void
smtp_cmd_mail(struct smtp_session *s, const char *args)
{
	struct smtp_txn *t = &s->txn;
	struct smtp_mail_params p;
	char from[SMTP_PATH_MAX + 1], esc[128];
	const char *rest;
	int r;

	if (smtp_need_helo(s))
		return;
	if (s->state != SMTP_S_READY) {
		smtp_reply(s, 503, "5.5.1", "Nested MAIL command");
		smtp_session_error(s);
		return;
	}
	if (s->submission && s->user[0] == '\0') {
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		smtp_session_error(s);
		return;
	}
	if ((r = smtp_parse_path(args, "FROM:", 1, 1, from, sizeof(from),
	    &rest)) != 0 || (r = smtp_parse_mail_params(rest, &p)) != 0) {
		smtp_reply_parse(s, r, 0);
		return;
	}
	if (!s->esmtp && *rest != '\0') {
		smtp_reply(s, 555, "5.5.4", "Parameters need EHLO");
		smtp_session_error(s);
		return;
	}
	if (!p.smtputf8 && smtp_has_8bit(from, strlen(from))) {
		smtp_reply_parse(s, SMTP_PE_UTF8, 0);
		return;
	}
	if (p.has_size && smtp_conf.max_message_size != 0 &&
	    p.size > smtp_conf.max_message_size) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed "
		    "maximum message size (%" PRIu64 ")",
		    smtp_conf.max_message_size);
		return;
	}
	if (s->user[0] != '\0' && smtp_conf.sender_login_check &&
	    from[0] != '\0') {
		r = smtp_auth_sender_ok(s, from);
		if (r < 0) {
			smtp_reply(s, 451, "4.3.0", "Temporary failure "
			    "checking the sender, try again later");
			return;
		}
		if (r == 0) {
			smtp_reply(s, 553, "5.7.1", "<%s>: Sender address "
			    "not owned by user %s", from, s->user);
			smtp_session_error(s);
			return;
		}
	}
	smtp_txn_reset(s);
	s->ntxn++;
	snprintf(t->qid, sizeof(t->qid), "%016" PRIX64 "%04X",
	    smtp_api->conn_id(s->conn), s->ntxn & 0xffff);
	memcpy(t->from, from, sizeof(t->from));
	t->params = p;
	s->state = SMTP_S_MAIL;
	smtp_api->conn_log(s->conn, KURIR_LOG_INFO, "%s: from=<%s>%s%s",
	    t->qid, smtp_api->log_escape(esc, sizeof(esc), from,
	    strlen(from)), s->user[0] != '\0' ? " user=" : "", s->user);
	smtp_reply(s, 250, "2.1.0", "Sender OK");
}

static void
smtp_cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_rcpt_params p;
	char to[SMTP_PATH_MAX + 1];
	const char *rest;
	int r;

	if (smtp_need_helo(s))
		return;
	if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT) {
		smtp_reply(s, 503, "5.5.1", "Need MAIL before RCPT");
		smtp_session_error(s);
		return;
	}
	if ((r = smtp_parse_path(args, "TO:", 0, s->txn.params.smtputf8,
	    to, sizeof(to), &rest)) != 0 ||
	    (r = smtp_parse_rcpt_params(rest, &p)) != 0) {
		smtp_reply_parse(s, r, 1);
		return;
	}
	if (!s->esmtp && *rest != '\0') {
		smtp_reply(s, 555, "5.5.4", "Parameters need EHLO");
		smtp_session_error(s);
		return;
	}
	if (s->txn.nrcpt >= smtp_conf.max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	smtp_rcpt_add(s, to, &p);
}

/* DATA and BDAT may go on: a recipient, no failed chunk.  Replies. */
static int
smtp_data_ok(struct smtp_session *s)
{
	if (s->state == SMTP_S_MAIL) {
		smtp_reply(s, 554, "5.5.1", "No valid recipients");
		return (0);
	}
	if (s->state != SMTP_S_RCPT) {
		smtp_reply(s, 503, "5.5.1", "Need RCPT before %s",
		    s->txn.bdat_used ? "BDAT" : "DATA");
		smtp_session_error(s);
		return (0);
	}
	return (1);
}

static void
smtp_cmd_data(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		smtp_reply(s, 501, "5.5.4", "Syntax: DATA");
		smtp_session_error(s);
		return;
	}
	if (smtp_need_helo(s) || !smtp_data_ok(s))
		return;
	if (s->txn.bdat_used) {
		smtp_reply(s, 503, "5.5.1", "DATA after BDAT");
		smtp_session_error(s);
		return;
	}
	s->txn.begin_bdat = 0;
	smtp_session_pause(s, SMTP_S_RCPT);
	smtp_deliver_begin(s);
}

static void smtp_bdat_read(struct smtp_session *);

/* The storage delivery is open (or failed to open): go on with the
 * DATA or BDAT command that asked for it. */
void
smtp_deliver_begun(struct smtp_session *s, int status)
{
	struct smtp_txn *t = &s->txn;

	if (t->begin_bdat) {
		if (status != KURIR_OK)
			t->fail = KURIR_E_TEMPFAIL;
		s->state = SMTP_S_RCPT;
		smtp_api->conn_resume(s->conn);
		smtp_bdat_read(s);
		return;
	}
	if (status != KURIR_OK) {
		smtp_reply(s, 451, "4.3.0", "Temporary storage failure, "
		    "try again later");
		s->state = SMTP_S_READY;
		smtp_txn_reset(s);
		s->resume_state = SMTP_S_READY;
		smtp_session_resume(s);
		return;
	}
	smtp_dot_init(&t->dot);
	smtp_api->conn_set_timeout(s->conn, smtp_conf.data_timeout);
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	s->resume_state = SMTP_S_DATA;
	smtp_session_resume(s);
}

/* The reply for a message that failed while it was received. */
static void
smtp_reply_fail(struct smtp_session *s, int fail)
{
	switch (fail) {
	case KURIR_E_TOOBIG:
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed "
		    "maximum message size (%" PRIu64 ")",
		    smtp_conf.max_message_size);
		break;
	case KURIR_E_OVERQUOTA:
		smtp_reply(s, 552, "5.2.2", "Mailbox full");
		break;
	case KURIR_E_PERMFAIL:
		smtp_reply(s, 554, "5.3.0", "Delivery failed");
		break;
	case SMTP_FAIL_BARE:
		smtp_reply(s, 554, "5.6.0", "Message refused: bare LF or CR "
		    "in data (lines must end with CR LF)");
		break;
	case SMTP_FAIL_LINE:
		smtp_reply(s, 554, "5.6.0", "Message refused: a line is "
		    "longer than the server accepts");
		break;
	default:
		smtp_reply(s, 451, "4.3.0", "Temporary storage failure, "
		    "try again later");
		break;
	}
}

/* End of DATA or the LAST chunk: refuse, or commit and reply later. */
static void
smtp_message_end(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	char esc[128];

	if (t->fail == 0 && t->dot.toolong)
		t->fail = SMTP_FAIL_LINE;
	if (t->fail == 0 && t->dot.bare && smtp_conf.bare_newline_reject)
		t->fail = SMTP_FAIL_BARE;
	smtp_api->conn_set_timeout(s->conn, smtp_conf.command_timeout);
	if (t->fail != 0) {
		smtp_api->conn_log(s->conn, KURIR_LOG_NOTICE,
		    "%s: from=<%s> refused at end of data: %s", t->qid,
		    smtp_api->log_escape(esc, sizeof(esc), t->from,
		    strlen(t->from)), t->fail == SMTP_FAIL_BARE ? "bare LF/CR" :
		    t->fail == SMTP_FAIL_LINE ? "line too long" :
		    smtp_strerror(t->fail));
		smtp_reply_fail(s, t->fail);
		s->state = SMTP_S_READY;
		smtp_txn_reset(s);
		return;
	}
	smtp_session_pause(s, SMTP_S_READY);
	smtp_deliver_end(s);
}

void
smtp_deliver_done(struct smtp_session *s, int status)
{
	struct smtp_txn *t = &s->txn;

	if (status == KURIR_OK)
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", t->qid);
	else
		smtp_reply_fail(s, status);
	s->state = SMTP_S_READY;
	smtp_txn_reset(s);
	s->resume_state = SMTP_S_READY;
	smtp_session_resume(s);
}

static void
smtp_data_input(struct smtp_session *s, const char *line, size_t len,
    uint32_t flags)
{
	const char *out;
	size_t outlen;

	if (smtp_dot_line(&s->txn.dot, line, len, flags, &out, &outlen)) {
		smtp_message_end(s);
		return;
	}
	smtp_deliver_write(s, out, outlen);
	smtp_deliver_write(s, "\r\n", 2);
}

static void
smtp_bdat_chunk_end(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;

	if (t->bdat_discard) {
		/* Chunk of a transaction that could not take it. */
		t->bdat_discard = 0;
		s->state = s->resume_state;
		smtp_reply(s, 503, "5.5.1", "No valid transaction for BDAT");
		smtp_session_error(s);
		return;
	}
	s->state = SMTP_S_RCPT;
	if (t->fail != 0) {
		smtp_reply_fail(s, t->fail);
		smtp_txn_reset(s);
		return;
	}
	if (t->bdat_last) {
		smtp_message_end(s);
		return;
	}
	smtp_reply(s, 250, "2.0.0", "%" PRIu64 " octets received",
	    t->chunk_size);
}

static void
smtp_cmd_bdat(struct smtp_session *s, const char *args)
{
	struct smtp_txn *t = &s->txn;
	uint64_t size;
	int last;

	if (smtp_parse_bdat(args, &size, &last) != 0) {
		/* The chunk length is unknown: its bytes would be read as
		 * commands, so the only safe answer is to hang up. */
		smtp_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		smtp_close(s);
		return;
	}
	t->chunk_size = size;
	t->chunk_left = size;
	t->bdat_last = last;
	if (s->state != SMTP_S_RCPT) {
		/* Read and drop the chunk, then say why. */
		t->bdat_discard = 1;
		s->resume_state = s->state;
	} else if (!t->bdat_used) {
		t->bdat_used = 1;
		t->begin_bdat = 1;
		smtp_session_pause(s, SMTP_S_RCPT);
		smtp_deliver_begin(s);
		return;
	}
	smtp_bdat_read(s);
}

/* Read the chunk announced by BDAT (its bytes come to on_data). */
static void
smtp_bdat_read(struct smtp_session *s)
{
	uint64_t size = s->txn.chunk_size;

	if (size == 0) {
		smtp_bdat_chunk_end(s);
		return;
	}
	if (smtp_api->conn_read_bytes(s->conn, size) != KURIR_OK) {
		smtp_reply(s, 421, "4.3.0", "Cannot read chunk");
		smtp_close(s);
		return;
	}
	s->state = SMTP_S_BDAT;
	smtp_api->conn_set_timeout(s->conn, smtp_conf.data_timeout);
}

void
smtp_on_data(void *sess, const char *buf, size_t len, uint64_t remaining)
{
	struct smtp_session *s = sess;

	if (s->closing || s->state != SMTP_S_BDAT)
		return;
	if (!s->txn.bdat_discard)
		smtp_deliver_write(s, buf, len);
	s->txn.chunk_left = remaining;
	if (remaining == 0) {
		smtp_api->conn_set_timeout(s->conn,
		    smtp_conf.command_timeout);
		smtp_bdat_chunk_end(s);
	}
}

static void
smtp_cmd_starttls(struct smtp_session *s, const char *args)
{
	int r;

	if (*args != '\0') {
		smtp_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		smtp_session_error(s);
		return;
	}
	if (smtp_api->conn_is_tls(s->conn)) {
		smtp_reply(s, 503, "5.5.1", "TLS already active");
		smtp_session_error(s);
		return;
	}
	if (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT) {
		smtp_reply(s, 503, "5.5.1", "STARTTLS not allowed in a mail "
		    "transaction");
		smtp_session_error(s);
		return;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	s->state = SMTP_S_TLS;
	r = smtp_api->conn_starttls(s->conn);
	if (r != KURIR_OK) {
		/* The client now expects a handshake: hang up instead. */
		smtp_api->conn_log(s->conn, KURIR_LOG_WARNING,
		    "STARTTLS failed: %d", r);
		/* No certificate: stop offering it in this worker. */
		if (r == KURIR_E_UNSUPPORTED)
			smtp_conf.tls_available = 0;
		smtp_close(s);
	}
}

void
smtp_on_tls(void *sess, int status)
{
	struct smtp_session *s = sess;

	if (status != 0 || s->closing)
		return;
	/* RFC 3207 4.2: forget everything learnt before the handshake. */
	smtp_txn_reset(s);
	s->state = SMTP_S_GREETED;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->user[0] = '\0';
	if (s->sasl != NULL) {
		smtp_api->sasl_free(s->sasl);
		s->sasl = NULL;
	}
	smtp_api->conn_set_timeout(s->conn, smtp_conf.command_timeout);
}

static void
smtp_cmd_help(struct smtp_session *s)
{
	smtp_reply_line(s, 214, 0, "2.0.0 kurir SMTP server; commands:");
	smtp_reply_line(s, 214, 0, "2.0.0 HELO EHLO MAIL RCPT DATA BDAT RSET");
	smtp_reply_line(s, 214, 1, "2.0.0 NOOP QUIT VRFY HELP STARTTLS AUTH");
}

static void
smtp_command(struct smtp_session *s, char *line, size_t len)
{
	const char *args;
	enum smtp_cmd cmd;

	cmd = smtp_parse_verb(line, len, &args);
	switch (cmd) {
	case SMTP_CMD_HELO:
		smtp_cmd_ehlo(s, args, 0);
		break;
	case SMTP_CMD_EHLO:
		smtp_cmd_ehlo(s, args, 1);
		break;
	case SMTP_CMD_MAIL:
		smtp_cmd_mail(s, args);
		break;
	case SMTP_CMD_RCPT:
		smtp_cmd_rcpt(s, args);
		break;
	case SMTP_CMD_DATA:
		smtp_cmd_data(s, args);
		break;
	case SMTP_CMD_BDAT:
		smtp_cmd_bdat(s, args);
		break;
	case SMTP_CMD_RSET:
		smtp_txn_reset(s);
		smtp_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_CMD_NOOP:
		smtp_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_CMD_QUIT:
		smtp_reply(s, 221, "2.0.0", "Bye");
		smtp_close(s);
		break;
	case SMTP_CMD_VRFY:
		if (*args == '\0') {
			smtp_reply(s, 501, "5.5.4", "Syntax: VRFY address");
			smtp_session_error(s);
			break;
		}
		/* RFC 5321 3.5.3: no user enumeration. */
		smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will "
		    "accept message and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		smtp_reply(s, 502, "5.5.1", "EXPN not available");
		break;
	case SMTP_CMD_HELP:
		smtp_cmd_help(s);
		break;
	case SMTP_CMD_STARTTLS:
		smtp_cmd_starttls(s, args);
		break;
	case SMTP_CMD_AUTH:
		smtp_cmd_auth(s, args);
		break;
	case SMTP_CMD_NOTIMPL:
		smtp_reply(s, 502, "5.5.1", "Command not implemented");
		smtp_session_error(s);
		break;
	case SMTP_CMD_HTTP:
		smtp_reply(s, 500, "5.5.1", "This is an SMTP server");
		smtp_close(s);
		break;
	default:
		smtp_reply(s, 500, "5.5.2", "Command unrecognized");
		smtp_session_error(s);
		break;
	}
}

void
smtp_on_line(void *sess, char *line, size_t len, uint32_t flags)
{
	struct smtp_session *s = sess;
	size_t max = smtp_conf.max_line;

	if (s->closing || s->gone)
		return;
	switch (s->state) {
	case SMTP_S_DATA:
		smtp_data_input(s, line, len, flags);
		return;
	case SMTP_S_AUTH:
		smtp_auth_line(s, line, len, flags);
		return;
	case SMTP_S_TLS:
	case SMTP_S_BUSY:
	case SMTP_S_BDAT:
	case SMTP_S_QUIT:
		/* Input is paused or discarded in these states. */
		return;
	default:
		break;
	}
	/* RFC 4954 4: AUTH with an initial response may be 12288 long. */
	if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0 &&
	    max < SMTP_AUTH_LINE_MAX)
		max = SMTP_AUTH_LINE_MAX;
	if ((flags & KURIR_LINE_TOOLONG) || len + 2 > max) {
		smtp_reply(s, 500, "5.5.2", "Line too long");
		smtp_session_error(s);
		return;
	}
	if (memchr(line, '\0', len) != NULL) {
		smtp_reply(s, 500, "5.5.2", "NUL byte in command");
		smtp_session_error(s);
		return;
	}
	/* Tolerate trailing white space after the arguments. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	    line[len - 1] == '\r'))
		line[--len] = '\0';
	smtp_command(s, line, len);
}

void
smtp_on_timeout(void *sess)
{
	struct smtp_session *s = sess;

	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
	    smtp_conf.hostname);
	s->closing = 1;
}

void
smtp_on_shutdown(void *sess)
{
	struct smtp_session *s = sess;

	if (s->busy) {
		/* A commit is running: reply to it first, then leave. */
		s->stopping = 1;
		return;
	}
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
	    smtp_conf.hostname);
	smtp_close(s);
}

void
smtp_on_close(void *sess)
{
	struct smtp_session *s = sess;

	s->gone = 1;
	if (s->busy)
		return;		/* freed when the running work is done */
	smtp_session_free(s);
}

/* For smtp_deliver.c: the async commit finished after on_close. */
void
smtp_session_release(struct smtp_session *s)
{
	smtp_session_free(s);
}
