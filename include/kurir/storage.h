/*
 * kurir/storage.h -- the storage backend ABI (kind KURIR_MOD_STORAGE).
 *
 * Part of the stable ABI; see the rules at the top of kurir/module.h.
 *
 * Model.  A user (canonical "user@domain") owns mailboxes.  Names are
 * UTF-8 with '/' as the hierarchy separator ("Archive/2026"); protocol
 * modules convert at their edge (IMAP: modified UTF-7 on the wire).
 * "INBOX" is matched case-insensitively and always exists.  A mailbox has
 * a UIDVALIDITY, a UIDNEXT and a HIGHESTMODSEQ; a message has a UID
 * (strictly ascending, never reused within one UIDVALIDITY), its size, an
 * internal date (seconds since the epoch), system flags and keywords, a
 * modseq (raised on every flag change) and its raw RFC 5322 bytes.
 *
 * Status.  Every op returns KURIR_OK or a negative KURIR_E_* (errors.h):
 * NOTFOUND, EXISTS, OVERQUOTA, NOSPACE, TEMPFAIL, CORRUPT, INVALID...
 * No op aborts on bad input.  Backends log details (errno, MDB_*) through
 * api->log.
 *
 * Threads.  Ops may block on disk (fsync).  A handle (store, mailbox,
 * append, delivery) is used by one thread at a time; different handles
 * may be used from different threads at once, and from several processes
 * at once.  Protocol modules call the slow ops (delivery, append commit)
 * from api->run_blocking().
 *
 * Reading a message: msg_read() copies a byte range into the caller's
 * buffer, so no backend ever has to hold a whole message in memory.
 *
 * Change notification: after notify_set(mb, cb, arg), cb(arg) runs on
 * the event loop when any process changes the mailbox (new mail, flags,
 * expunge); the caller then calls mailbox_sync() and changes_since().
 * Calls may be spurious, or several changes folded into one.  Backends
 * build it on api->watch_path(), which keeps one inotify instance per
 * worker process and polls when the kernel's limits are reached, so a
 * backend has no fallback of its own.  notify_set() and the callback
 * are loop-thread only; a NULL cb, or mailbox_close(), stops the calls.
 *
 * The older notify_fd() gives a descriptor that becomes readable on a
 * change: watch it with api->watch_fd(); on wakeup call notify_clear(),
 * then sync.  It costs a descriptor per mailbox handle; it stays for
 * callers built before notify_set() (the in-tree backends implement it
 * as an eventfd over the same path watches).  New callers use
 * notify_set() when KURIR_HAS(ops, notify_set) and it is not NULL.
 */
#ifndef KURIR_STORAGE_H
#define KURIR_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/errors.h>

/* System flags.  \Recent is no flag here: see recent_claim(). */
#define KURIR_FLAG_SEEN		0x01u
#define KURIR_FLAG_ANSWERED	0x02u
#define KURIR_FLAG_FLAGGED	0x04u
#define KURIR_FLAG_DELETED	0x08u
#define KURIR_FLAG_DRAFT	0x10u

/* Mailbox attributes reported by mailbox_list(). */
#define KURIR_MBX_NOSELECT	0x0001u	/* a parent that holds no mail */
#define KURIR_MBX_HASCHILDREN	0x0002u
#define KURIR_MBX_HASNOCHILDREN	0x0004u
#define KURIR_MBX_SUBSCRIBED	0x0008u
/* Special use (RFC 6154), also the `special_use` of mailbox_create(). */
#define KURIR_MBX_DRAFTS	0x0100u
#define KURIR_MBX_SENT		0x0200u
#define KURIR_MBX_TRASH		0x0400u
#define KURIR_MBX_JUNK		0x0800u
#define KURIR_MBX_ARCHIVE	0x1000u

/* msg_flags() operations. */
#define KURIR_FLAGS_SET		1u
#define KURIR_FLAGS_ADD		2u
#define KURIR_FLAGS_REMOVE	3u

struct kurir_store;		/* one user's mail, open */
struct kurir_mailbox;		/* one open mailbox */
struct kurir_append;		/* a message being appended */
struct kurir_delivery;		/* a message being delivered to users */

/* Who is opened.  Limits of 0 mean "no quota". */
struct kurir_user_params {
	uint32_t	 size;		/* sizeof(struct kurir_user_params) */
	const char	*user;		/* canonical "user@domain" */
	const char	*location;	/* backend-specific override, or NULL */
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
};

struct kurir_msg {
	uint32_t	 uid;
	uint32_t	 flags;		/* KURIR_FLAG_* */
	uint64_t	 modseq;
	uint64_t	 size;		/* bytes of the raw message */
	int64_t		 internal_date;	/* seconds since the epoch */
	const char	*keywords;	/* space separated; "" for none */
};

struct kurir_mailbox_status {
	uint32_t	 messages;
	uint32_t	 unseen;
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	uint64_t	 bytes;		/* sum of message sizes */
};

/* A UID set: ranges first..last inclusive, in any order. */
struct kurir_uid_range {
	uint32_t	 first;
	uint32_t	 last;
};

/* Callbacks return 0 to go on, non-zero to stop (the op returns that). */
typedef int kurir_mbx_list_cb(void *arg, const char *name, uint32_t attrs);
typedef int kurir_msg_cb(void *arg, const struct kurir_msg *m);
typedef int kurir_uid_cb(void *arg, uint32_t uid);
typedef int kurir_uid_map_cb(void *arg, uint32_t src_uid, uint32_t dst_uid);
/* notify_set(): the mailbox may have changed. */
typedef void kurir_mbx_notify_cb(void *arg);

struct kurir_storage_ops {
	uint32_t	 size;		/* sizeof(struct kurir_storage_ops) */

	/* ---- ABI 1.0 ------------------------------------------------ */

	/* Open a user's store, creating it (with INBOX) on first use. */
	int	 (*store_open)(const struct kurir_user_params *p,
		    struct kurir_store **st_r);
	void	 (*store_close)(struct kurir_store *st);
	int	 (*quota_usage)(struct kurir_store *st, uint64_t *bytes_r,
		    uint64_t *messages_r);

	/* Mailboxes.  list calls cb once per mailbox, parents first,
	 * INBOX included.  create makes missing parents; special_use is 0
	 * or one KURIR_MBX_ special-use bit.  delete of a mailbox that has
	 * children keeps it as NOSELECT.  rename moves its children along;
	 * renaming INBOX moves its messages to the new mailbox and leaves
	 * INBOX empty (RFC 3501). */
	int	 (*mailbox_list)(struct kurir_store *st,
		    kurir_mbx_list_cb *cb, void *arg);
	int	 (*mailbox_create)(struct kurir_store *st, const char *name,
		    uint32_t special_use);
	int	 (*mailbox_delete)(struct kurir_store *st, const char *name);
	int	 (*mailbox_rename)(struct kurir_store *st, const char *from,
		    const char *to);
	int	 (*mailbox_subscribe)(struct kurir_store *st, const char *name,
		    uint32_t subscribed);
	int	 (*mailbox_status)(struct kurir_store *st, const char *name,
		    struct kurir_mailbox_status *s_r);

	/* An open mailbox sees a snapshot; mailbox_sync() moves it to the
	 * latest committed state and fills s_r (may be NULL). */
	int	 (*mailbox_open)(struct kurir_store *st, const char *name,
		    struct kurir_mailbox **mb_r);
	void	 (*mailbox_close)(struct kurir_mailbox *mb);
	int	 (*mailbox_sync)(struct kurir_mailbox *mb,
		    struct kurir_mailbox_status *s_r);

	/* Messages with first <= uid <= last, ascending. */
	int	 (*msg_list)(struct kurir_mailbox *mb, uint32_t first,
		    uint32_t last, kurir_msg_cb *cb, void *arg);
	/* Copy up to len bytes from offset into buf; *n_r < len only at
	 * the end of the message.  KURIR_E_NOTFOUND for an expunged uid. */
	int	 (*msg_read)(struct kurir_mailbox *mb, uint32_t uid,
		    uint64_t offset, void *buf, size_t len, size_t *n_r);
	/* Change flags and keywords (space separated, may be NULL) of the
	 * set.  With unchangedsince != 0, a message whose modseq is above it
	 * is left alone and reported through failed_cb (RFC 7162). */
	int	 (*msg_flags)(struct kurir_mailbox *mb,
		    const struct kurir_uid_range *set, size_t nset,
		    uint32_t op, uint32_t flags, const char *keywords,
		    uint64_t unchangedsince, kurir_uid_cb *failed_cb,
		    void *arg);
	int	 (*msg_expunge)(struct kurir_mailbox *mb,
		    const struct kurir_uid_range *set, size_t nset);
	/* Copy (move = 0) or move the set to dest atomically; map_cb gets
	 * each source uid with its new uid, ascending. */
	int	 (*msg_copy)(struct kurir_mailbox *mb,
		    const struct kurir_uid_range *set, size_t nset,
		    const char *dest, uint32_t move,
		    uint32_t *dest_uidvalidity_r, kurir_uid_map_cb *map_cb,
		    void *arg);
	/* Messages whose modseq > modseq, and UIDs expunged since then. */
	int	 (*changes_since)(struct kurir_mailbox *mb, uint64_t modseq,
		    kurir_msg_cb *changed_cb, kurir_uid_cb *expunged_cb,
		    void *arg);

	/* A per-message blob for protocols' parsed data.  cache_get:
	 * KURIR_E_NOTFOUND if none, KURIR_E_TOOBIG (with *len_r set) when
	 * cap is too small. */
	int	 (*cache_get)(struct kurir_mailbox *mb, uint32_t uid,
		    void *buf, size_t cap, size_t *len_r);
	int	 (*cache_set)(struct kurir_mailbox *mb, uint32_t uid,
		    const void *blob, size_t len);

	/* Change notification (see the top of this file); -1: none. */
	int	 (*notify_fd)(struct kurir_mailbox *mb);
	void	 (*notify_clear)(struct kurir_mailbox *mb);

	/* Streamed append.  Nothing is visible before commit; abort or a
	 * crash leaves no trace.  commit is durable when it returns and
	 * frees ap either way. */
	int	 (*append_begin)(struct kurir_store *st, const char *mailbox,
		    uint32_t flags, const char *keywords,
		    int64_t internal_date, struct kurir_append **ap_r);
	int	 (*append_write)(struct kurir_append *ap, const void *buf,
		    size_t len);
	int	 (*append_commit)(struct kurir_append *ap,
		    uint32_t *uidvalidity_r, uint32_t *uid_r);
	void	 (*append_abort)(struct kurir_append *ap);

	/* Delivery of one message to several users' INBOXes.  commit is
	 * all-or-nothing and durable when it returns KURIR_OK; on failure
	 * no user has the message, and the status says which kind of
	 * failure (OVERQUOTA beats TEMPFAIL).  commit frees d either way. */
	int	 (*deliver_begin)(const struct kurir_user_params *const *users,
		    size_t nusers, int64_t internal_date,
		    struct kurir_delivery **d_r);
	int	 (*deliver_write)(struct kurir_delivery *d, const void *buf,
		    size_t len);
	int	 (*deliver_commit)(struct kurir_delivery *d);
	void	 (*deliver_abort)(struct kurir_delivery *d);

	/* ---- appended: notify_set ------------------------------------ */

	/* Change notification by callback (see the top of this file);
	 * replaces a previous cb, NULL stops.  KURIR_E_UNSUPPORTED when
	 * the backend or the core cannot: the caller polls. */
	int	 (*notify_set)(struct kurir_mailbox *mb,
		    kurir_mbx_notify_cb *cb, void *arg);

	/* ---- appended: \Recent (RFC 3501 section 2.3.2) --------------- */
	/* Check KURIR_HAS(ops, recent_claim) and for NULL before use.
	 *
	 * A mailbox keeps a durable "first recent UID": messages at or
	 * above it have not yet been claimed by any session (\Recent kept
	 * the Dovecot way: the first session to see new mail claims it).
	 * recent_claim() atomically reads it into *first_r and, when it is
	 * below uidnext, raises it to uidnext (pass the UIDNEXT of mb's
	 * snapshot, from mailbox_sync).  Messages with *first_r <= uid <
	 * uidnext are then \Recent for the caller alone; none when
	 * *first_r >= uidnext.  uidnext 0 only reads: a read-only session
	 * (IMAP EXAMINE) shows the unclaimed messages as \Recent but must
	 * not take the flag from them (RFC 3501 6.3.2).  A new mailbox, or
	 * one whose UIDVALIDITY changed, starts at 1 (all its messages are
	 * unclaimed).
	 * recent_count() counts the unclaimed messages of a mailbox
	 * without claiming them (IMAP STATUS RECENT). */
	int	 (*recent_claim)(struct kurir_mailbox *mb, uint32_t uidnext,
		    uint32_t *first_r);
	int	 (*recent_count)(struct kurir_store *st, const char *name,
		    uint32_t *recent_r);
};

#endif /* KURIR_STORAGE_H */
