/*
 * smtp.h -- the SMTP module's private interfaces: the session and its
 * mail transaction, the command and address parser, the DATA line
 * filter, replies and local delivery.  Nothing here is ABI; the module
 * reaches the core only through the table handed to smtp_init().
 */
#ifndef KURIR_SMTP_H
#define KURIR_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>
#include <kurir/auth.h>
#include <kurir/proto.h>
#include <kurir/storage.h>

#define SMTP_HIDDEN	__attribute__((visibility("hidden")))

/* RFC 5321 4.5.3.1: local part 64, domain 255, path 256 octets. */
#define SMTP_LOCAL_MAX		64
#define SMTP_DOMAIN_MAX		255
#define SMTP_PATH_MAX		256
/* RFC 4954 4: an AUTH command line may be 12288 octets long. */
#define SMTP_AUTH_LINE_MAX	12288
/* RFC 3461: ENVID 100 and ORCPT 500 characters. */
#define SMTP_ENVID_MAX		100
#define SMTP_ORCPT_MAX		500
/* Bytes collected before each deliver_write(). */
#define SMTP_SPOOL_BUF		65536

/* Module settings, read once from the configuration at init. */
struct smtp_conf {
	uint64_t	 max_message_size;	/* core key; 0: unlimited */
	uint32_t	 max_recipients;
	uint32_t	 max_targets;
	uint32_t	 max_errors;
	uint32_t	 max_line;		/* command lines */
	uint32_t	 command_timeout;	/* seconds */
	uint32_t	 data_timeout;
	uint32_t	 sender_login_check;
	uint32_t	 connections_per_ip;	/* 0: no limit */
	uint32_t	 bare_newline_reject;	/* 0: normalize */
	uint32_t	 tls_available;
	char		 hostname[256];
};

/* The services table and settings, set by smtp_init() (or a test). */
extern const struct kurir_core_api *smtp_api SMTP_HIDDEN;
extern struct kurir_module *smtp_mod SMTP_HIDDEN;
extern struct smtp_conf smtp_conf SMTP_HIDDEN;
void	 smtp_conf_load(void) SMTP_HIDDEN;

/* ---- parsing (smtp_parse.c) ------------------------------------------ */

enum smtp_cmd {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_NOTIMPL,	/* TURN, ETRN, SEND, SOML, SAML, ATRN */
	SMTP_CMD_HTTP,		/* GET/POST/...: someone speaks HTTP to us */
};

/* Parse errors: each maps to one reply in smtp_session.c. */
#define SMTP_PE_SYNTAX		(-1)	/* 501 5.5.4 / 5.1.x */
#define SMTP_PE_TOOLONG		(-2)	/* path or part over RFC length */
#define SMTP_PE_UTF8		(-3)	/* 8-bit address without SMTPUTF8 */
#define SMTP_PE_PARAM		(-4)	/* 555 5.5.4 unknown parameter */
#define SMTP_PE_PARAMVAL	(-5)	/* 501 5.5.4 bad parameter value */
#define SMTP_PE_DUPPARAM	(-6)	/* 501 5.5.4 parameter twice */

#define SMTP_BODY_7BIT		1u
#define SMTP_BODY_8BITMIME	2u

#define SMTP_RET_FULL		1u
#define SMTP_RET_HDRS		2u

#define SMTP_NOTIFY_NEVER	0x01u
#define SMTP_NOTIFY_SUCCESS	0x02u
#define SMTP_NOTIFY_FAILURE	0x04u
#define SMTP_NOTIFY_DELAY	0x08u

struct smtp_mail_params {
	uint64_t	 size;		/* SIZE=, 0: none given */
	uint32_t	 has_size;
	uint32_t	 body;		/* SMTP_BODY_*, 0: none given */
	uint32_t	 smtputf8;
	uint32_t	 ret;		/* SMTP_RET_*, 0: none given */
	char		 envid[SMTP_ENVID_MAX + 1];	/* xtext as sent */
	char		 auth[SMTP_PATH_MAX + 3];	/* AUTH= as sent */
};

struct smtp_rcpt_params {
	uint32_t	 notify;	/* SMTP_NOTIFY_* bits, 0: none given */
	char		 orcpt[SMTP_ORCPT_MAX + 1];	/* "rfc822;xtext" */
};

size_t	 smtp_strlcpy(char *dst, const char *src, size_t cap) SMTP_HIDDEN;
enum smtp_cmd smtp_parse_verb(const char *line, size_t len,
	    const char **args_r) SMTP_HIDDEN;
/* "FROM:" / "TO:" then a path: *rest_r points after the closing '>'.
 * MAIL accepts the null path "<>" (out = ""); RCPT accepts <postmaster>
 * without a domain.  `utf8_ok` allows UTF-8 (SMTPUTF8 given). */
int	 smtp_parse_path(const char *s, const char *prefix, int null_ok,
	    int utf8_ok, char *out, size_t outcap, const char **rest_r)
	    SMTP_HIDDEN;
/* True when the string has a byte >= 0x80. */
int	 smtp_has_8bit(const char *s, size_t len) SMTP_HIDDEN;
int	 smtp_parse_mail_params(const char *s, struct smtp_mail_params *p)
	    SMTP_HIDDEN;
int	 smtp_parse_rcpt_params(const char *s, struct smtp_rcpt_params *p)
	    SMTP_HIDDEN;
int	 smtp_xtext_valid(const char *s, size_t len) SMTP_HIDDEN;
/* The domain of "local@domain" (after the last '@'), or NULL. */
const char *smtp_addr_domain(const char *addr) SMTP_HIDDEN;
/* "BDAT 1234 LAST": size and last flag; SMTP_PE_SYNTAX when malformed. */
int	 smtp_parse_bdat(const char *args, uint64_t *size_r, int *last_r)
	    SMTP_HIDDEN;
/* The domain or address literal of HELO/EHLO: -1 when malformed. */
int	 smtp_parse_helo(const char *args, char *out, size_t outcap)
	    SMTP_HIDDEN;

/* ---- DATA lines (smtp_data.c) ---------------------------------------- */

struct smtp_dot {
	uint32_t	 prev_crlf;	/* last line ended with CR LF */
	uint32_t	 bare;		/* saw a bare LF or a bare CR */
	uint32_t	 toolong;	/* a line over the core's limit */
};

void	 smtp_dot_init(struct smtp_dot *d) SMTP_HIDDEN;
/* One line of DATA as the core's line reader gave it.  Returns 1 at the
 * end-of-data mark (only CR LF "." CR LF), else 0 with *out_r and *outlen_r
 * the unstuffed text to store, to be followed by CR LF. */
int	 smtp_dot_line(struct smtp_dot *d, const char *line, size_t len,
	    uint32_t flags, const char **out_r, size_t *outlen_r) SMTP_HIDDEN;

/* ---- the session (smtp_session.c) ------------------------------------ */

enum smtp_state {
	SMTP_S_GREETED = 0,	/* before HELO/EHLO */
	SMTP_S_READY,		/* after HELO/EHLO, no transaction */
	SMTP_S_MAIL,		/* MAIL accepted */
	SMTP_S_RCPT,		/* at least one RCPT accepted */
	SMTP_S_DATA,		/* reading DATA lines */
	SMTP_S_BDAT,		/* reading a BDAT chunk */
	SMTP_S_AUTH,		/* waiting for a SASL response line */
	SMTP_S_TLS,		/* STARTTLS handshake under way */
	SMTP_S_BUSY,		/* waiting for async work; input paused */
	SMTP_S_QUIT,		/* closing */
};

/* A unique local mailbox the message goes to. */
struct smtp_target {
	char		 user[KURIR_ADDR_MAX + 1];
	char		*location;	/* NULL: the default */
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
};

struct smtp_rcpt {
	char		 addr[SMTP_PATH_MAX + 1];
	struct smtp_rcpt_params params;
	uint32_t	 local;		/* has a local mailbox among its targets */
};

/* A remote recipient for the outbound queue (api->queue_*). */
struct smtp_remote {
	char		 addr[KURIR_ADDR_MAX + 1];
	struct smtp_rcpt_params params;
};

struct smtp_txn {
	char		 qid[24];
	char		 from[SMTP_PATH_MAX + 1];
	struct smtp_mail_params params;
	struct smtp_rcpt *rcpts;
	size_t		 nrcpt;
	size_t		 rcpts_cap;
	struct smtp_target *targets;
	size_t		 ntarget;
	size_t		 targets_cap;
	/* storage's view of the targets, alive until commit or abort */
	struct kurir_user_params *uparams;
	const struct kurir_user_params **uptrs;
	/* the message being received */
	struct kurir_delivery *dlv;
	struct smtp_dot	 dot;
	uint64_t	 msg_bytes;	/* client bytes after unstuffing */
	uint64_t	 chunk_size;	/* the current BDAT chunk */
	uint64_t	 chunk_left;	/* BDAT bytes still to come */
	uint32_t	 bdat_last;
	uint32_t	 bdat_used;	/* a BDAT was seen: DATA is refused */
	uint32_t	 bdat_discard;	/* read the chunk, store nothing */
	int		 fail;		/* first error while receiving */
	char		*spool;		/* SMTP_SPOOL_BUF bytes */
	size_t		 spool_len;
	int		 commit_status;
	int		 begin_status;
	int64_t		 begin_date;
	uint32_t	 begin_bdat;	/* begun for BDAT, not DATA */
	/* remote recipients, queued for the relay (smtp_deliver.c) */
	struct smtp_remote *remote;
	size_t		 nremote;
	struct kurir_queue *q;
	char		 queue_id[KURIR_QID_MAX + 1];
	uint32_t	 split;		/* stored locally, queueing failed */
	size_t		 nsuccess;	/* local NOTIFY=SUCCESS recipients */
};

struct smtp_session {
	struct kurir_conn *conn;
	const char	*service;	/* "smtp", "submission", ... */
	uint32_t	 submission;	/* submission or submissions */
	enum smtp_state	 state;
	enum smtp_state	 resume_state;	/* after SMTP_S_BUSY */
	uint32_t	 esmtp;		/* EHLO, not HELO */
	uint32_t	 errors;
	uint32_t	 closing;	/* conn_close() called */
	uint32_t	 gone;		/* on_close() came while busy */
	uint32_t	 busy;		/* async work owns the session */
	uint32_t	 stopping;	/* on_shutdown() came while busy */
	uint32_t	 auth_pending;	/* a SASL result is awaited */
	uint32_t	 ntxn;
	char		 helo[SMTP_DOMAIN_MAX + 3];
	char		 user[KURIR_ADDR_MAX + 1];	/* after AUTH */
	struct kurir_sasl *sasl;
	char		 ip_key[64];	/* counted in the per-IP table */
	struct smtp_txn	 txn;
};

int	 smtp_on_connect(struct kurir_conn *c, void **sess_r) SMTP_HIDDEN;
void	 smtp_on_line(void *sess, char *line, size_t len, uint32_t flags)
	    SMTP_HIDDEN;
void	 smtp_on_data(void *sess, const char *buf, size_t len,
	    uint64_t remaining) SMTP_HIDDEN;
void	 smtp_on_tls(void *sess, int status) SMTP_HIDDEN;
void	 smtp_on_timeout(void *sess) SMTP_HIDDEN;
void	 smtp_on_shutdown(void *sess) SMTP_HIDDEN;
void	 smtp_on_close(void *sess) SMTP_HIDDEN;

/* Reasons a message fails while it is received, besides KURIR_E_*. */
#define SMTP_FAIL_BARE		(-1001)	/* bare LF/CR, reject mode */
#define SMTP_FAIL_LINE		(-1002)	/* a line over max_line_length */

void	 smtp_session_error(struct smtp_session *s) SMTP_HIDDEN;
void	 smtp_session_release(struct smtp_session *s) SMTP_HIDDEN;
/* The commit of smtp_deliver_end() finished (on the loop). */
void	 smtp_deliver_done(struct smtp_session *s, int status) SMTP_HIDDEN;
const char *smtp_strerror(int code) SMTP_HIDDEN;
void	 smtp_session_resume(struct smtp_session *s) SMTP_HIDDEN;
void	 smtp_txn_reset(struct smtp_session *s) SMTP_HIDDEN;

/* ---- AUTH (smtp_auth.c) ---------------------------------------------- */

void	 smtp_cmd_auth(struct smtp_session *s, const char *args) SMTP_HIDDEN;
void	 smtp_auth_line(struct smtp_session *s, const char *line,
	    size_t len, uint32_t flags) SMTP_HIDDEN;
/* May the logged-in user send as this address?  1 yes, 0 no, or a
 * negative KURIR_E_* when the lookup failed. */
int	 smtp_auth_sender_ok(struct smtp_session *s, const char *from)
	    SMTP_HIDDEN;

/* ---- replies (smtp_reply.c) ------------------------------------------ */

void	 smtp_reply(struct smtp_session *s, int code, const char *esc,
	    const char *fmt, ...) SMTP_HIDDEN KURIR_PRINTF(4, 5);
/* One line of a multi-line reply: code-text, or code text when last. */
void	 smtp_reply_line(struct smtp_session *s, int code, int last,
	    const char *fmt, ...) SMTP_HIDDEN KURIR_PRINTF(4, 5);

/* ---- recipients and delivery (smtp_rcpt.c, smtp_deliver.c) ----------- */

/* Resolve a RCPT address and add its local targets; writes the reply. */
void	 smtp_rcpt_add(struct smtp_session *s, const char *addr,
	    const struct smtp_rcpt_params *p) SMTP_HIDDEN;

/* Start receiving the message: the storage delivery is opened off the
 * loop (the caller has paused input), then the Received: header is
 * spooled and smtp_deliver_begun() is called with the status. */
void	 smtp_deliver_begin(struct smtp_session *s) SMTP_HIDDEN;
void	 smtp_deliver_begun(struct smtp_session *s, int status) SMTP_HIDDEN;
/* Message bytes as received (already unstuffed). */
void	 smtp_deliver_write(struct smtp_session *s, const void *buf,
	    size_t len) SMTP_HIDDEN;
/* End of message: commit durably off the loop, then reply. */
void	 smtp_deliver_end(struct smtp_session *s) SMTP_HIDDEN;
void	 smtp_deliver_abort(struct smtp_session *s) SMTP_HIDDEN;
/* The outbound queue is there (a core with ABI 1.0 queue). */
int	 smtp_queue_available(void) SMTP_HIDDEN;
/* Recipients stored locally that asked NOTIFY=SUCCESS, when the sender
 * can get a report (not <>) and the core can queue it. */
size_t	 smtp_success_wanted(struct smtp_txn *t) SMTP_HIDDEN;
/* Add a remote recipient (once per address); KURIR_E_TOOBIG past
 * smtp_max_targets.  smtp_remote_reset forgets them all. */
int	 smtp_remote_add(struct smtp_session *s, const char *addr,
	    const struct smtp_rcpt_params *p) SMTP_HIDDEN;
void	 smtp_remote_reset(struct smtp_session *s) SMTP_HIDDEN;
/* Build the Received: header into buf; returns its length. */
size_t	 smtp_received(struct smtp_session *s, char *buf, size_t cap,
	    int64_t now) SMTP_HIDDEN;

/* ---- per-client-IP connection counts, all workers (smtp_limit.c) ----- */

/* In the master, before fork: the table the workers share. */
int	 smtp_limit_init(void) SMTP_HIDDEN;
int	 smtp_limit_enter(const char *ip, uint32_t max) SMTP_HIDDEN;
void	 smtp_limit_leave(const char *ip) SMTP_HIDDEN;

#endif /* KURIR_SMTP_H */
