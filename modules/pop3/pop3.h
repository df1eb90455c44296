/*
 * pop3.h -- the POP3 module's private declarations: the session, the
 * module-wide configuration and the functions the pop3_*.c files share.
 * Nothing here is ABI; the module reaches the core only through pop3_api.
 */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>
#include <kurir/auth.h>
#include <kurir/proto.h>
#include <kurir/storage.h>

#include "pop3_dot.h"
#include "pop3_parse.h"

/* Session states (RFC 1939 section 3, plus the waits in between). */
#define POP3_ST_AUTH	1	/* AUTHORIZATION */
#define POP3_ST_SASL	2	/* AUTH: waiting for a client response */
#define POP3_ST_WAIT	3	/* login check or maildrop open running */
#define POP3_ST_TRANS	4	/* TRANSACTION */
#define POP3_ST_STREAM	5	/* a multi-line answer is being written */
#define POP3_ST_UPDATE	6	/* QUIT: changes being committed */
#define POP3_ST_CLOSED	7	/* closing; nothing more is read */

/* What a multi-line answer in progress is writing. */
#define POP3_STREAM_LIST	1
#define POP3_STREAM_UIDL	2
#define POP3_STREAM_MSG		3	/* RETR or TOP */

/* pop3_msg.flags */
#define POP3_MSG_DELE		0x01u	/* DELE'd in this session */
#define POP3_MSG_SEEN		0x02u	/* \Seen in storage at login */
#define POP3_MSG_RETR		0x04u	/* RETR'd: mark \Seen at the end */

/* The chunk RETR reads at a time from storage. */
#define POP3_READ_CHUNK		16384

struct pop3_msg {
	uint32_t	 uid;
	uint32_t	 flags;		/* POP3_MSG_* */
	uint64_t	 size;
};

struct pop3_sess {
	struct kurir_conn	*c;
	uint32_t		 state;		/* POP3_ST_* */
	uint32_t		 errors;	/* counted -ERR answers */
	uint32_t		 gone;		/* on_close came: free when the
						 * running job ends */
	uint32_t		 shutdown;	/* close after this command */
	uint32_t		 job;		/* a run_blocking job runs */
	uint32_t		 paused;	/* we paused the input */
	uint32_t		 in_run;	/* inside pop3_stream_run() */
	int			 job_status;	/* its KURIR_* result */

	/* AUTHORIZATION */
	char			 user[KURIR_ADDR_MAX + 1];	/* USER arg */
	uint32_t		 have_user;
	struct kurir_sasl	*sasl;
	uint32_t		 sasl_starting;	/* inside sasl_start/step */
	uint32_t		 sasl_called;	/* its callback came */
	uint32_t		 sasl_done;	/* exchange over: free it */
	char			 mech[32];	/* for the log: "PLAIN"... */

	/* The maildrop (TRANSACTION) */
	char			 authuser[KURIR_ADDR_MAX + 1];
	int			 lockfd;
	struct kurir_store	*st;
	struct kurir_mailbox	*mb;
	uint32_t		 uidvalidity;
	struct pop3_msg		*msgs;
	size_t			 nmsgs;
	size_t			 msgs_cap;
	uint32_t		 ndele;
	uint64_t		 dele_bytes;
	uint64_t		 total_bytes;
	uint32_t		 truncated;	/* INBOX held more than shown */
	uint32_t		 nretr;		/* statistics for the log */
	uint64_t		 retr_bytes;
	uint32_t		 nexpunged;

	/* The multi-line answer in progress */
	uint32_t		 stream;	/* POP3_STREAM_* */
	size_t			 stream_idx;	/* LIST/UIDL: next message */
	struct pop3_msg		*stream_msg;	/* RETR/TOP */
	uint64_t		 stream_off;
	uint32_t		 stream_retr;	/* RETR (mark seen), not TOP */
	struct pop3_dot		 dot;
};

struct pop3_conf {
	uint32_t	 delete_trash;	/* pop3_delete_action = trash */
	uint32_t	 max_errors;
	size_t		 max_line;	/* octets including CRLF */
	uint32_t	 idle_timeout;
	size_t		 max_messages;	/* snapshot cap; 0: none */
	char		 trash[256];	/* pop3_trash_mailbox */
	char		 lockdir[4096];	/* state_dir/pop3-locks */
};

extern const struct kurir_core_api	*pop3_api;
extern struct kurir_module		*pop3_mod;
extern struct pop3_conf			 pop3_conf;
extern uint32_t				 pop3_tls_ok;	/* STLS offered */

/* pop3.c */
int	 pop3_conf_load(const char **errstr_r);

/* pop3_session.c: the connection callbacks of struct kurir_proto_ops. */
int	 pop3_on_connect(struct kurir_conn *c, void **sess_r);
void	 pop3_on_line(void *sess, char *line, size_t len, uint32_t flags);
void	 pop3_on_tls(void *sess, int status);
void	 pop3_on_drain(void *sess);
void	 pop3_on_timeout(void *sess);
void	 pop3_on_shutdown(void *sess);
void	 pop3_on_close(void *sess);

/* pop3_session.c: replies, error counting, leaving a wait. */
void	 pop3_reply(struct pop3_sess *s, const char *fmt, ...)
	    KURIR_PRINTF(2, 3);
void	 pop3_err(struct pop3_sess *s, const char *fmt, ...)
	    KURIR_PRINTF(2, 3);
void	 pop3_pause(struct pop3_sess *s, uint32_t state);
void	 pop3_resume(struct pop3_sess *s, uint32_t state);
void	 pop3_sess_free(struct pop3_sess *s);

/* pop3_auth.c: USER, PASS, AUTH, STLS and the SASL exchange. */
void	 pop3_cmd_user(struct pop3_sess *s, struct pop3_cmd *cmd);
void	 pop3_cmd_pass(struct pop3_sess *s, struct pop3_cmd *cmd);
void	 pop3_cmd_auth(struct pop3_sess *s, struct pop3_cmd *cmd);
void	 pop3_cmd_stls(struct pop3_sess *s);
void	 pop3_sasl_line(struct pop3_sess *s, char *line, size_t len,
	    uint32_t flags);
void	 pop3_auth_reset(struct pop3_sess *s);

/* pop3_drop.c: the maildrop snapshot and the UPDATE state. */
void	 pop3_drop_open(struct pop3_sess *s);
void	 pop3_drop_update(struct pop3_sess *s);
void	 pop3_drop_abandon(struct pop3_sess *s);
struct pop3_msg *pop3_drop_msg(struct pop3_sess *s, const char *arg);
void	 pop3_drop_uidl(const struct pop3_sess *s, const struct pop3_msg *m,
	    char *buf, size_t cap);

/* pop3_cmd.c: the TRANSACTION commands with one-line answers, CAPA. */
void	 pop3_cmd_capa(struct pop3_sess *s);
struct pop3_msg *pop3_cmd_msg(struct pop3_sess *s, const char *arg);
void	 pop3_cmd_stat(struct pop3_sess *s);
void	 pop3_cmd_dele(struct pop3_sess *s, struct pop3_cmd *cmd);
void	 pop3_cmd_rset(struct pop3_sess *s);
void	 pop3_cmd_list(struct pop3_sess *s, struct pop3_cmd *cmd,
	    uint32_t uidl);

/* pop3_stream.c: multi-line answers paced by the output queue. */
void	 pop3_stream_list(struct pop3_sess *s, uint32_t kind);
void	 pop3_cmd_retr(struct pop3_sess *s, struct pop3_cmd *cmd);
void	 pop3_stream_run(struct pop3_sess *s);

/* pop3_lock.c: one POP3 session per user, across processes. */
int	 pop3_lock_take(const char *user, int *fd_r);
void	 pop3_lock_release(int *fd);

#endif
