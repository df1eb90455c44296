/*
 * imap.h -- the IMAP module's private interfaces: configuration, the
 * session, the selected-mailbox view and the command handlers.  Only
 * <kurir/...> headers and the module's own headers are used.
 */
#ifndef IMAP_H
#define IMAP_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>
#include <kurir/auth.h>
#include <kurir/proto.h>
#include <kurir/storage.h>

#include "imap_cmdbuf.h"
#include "imap_parse.h"
#include "imap_msginfo.h"
#include "imap_mime.h"
#include "imap_str.h"
#include "imap_utf7.h"

/* ---- configuration (imap.c) ---------------------------------------- */
struct imap_conf {
	uint64_t	 max_literal;		/* imap_max_literal_size */
	uint64_t	 max_command;		/* imap_max_command_size */
	uint64_t	 max_message;		/* max_message_size */
	uint32_t	 max_bad;		/* imap_max_bad_commands */
	uint32_t	 autologout;		/* imap_autologout, seconds */
	uint32_t	 preauth_timeout;	/* imap_login_timeout */
	uint32_t	 idle_timeout;		/* imap_idle_timeout */
	uint32_t	 max_args;		/* imap_max_arguments */
	uint64_t	 max_header_fetch;	/* imap_max_header_fetch */
	struct imap_mime_limits mime;
	uint64_t	 max_cache_blob;	/* imap_max_cache_blob */
};

extern const struct kurir_core_api *imap_api;
extern struct kurir_module *imap_mod;
extern struct imap_conf imap_conf;

/* ---- session ------------------------------------------------------- */
#define IMAP_ST_NOAUTH		1
#define IMAP_ST_AUTH		2
#define IMAP_ST_SELECTED	3
#define IMAP_ST_LOGOUT		4

struct imap_view;
struct imap_append;
struct imap_job;

struct imap_sess {
	struct kurir_conn *c;
	uint32_t	 state;		/* IMAP_ST_* */
	struct imap_cmdbuf cb;
	uint32_t	 bad_count;
	/* the command being run */
	struct imap_cmd	 cmd;
	uint32_t	 in_cmd;	/* a command has not answered yet */
	uint32_t	 paused;	/* input paused for it */
	uint32_t	 uid;		/* UID prefix */
	uint32_t	 closing;
	uint32_t	 tls_started;
	/* SASL */
	struct kurir_sasl *sasl;
	uint32_t	 sasl_wait;	/* waiting for a client response */
	/* logged in (the store knows the user: no copy kept here) */
	struct kurir_store *store;
	/* selected */
	struct imap_view *view;
	/* IDLE */
	uint32_t	 idle;
	struct kurir_watch *watch;
	struct kurir_timer *idle_timer;
	/* streaming jobs (FETCH, APPEND) */
	struct imap_job	*job;
	struct imap_append *append;
	/* one parsed message structure, kept for the next item; allocated
	 * while a command uses it, so an idle session does not carry it */
	struct imap_msginfo *mi;
	uint32_t	 mi_uid;
};

/* A resumable command: step() runs until done (1), until the output
 * queue is full (0: on_drain calls it again) or fails (< 0). */
struct imap_job {
	int		(*step)(struct imap_sess *s, struct imap_job *j);
	void		(*free)(struct imap_job *j);
};

/* ---- replies and command completion (imap_session.c) --------------- */
void	 imap_printf(struct imap_sess *s, const char *fmt, ...)
	    KURIR_PRINTF(2, 3);
void	 imap_write(struct imap_sess *s, const void *buf, size_t len);
/* Finish the current command: pending untagged updates, then the tagged
 * reply "tag <status> <text>", then resume input. */
void	 imap_done(struct imap_sess *s, const char *status, const char *fmt,
	    ...) KURIR_PRINTF(3, 4);
/* Same without the untagged updates (FETCH, STORE, SEARCH: no EXPUNGE). */
void	 imap_done_noexpunge(struct imap_sess *s, const char *status,
	    const char *fmt, ...) KURIR_PRINTF(3, 4);
void	 imap_bye(struct imap_sess *s, const char *text);
void	 imap_capability_string(struct imap_sess *s, struct imap_str *out);
/* Run a job now and on every on_drain until it is done. */
void	 imap_job_start(struct imap_sess *s, struct imap_job *j);
void	 imap_session_input_line(struct imap_sess *s, char *line, size_t len,
	    uint32_t flags);
void	 imap_session_input_data(struct imap_sess *s, const char *buf,
	    size_t len, uint64_t remaining);
void	 imap_session_drain(struct imap_sess *s);
void	 imap_session_free(struct imap_sess *s);
/* Map a storage status to "NO [CODE] text". */
void	 imap_done_storage_error(struct imap_sess *s, int rc, const char *what);

/* ---- command table (imap_cmd.c) ------------------------------------ */
void	 imap_dispatch(struct imap_sess *s);

/* handlers: imap_cmd_any.c */
void	 imap_cmd_capability(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_noop(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_logout(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_id(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_enable(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_starttls(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_namespace(struct imap_sess *s, struct imap_arg *a);
/* imap_cmd_auth.c */
void	 imap_cmd_login(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_authenticate(struct imap_sess *s, struct imap_arg *a);
void	 imap_auth_response(struct imap_sess *s, const char *line, size_t len);
/* imap_cmd_mbox.c */
void	 imap_cmd_select(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_examine(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_create(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_delete(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_rename(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_subscribe(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_unsubscribe(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_status(struct imap_sess *s, struct imap_arg *a);
/* imap_list.c */
void	 imap_cmd_list(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_lsub(struct imap_sess *s, struct imap_arg *a);
int	 imap_list_match(const char *pattern, const char *name);
/* imap_append.c */
void	 imap_cmd_append(struct imap_sess *s, struct imap_arg *a);
/* Called when a line announcing a literal is complete: 1 when the
 * literal is an APPEND message and has been taken over. */
int	 imap_append_literal(struct imap_sess *s, uint64_t size, int sync);
void	 imap_append_data(struct imap_sess *s, const char *buf, size_t len,
	    uint64_t remaining);
void	 imap_append_line(struct imap_sess *s, const char *line, size_t len);
void	 imap_append_free(struct imap_sess *s);
int	 imap_parse_datetime(const char *s, int64_t *t_r);
/* imap_cmd_sel.c */
void	 imap_cmd_check(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_close(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_unselect(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_expunge(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_store(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_copy(struct imap_sess *s, struct imap_arg *a);
void	 imap_cmd_move(struct imap_sess *s, struct imap_arg *a);
/* imap_fetch.c */
void	 imap_cmd_fetch(struct imap_sess *s, struct imap_arg *a);
/* imap_search.c */
void	 imap_cmd_search(struct imap_sess *s, struct imap_arg *a);
/* imap_idle.c */
void	 imap_cmd_idle(struct imap_sess *s, struct imap_arg *a);
void	 imap_idle_line(struct imap_sess *s, const char *line, size_t len);
void	 imap_idle_stop(struct imap_sess *s);
/* The backend offers notify_set() (else notify_fd() or polling). */
int	 imap_notify_set_ok(const struct kurir_storage_ops *st);

/* ---- mailbox names (imap_utf7.h; argument in imap_cmd_mbox.c) ---- */
/* The mailbox argument of a command, decoded; sends BAD and returns -1
 * when it is missing or malformed. */
int	 imap_arg_mailbox(struct imap_sess *s, const struct imap_arg *a,
	    char *out, size_t cap);
#define IMAP_MBOX_MAX	1024

/* ---- the selected mailbox (imap_view.c) ---------------------------- */
struct imap_msgent {
	uint32_t	 uid;
	uint32_t	 flags;		/* KURIR_FLAG_* | IMAP_ENT_* */
	const char	*kw;		/* interned keywords, "" for none */
};
#define IMAP_ENT_EXPUNGED	0x100u	/* gone, EXPUNGE not sent yet */
#define IMAP_ENT_CHANGED	0x200u	/* flags changed, FETCH not sent */
#define IMAP_ENT_RECENT		0x400u	/* \Recent in this session */
#define IMAP_FLAG_MASK		0x1fu

struct imap_view {
	struct kurir_mailbox *mb;
	char		*name;		/* malloc'ed: idle sessions stay small */
	uint32_t	 readonly;
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 modseq;
	struct imap_msgent *msgs;
	uint32_t	 count;		/* entries incl. pending expunges */
	uint32_t	 alloc;
	uint32_t	 exists_sent;	/* the count the client knows */
	uint32_t	 pending_expunge;
	uint32_t	 recent;	/* entries with IMAP_ENT_RECENT */
	uint32_t	 recent_sent;	/* the RECENT count the client knows */
	/* interned keyword sets */
	char		**kws;
	uint32_t	 nkws;
	int		 notify_fd;
};

int	 imap_view_open(struct imap_sess *s, const char *name, int readonly,
	    struct imap_view **v_r);
void	 imap_view_close(struct imap_sess *s);
/* The messages of the selected mailbox that no session has seen yet:
 * claim them for this session as \Recent (a read-only view marks them
 * without claiming). */
void	 imap_view_claim_recent(struct imap_view *v);
/* \Recent count of a mailbox for STATUS: this session's when it is
 * the selected one, else its unclaimed messages. */
int	 imap_view_recent_count(struct imap_sess *s, const char *name,
	    uint32_t *n_r);
/* Bring the view up to date and write untagged EXISTS / EXPUNGE /
 * FETCH FLAGS; expunges are held back unless allow_expunge. */
int	 imap_view_sync(struct imap_sess *s, int allow_expunge);
/* seq (1-based) of uid, 0 when not in the view. */
uint32_t imap_view_seq(struct imap_view *v, uint32_t uid);
const char *imap_view_intern(struct imap_view *v, const char *kw);
void	 imap_view_flags_str(const struct imap_msgent *e, struct imap_str *out);
/* Remove an entry and send "* n EXPUNGE". */
void	 imap_view_expunge_seq(struct imap_sess *s, uint32_t seq);
/* Re-read flags of the given uid ranges after a change of ours. */
void	 imap_view_refresh(struct imap_sess *s,
	    const struct kurir_uid_range *set, size_t nset);
/*
 * A sequence set or UID set argument as UID ranges over the view.
 * Returns the number of ranges (0: nothing matched) or -1 on bad syntax.
 * *ranges_r is malloc'ed.
 */
int	 imap_view_uidset(struct imap_sess *s, const char *set, int uid,
	    struct kurir_uid_range **ranges_r);
/* For each matching view entry (in seq order). */
int	 imap_view_match(struct imap_view *v, const struct imap_seq_range *r,
	    size_t n, int uid, uint32_t idx);
int	 imap_seqset_args(const char *set, struct imap_seq_range **r_r);

/* ---- message data (imap_msgdata.c) --------------------------------- */
/* The parsed structure of a message, from the cache or parsed now. */
const struct imap_msginfo *imap_msginfo_get(struct imap_sess *s,
	    uint32_t uid);
void	 imap_msginfo_forget(struct imap_sess *s);
/* Read [off, off+len) of a message into a bounded buffer. */
int	 imap_msg_read_region(struct imap_sess *s, uint32_t uid, uint64_t off,
	    uint64_t len, struct imap_str *out);
/* The header fields named in `names` (or all others with not = 1)
 * of a header region, into out (bounded). */
int	 imap_header_filter(struct imap_sess *s, uint32_t uid, uint64_t off,
	    uint64_t len, const struct imap_arg *names, int not,
	    struct imap_str *out);
void	 imap_date_str(int64_t t, char *out, size_t cap);

#endif /* IMAP_H */
