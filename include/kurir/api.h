/*
 * kurir/api.h -- the services the core hands to every module at init.
 *
 * Part of the stable ABI; see the rules at the top of kurir/module.h.
 * struct kurir_core_api is append-only: new members go at the end under a
 * "ABI 1.x" comment, and a module checks KURIR_HAS(api, member) before
 * using anything newer than the minor it was built for.
 *
 * Threading: every function here must be called from the event loop
 * thread, except log(), conf_*(), now_ms() and the storage and auth
 * tables, which are safe from run_blocking() work functions too.
 */
#ifndef KURIR_API_H
#define KURIR_API_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <kurir/errors.h>
#include <kurir/module.h>

/* Log levels: the syslog(3) priorities. */
#define KURIR_LOG_ERR		3
#define KURIR_LOG_WARNING	4
#define KURIR_LOG_NOTICE	5
#define KURIR_LOG_INFO		6
#define KURIR_LOG_DEBUG		7

/* on_line() flags: how the line ended. */
#define KURIR_LINE_CRLF		0x01u	/* ended with CR LF */
#define KURIR_LINE_LF		0x02u	/* ended with a bare LF */
#define KURIR_LINE_TOOLONG	0x04u	/* over conn_max_line: the text is
					 * truncated, the rest up to the next
					 * LF was discarded */

/* SASL results delivered to a kurir_sasl_cb. */
#define KURIR_SASL_OK		0	/* authenticated: `text` is the user */
#define KURIR_SASL_CONTINUE	1	/* `text` is the base64 challenge */
#define KURIR_SASL_FAIL		2	/* bad credentials (after throttle) */
#define KURIR_SASL_TEMPFAIL	3	/* throttled or backend trouble */
#define KURIR_SASL_BADPROTO	4	/* malformed exchange or mechanism */
#define KURIR_SASL_PLAINDENIED	5	/* plaintext not allowed here */

struct kurir_conn;		/* a client connection, owned by the core */
struct kurir_timer;		/* a one-shot timer */
struct kurir_watch;		/* an fd watched for readability */
struct kurir_pathwatch;		/* a path watched for changes */
struct kurir_sasl;		/* a SASL exchange in progress */
struct kurir_storage_ops;	/* kurir/storage.h */
struct kurir_auth_ops;		/* kurir/auth.h */

typedef void kurir_cb(void *arg);
typedef void kurir_fd_cb(int fd, void *arg);
/* status is KURIR_SASL_*; text is NUL-terminated and valid during the call. */
typedef void kurir_sasl_cb(void *arg, int status, const char *text);
/* One target of a recipient: a local user (is_local = 1, canonical
 * user@domain) or a remote address (is_local = 0). Return 0 to go on. */
typedef int kurir_rcpt_cb(void *arg, const char *address, int is_local);

/* Kinds of change reported by watch_path() (ABI 1.0, watch_path).  The
 * path itself being deleted or renamed away is always reported. */
#define KURIR_PATH_MODIFY	0x01u	/* a file's content or attributes */
#define KURIR_PATH_CREATE	0x02u	/* an entry created in a directory */
#define KURIR_PATH_DELETE	0x04u	/* an entry removed from a directory */
#define KURIR_PATH_MOVED_IN	0x08u	/* an entry renamed into a directory */
#define KURIR_PATH_MOVED_OUT	0x10u	/* an entry renamed out of it */

#define KURIR_PRINTF(f, a)	__attribute__((format(printf, f, a)))

/* ---- the outbound queue (ABI 1.0, queue) ---------------------------- */
struct kurir_queue;		/* a message being queued */
struct kurir_queue_entry;	/* a queued message opened by its runner */

/* DSN RET (RFC 3461); 0: not given. */
#define KURIR_QRET_FULL		1u
#define KURIR_QRET_HDRS		2u
/* DSN NOTIFY bits (RFC 3461); 0: not given (failures are reported). */
#define KURIR_QNOTIFY_NEVER	0x01u
#define KURIR_QNOTIFY_SUCCESS	0x02u
#define KURIR_QNOTIFY_FAILURE	0x04u
#define KURIR_QNOTIFY_DELAY	0x08u
/* A recipient's state. */
#define KURIR_QRCPT_PENDING	0u	/* still to deliver */
#define KURIR_QRCPT_SENT	1u	/* the next hop said 2xx */
#define KURIR_QRCPT_FAILED	2u	/* permanent failure: bounced */
#define KURIR_QRCPT_DELIVERED	3u	/* stored locally by the producer;
					 * the runner owes only its success
					 * report (NOTIFY=SUCCESS), then
					 * marks it SENT */

#define KURIR_QID_MAX		32
#define KURIR_QADDR_MAX		320
#define KURIR_QENVID_MAX	100
#define KURIR_QORCPT_MAX	500
#define KURIR_QDIAG_MAX		511

struct kurir_queue_params {
	uint32_t	 size;		/* sizeof(struct kurir_queue_params) */
	uint32_t	 ret;		/* KURIR_QRET_* or 0 */
	uint32_t	 smtputf8;	/* the message needs SMTPUTF8 */
	const char	*envid;		/* xtext ENVID or NULL */
};

struct kurir_queue_info {
	uint32_t	 size;		/* set by the caller: sizeof() */
	uint32_t	 ret;
	uint32_t	 smtputf8;
	uint32_t	 body8bit;	/* a byte >= 0x80 in the message */
	uint32_t	 hold;		/* held by kurirctl: not delivered */
	uint32_t	 attempts;
	uint32_t	 nrcpt;
	int64_t		 created;	/* seconds since the epoch */
	int64_t		 next_retry;
	uint64_t	 msg_size;
	char		 id[KURIR_QID_MAX + 1];
	char		 sender[KURIR_QADDR_MAX + 1];	/* "": a bounce */
	char		 envid[KURIR_QENVID_MAX + 1];
};

struct kurir_queue_rcpt {
	uint32_t	 size;		/* set by the caller: sizeof() */
	uint32_t	 state;		/* KURIR_QRCPT_* */
	uint32_t	 notify;	/* KURIR_QNOTIFY_* or 0 */
	char		 address[KURIR_QADDR_MAX + 1];
	char		 orcpt[KURIR_QORCPT_MAX + 1];	/* "" if none */
	char		 diag[KURIR_QDIAG_MAX + 1];	/* last reply or error */
};

/* One entry of queue_scan(); return 0 to go on. */
typedef int kurir_queue_scan_cb(void *arg, const char *id,
    int64_t next_retry, uint32_t hold);

struct kurir_core_api {
	uint32_t	 size;		/* sizeof(struct kurir_core_api) */
	uint32_t	 abi_major;
	uint32_t	 abi_minor;
	const char	*version;	/* the core's release, e.g. "0.1.0" */

	/* ---- ABI 1.0 ------------------------------------------------ */

	/* Logging.  Client-supplied text must be passed through
	 * log_escape() first.  Never log passwords or message bodies. */
	void	 (*log)(struct kurir_module *mod, int level,
		    const char *fmt, ...) KURIR_PRINTF(3, 4);
	void	 (*conn_log)(struct kurir_conn *c, int level,
		    const char *fmt, ...) KURIR_PRINTF(3, 4);
	/* Writes a printable, truncated copy of buf (at most cap-1 chars,
	 * non-printables as \xNN) into out; returns out. */
	char	*(*log_escape)(char *out, size_t cap, const void *buf,
		    size_t len);

	/* Configuration: the effective value of any key, core's or a
	 * module's.  conf_str returns NULL for an unknown key.  conf_num
	 * returns INT, SIZE (bytes), DURATION (seconds) and BOOL (0/1)
	 * values, and -1 for an unknown key or another type. */
	const char *(*conf_str)(const char *key);
	int64_t	 (*conf_num)(const char *key);

	/* Connections.  Output is queued and flushed by the loop; reads
	 * pause by themselves while the queue is above its high mark, and
	 * on_drain() is called when it falls below the low mark again. */
	int	 (*conn_write)(struct kurir_conn *c, const void *buf,
		    size_t len);
	int	 (*conn_printf)(struct kurir_conn *c, const char *fmt, ...)
		    KURIR_PRINTF(2, 3);
	/* True while the output queue is below its high-water mark, i.e.
	 * while a streaming writer should keep writing. */
	int	 (*conn_writable)(struct kurir_conn *c);
	/* The next n bytes of input go to on_data() unparsed (literals,
	 * BDAT chunks); line mode resumes after them. */
	int	 (*conn_read_bytes)(struct kurir_conn *c, uint64_t n);
	/* Stop or resume delivering input (while waiting for async work).
	 * Resuming delivers lines already buffered, from a deferred call. */
	void	 (*conn_pause)(struct kurir_conn *c);
	void	 (*conn_resume)(struct kurir_conn *c);
	/* Start TLS on a plaintext connection.  Call after queueing the
	 * protocol's "go ahead" reply: the core flushes it, discards every
	 * byte of input already received (pipelined plaintext), performs the
	 * handshake and then calls on_tls().  KURIR_E_UNSUPPORTED when no
	 * certificate is configured, KURIR_E_INVALID when already TLS. */
	int	 (*conn_starttls)(struct kurir_conn *c);
	/* Close after the queued output is flushed; on_close() follows. */
	void	 (*conn_close)(struct kurir_conn *c);
	/* Idle timeout in seconds for this connection (0: the default). */
	void	 (*conn_set_timeout)(struct kurir_conn *c, uint32_t seconds);
	int	 (*conn_is_tls)(struct kurir_conn *c);
	/* e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL without TLS. */
	const char *(*conn_tls_info)(struct kurir_conn *c);
	/* True for 127.0.0.0/8 and ::1 peers. */
	int	 (*conn_is_loopback)(struct kurir_conn *c);
	const char *(*conn_peer_addr)(struct kurir_conn *c);	/* "::1" */
	uint16_t (*conn_peer_port)(struct kurir_conn *c);
	const char *(*conn_local_addr)(struct kurir_conn *c);
	uint16_t (*conn_local_port)(struct kurir_conn *c);
	const char *(*conn_service)(struct kurir_conn *c);	/* "imaps" */
	uint64_t (*conn_id)(struct kurir_conn *c);	/* session id */
	/* Plaintext passwords may be used: TLS, or loopback with
	 * allow_plaintext_loopback on. */
	int	 (*conn_plaintext_ok)(struct kurir_conn *c);

	/* Event loop: one-shot timers, fd readability, deferred calls. */
	struct kurir_timer *(*timer_add)(uint64_t ms, kurir_cb *cb,
		    void *arg);
	void	 (*timer_del)(struct kurir_timer *t);
	struct kurir_watch *(*watch_fd)(int fd, kurir_fd_cb *cb, void *arg);
	void	 (*watch_del)(struct kurir_watch *w);
	int	 (*defer)(kurir_cb *cb, void *arg);
	/* Run work(arg) on a worker thread, then done(arg) on the loop.
	 * For anything that may block: hashing, fsync-heavy storage calls. */
	int	 (*run_blocking)(kurir_cb *work, kurir_cb *done, void *arg);
	uint64_t (*now_ms)(void);	/* monotonic milliseconds */

	/* The configured storage backend's table (`storage = ...`). */
	const struct kurir_storage_ops *(*storage)(void);
	/* The configured auth module's table (`auth = ...`). */
	const struct kurir_auth_ops *(*auth)(void);

	/* SASL, shared by every protocol.  sasl_mechs() lists the
	 * mechanisms to advertise on c, space separated (PLAIN and LOGIN only
	 * when conn_plaintext_ok()).  sasl_start() begins mech with an
	 * optional initial response (base64, "=" for empty); each result
	 * arrives through cb, possibly later.  On KURIR_SASL_CONTINUE send
	 * the challenge and pass the client's answer to sasl_step().  "*"
	 * from the client cancels: call sasl_free().  A finished exchange
	 * must still be freed. */
	const char *(*sasl_mechs)(struct kurir_conn *c);
	int	 (*sasl_start)(struct kurir_conn *c, const char *mech,
		    const char *initial, kurir_sasl_cb *cb, void *arg,
		    struct kurir_sasl **sasl_r);
	int	 (*sasl_step)(struct kurir_sasl *s, const char *response);
	void	 (*sasl_free)(struct kurir_sasl *s);
	/* A plaintext login (IMAP LOGIN, POP3 USER/PASS) with the same
	 * checks, throttling and async result as SASL PLAIN. */
	int	 (*login_plain)(struct kurir_conn *c, const char *user,
		    const char *password, kurir_sasl_cb *cb, void *arg,
		    struct kurir_sasl **sasl_r);

	/* Addresses.  is_local_domain: the domain is in `domains`.
	 * rcpt_resolve: expand aliases, catch-all and plus-addressing and
	 * call cb for each final target; KURIR_E_NOTFOUND for an unknown
	 * local address, KURIR_E_INVALID for a loop. */
	int	 (*is_local_domain)(const char *domain);
	int	 (*rcpt_resolve)(const char *address, kurir_rcpt_cb *cb,
		    void *arg);

	/* ---- ABI 1.0, queue ----------------------------------------
	 * The outbound queue (STATE_DIR/queue), owned by the core because
	 * protocol modules never call each other: the smtp module queues,
	 * the relay module delivers.  Unlike the rest of this table, every
	 * queue_* function may be called from any thread (they only touch
	 * files; one handle is used by one thread at a time).
	 *
	 * Producing: queue_begin, queue_write (the raw message, CR LF
	 * lines), queue_add_rcpt for each recipient, then queue_commit,
	 * which makes the entry durable (fsync'd, renamed, directory
	 * fsync'd) before it returns the queue id; only then may SMTP say
	 * 250.  commit and abort free q either way. */
	int	 (*queue_begin)(const char *sender,
		    const struct kurir_queue_params *p,
		    struct kurir_queue **q_r);
	int	 (*queue_write)(struct kurir_queue *q, const void *buf,
		    size_t len);
	int	 (*queue_add_rcpt)(struct kurir_queue *q, const char *rcpt,
		    uint32_t notify, const char *orcpt);
	int	 (*queue_commit)(struct kurir_queue *q, char *id_r,
		    size_t idcap);
	void	 (*queue_abort)(struct kurir_queue *q);
	/* Running: queue_scan lists every entry (cb returns 0 to go on);
	 * queue_open loads one (KURIR_E_NOTFOUND once removed); the
	 * runner reads it, records per-recipient results with
	 * queue_set_rcpt and makes them durable with queue_save, which
	 * counts an attempt, sets the next retry time and removes the
	 * entry when no recipient is pending.  Changes made meanwhile by
	 * kurirctl (hold, remove) win over the runner's. */
	int	 (*queue_scan)(kurir_queue_scan_cb *cb, void *arg);
	int	 (*queue_open)(const char *id,
		    struct kurir_queue_entry **e_r);
	int	 (*queue_info)(struct kurir_queue_entry *e,
		    struct kurir_queue_info *i_r);
	int	 (*queue_rcpt)(struct kurir_queue_entry *e, uint32_t i,
		    struct kurir_queue_rcpt *r_r);
	int	 (*queue_read)(struct kurir_queue_entry *e, uint64_t offset,
		    void *buf, size_t len, size_t *n_r);
	int	 (*queue_set_rcpt)(struct kurir_queue_entry *e, uint32_t i,
		    uint32_t state, const char *diag);
	int	 (*queue_save)(struct kurir_queue_entry *e,
		    int64_t next_retry);
	void	 (*queue_close)(struct kurir_queue_entry *e);

	/* ---- ABI 1.0, queue (two-phase) ----------------------------
	 * For a producer that commits something else with the entry, all
	 * or nothing (SMTP: local copies plus the queue).  queue_prepare
	 * makes the message and envelope durable in a prepared state no
	 * runner sees; then queue_commit activates the entry (one rename
	 * and a directory fsync) or queue_abort drops it.  After a failed
	 * prepare q must still be aborted.  A prepared entry whose
	 * producer died is deleted by the next queue_scan: no 250 was
	 * given for it, so its client sends the message again. */
	int	 (*queue_prepare)(struct kurir_queue *q);

	/* ---- ABI 1.0, watch_path -----------------------------------
	 * Change notification for files and directories, shared by every
	 * module of the process: one inotify instance per worker, one
	 * kernel watch per path however many callers watch it, and polling
	 * every 500 ms for a path the kernel cannot watch (its per-user
	 * inotify limits reached, or the path missing).  cb(arg) runs on
	 * the event loop after a change of the kinds in `events`
	 * (KURIR_PATH_*), made by this or any other process; changes may be
	 * folded into one call and calls may be spurious, so the callee
	 * re-reads what it cares about.  watch_path_del() stops it and is
	 * safe inside any watch callback.  NULL: bad argument or no memory.
	 * Loop thread only. */
	struct kurir_pathwatch *(*watch_path)(const char *path,
		    uint32_t events, kurir_cb *cb, void *arg);
	void	 (*watch_path_del)(struct kurir_pathwatch *w);

	/* ---- ABI 1.0, queue (success reports) ----------------------
	 * A recipient the producer delivered itself (a local mailbox)
	 * and that asked for NOTIFY=SUCCESS: it enters the entry as
	 * KURIR_QRCPT_DELIVERED, so the runner sends the "delivered"
	 * report (RFC 3464) to the sender. */
	int	 (*queue_add_delivered)(struct kurir_queue *q,
		    const char *rcpt, uint32_t notify, const char *orcpt);
};

#endif /* KURIR_API_H */
