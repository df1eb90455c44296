/*
 * lmdbst.h -- internals of the LMDB storage backend (module "lmdb").
 *
 * Layout: one LMDB environment per user, in
 * STATE_DIR/lmdb/<domain>/<localpart>/ (or the user's `location`).  Per
 * user rather than one shared environment because LMDB has a single
 * writer per environment: one user's big append never stalls another
 * user's delivery, a damaged file touches one user only, and a user's
 * mail is moved or removed as one directory.  Deliveries to the same user
 * from several threads are grouped into one write transaction and one
 * fsync pair (lmdbst_commit.c).
 *
 * Named databases inside an environment (all keys big-endian so that
 * LMDB's byte order is numeric order):
 *   meta      "usage" -> struct lmdbst_usage, "ids" -> struct lmdbst_ids,
 *             "recent" + id -> first recent UID (u32; lmdbst_recent.c)
 *   names     mailbox name (UTF-8, '/' separated) -> mailbox id (u32)
 *   mboxes    id -> struct lmdbst_mbox
 *   subs      mailbox name -> "" (subscriptions, may name no mailbox)
 *   msgs      (id, uid) -> struct lmdbst_msgrec + keywords
 *   blobs     blob id (u64) -> struct lmdbst_blob (refcount, size)
 *   body      (blob id, chunk no) -> up to LMDBST_CHUNK bytes
 *   cache     (id, uid) -> the protocols' cache blob
 *   expunged  (id, modseq, uid) -> "" (tombstones for changes_since)
 * Bodies live in blobs referenced by messages, so COPY shares them.
 *
 * Change notification: a writer touches STATE/.../notify/<mailbox id>
 * after each commit; notify_set() watches that file through the core's
 * api->watch_path() (one inotify instance per process), so sessions in
 * any process wake up.
 */
#ifndef LMDBST_H
#define LMDBST_H

#include <sys/queue.h>
#include <sys/types.h>

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <lmdb.h>

#include <kurir/api.h>
#include <kurir/module.h>
#include <kurir/storage.h>

#define LMDBST_CHUNK		65536u	/* body value size */
#define LMDBST_KW_MAX		4096u	/* bytes of keywords per message */
#define LMDBST_NAME_MAX		1024u	/* bytes of a mailbox name */
#define LMDBST_CACHE_MAX	(16u * 1024 * 1024)
#define LMDBST_BATCH		256u	/* records per read txn when listing */
#define LMDBST_GROUP_BYTES	(32ull << 20)	/* bytes per grouped commit */
/* Bodies above STAGE_MIN are stored in steps of STAGE_STEP bytes before
 * their commit (lmdbst_stage.c): LMDB holds a transaction's dirty pages
 * in memory, so no transaction may carry a whole big message. */
#define LMDBST_STAGE_MIN	(4ull << 20)
#define LMDBST_STAGE_STEP	(4ull << 20)

/* Settings, read once at init from the configuration. */
struct lmdbst_conf {
	char		 state_dir[1024];
	uint64_t	 map_size;	/* initial map size */
	uint64_t	 map_max;	/* beyond this: KURIR_E_NOSPACE */
	uint32_t	 group_max;	/* commits per grouped write txn */
	uint64_t	 spool_mem;	/* append bytes kept in memory */
	uint32_t	 env_cache;	/* idle environments kept open */
};

extern const struct kurir_core_api *lmdbst_api;
extern struct kurir_module *lmdbst_mod;
extern struct lmdbst_conf lmdbst_conf;

#define LMDBST_LOG(lvl, ...)						\
	do {								\
		if (lmdbst_api != NULL)					\
			lmdbst_api->log(lmdbst_mod, (lvl), __VA_ARGS__);	\
	} while (0)

/* Stored records. */
struct lmdbst_usage {
	uint64_t	 bytes;
	uint64_t	 messages;
};

struct lmdbst_ids {
	uint32_t	 next_mbox;
	uint32_t	 last_uidvalidity;
	uint64_t	 next_blob;
};

#define LMDBST_MBOX_NOSELECT	0x01u

struct lmdbst_mbox {
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	uint32_t	 messages;
	uint32_t	 unseen;
	uint64_t	 bytes;
	uint32_t	 special_use;
	uint32_t	 flags;		/* LMDBST_MBOX_* */
};

struct lmdbst_msgrec {
	uint32_t	 flags;
	uint32_t	 kwlen;		/* keyword bytes following, no NUL */
	uint64_t	 modseq;
	uint64_t	 size;
	int64_t		 date;
	uint64_t	 blob;
};

struct lmdbst_blob {
	uint64_t	 refs;
	uint64_t	 size;
};

enum {
	LMDBST_DB_META, LMDBST_DB_NAMES, LMDBST_DB_MBOXES, LMDBST_DB_SUBS,
	LMDBST_DB_MSGS, LMDBST_DB_BLOBS, LMDBST_DB_BODY, LMDBST_DB_CACHE,
	LMDBST_DB_EXPUNGED, LMDBST_DB_PENDING, LMDBST_NDB
};

struct lmdbst_req;
TAILQ_HEAD(lmdbst_reqq, lmdbst_req);

/* One open environment, shared by every store of that user in this
 * process (LMDB forbids opening an environment twice in one process). */
struct lmdbst_env {
	TAILQ_ENTRY(lmdbst_env) entry;
	char		*dir;
	MDB_env		*env;
	MDB_dbi		 dbi[LMDBST_NDB];
	unsigned int	 refs;
	time_t		 reader_check;	/* last mdb_reader_check() */
	/* Held shared by every transaction, exclusively to resize the map
	 * (mdb_env_set_mapsize needs no transaction live in the process). */
	pthread_rwlock_t maplock;
	/* Grouped commits. */
	pthread_mutex_t	 qlock;
	pthread_cond_t	 qcond;
	struct lmdbst_reqq queue;
	int		 leader;
};

struct kurir_store {
	struct lmdbst_env *e;
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
	char		*user;
};

struct kurir_mailbox {
	struct kurir_store *st;
	uint32_t	 id;
	uint32_t	 uidvalidity;
	uint32_t	 snap_uidnext;	/* msg_list shows uids below this */
	int		 efd;		/* notify_fd(): eventfd, or -1 */
	struct kurir_pathwatch *fdw;	/* the watch writing to efd */
	struct kurir_pathwatch *nw;	/* notify_set()'s watch */
	/* cache_set() blobs not yet written: cache writes are batched
	 * (one durable commit per LMDBST_CPEND of them, or at the next
	 * write, sync or close) since losing one only costs a re-parse. */
	struct lmdbst_cpend *cpend;
	size_t		 ncpend;
	size_t		 cpend_bytes;
};

#define LMDBST_CPEND		64u
#define LMDBST_CPEND_BYTES	(1u << 20)

struct lmdbst_cpend {
	uint32_t	 uid;
	size_t		 len;
	void		*data;
};

/* A message body waiting to be stored: in memory up to spool_mem, then
 * in an unlinked temporary file. */
struct lmdbst_spool {
	char		*mem;
	size_t		 memlen;
	size_t		 memcap;
	int		 fd;
	uint64_t	 size;
	int		 err;		/* first write error, sticky */
};

/* One append or delivery waiting for a grouped commit. */
struct lmdbst_req {
	TAILQ_ENTRY(lmdbst_req) entry;
	const char	*mailbox;	/* normalized */
	uint32_t	 flags;
	const char	*keywords;	/* normalized, may be "" */
	int64_t		 date;
	struct lmdbst_spool *spool;
	uint64_t	 blob;		/* staged body, or 0 */
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
	/* Results. */
	int		 status;
	int		 done;
	uint32_t	 mbox_id;
	uint32_t	 uidvalidity;
	uint32_t	 uid;
};

/* lmdbst_env.c */
int	 lmdbst_env_get(const char *dir, struct lmdbst_env **e_r);
void	 lmdbst_env_put(struct lmdbst_env *e);
void	 lmdbst_env_shutdown(void);
int	 lmdbst_txn_begin(struct lmdbst_env *e, int write, MDB_txn **txn_r);
int	 lmdbst_txn_commit(struct lmdbst_env *e, MDB_txn *txn);
void	 lmdbst_txn_abort(struct lmdbst_env *e, MDB_txn *txn);
int	 lmdbst_grow(struct lmdbst_env *e);
typedef int lmdbst_write_fn(struct lmdbst_env *e, MDB_txn *t, void *arg);
int	 lmdbst_write(struct lmdbst_env *e, lmdbst_write_fn *fn, void *arg);
int	 lmdbst_status(int rc, const char *what);
int	 lmdbst_write_status(struct lmdbst_env *e, int rc, const char *what);
int	 lmdbst_user_dir(const struct kurir_user_params *p, char *buf,
	    size_t len);
int	 lmdbst_mkdirs(const char *path, int *created_r);
void	 lmdbst_notify_touch(struct lmdbst_env *e, uint32_t id);
int	 lmdbst_notify_path(struct lmdbst_env *e, uint32_t id, char *buf,
	    size_t len);

/* lmdbst_db.c: records and keys */
void	 lmdbst_key_msg(uint8_t *k, uint32_t id, uint32_t uid);
void	 lmdbst_key_body(uint8_t *k, uint64_t blob, uint32_t chunk);
void	 lmdbst_key_tomb(uint8_t *k, uint32_t id, uint64_t modseq,
	    uint32_t uid);
uint32_t lmdbst_get32(const uint8_t *p);
uint64_t lmdbst_get64(const uint8_t *p);
int	 lmdbst_ids_get(struct lmdbst_env *e, MDB_txn *t,
	    struct lmdbst_ids *ids);
int	 lmdbst_ids_put(struct lmdbst_env *e, MDB_txn *t,
	    const struct lmdbst_ids *ids);
int	 lmdbst_usage_get(struct lmdbst_env *e, MDB_txn *t,
	    struct lmdbst_usage *u);
int	 lmdbst_usage_put(struct lmdbst_env *e, MDB_txn *t,
	    const struct lmdbst_usage *u);
int	 lmdbst_name_get(struct lmdbst_env *e, MDB_txn *t, const char *name,
	    uint32_t *id_r);
int	 lmdbst_mbox_get(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    struct lmdbst_mbox *m);
int	 lmdbst_mbox_put(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    const struct lmdbst_mbox *m);
int	 lmdbst_mbox_new(struct lmdbst_env *e, MDB_txn *t, const char *name,
	    uint32_t special_use, uint32_t *id_r);
int	 lmdbst_msg_get(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    uint32_t uid, struct lmdbst_msgrec *r, const char **kw_r);
int	 lmdbst_msg_put(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    uint32_t uid, const struct lmdbst_msgrec *r, const char *kw,
	    size_t kwlen);
int	 lmdbst_blob_ref(struct lmdbst_env *e, MDB_txn *t, uint64_t blob,
	    int delta);
int	 lmdbst_msg_remove(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    uint32_t uid, uint64_t tomb_modseq);
int	 lmdbst_body_del(struct lmdbst_env *e, MDB_txn *t, uint64_t blob);
int	 lmdbst_store_body(struct lmdbst_env *e, MDB_txn *t,
	    struct lmdbst_spool *sp, uint64_t *blob_r);
int	 lmdbst_add_msg(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    const struct lmdbst_msgrec *r, const char *kw, size_t kwlen,
	    uint64_t qbytes, uint64_t qmsgs, uint32_t *uid_r);

/* lmdbst_stage.c: big bodies stored in steps before their commit */
int	 lmdbst_stage_body(struct lmdbst_env *e, struct lmdbst_spool *sp,
	    uint64_t *blob_r);
int	 lmdbst_stage_done(struct lmdbst_env *e, MDB_txn *t, uint64_t blob,
	    uint64_t size);
void	 lmdbst_stage_drop(struct lmdbst_env *e, uint64_t blob);
void	 lmdbst_stage_sweep(struct lmdbst_env *e);

/* lmdbst_util.c */
int	 lmdbst_name_norm(const char *in, char *out, size_t len);
int	 lmdbst_kw_norm(const char *in, char *out, size_t len);
int	 lmdbst_kw_apply(const char *cur, size_t curlen, uint32_t op,
	    const char *kw, char *out, size_t len);
struct kurir_uid_range *lmdbst_set_norm(const struct kurir_uid_range *set,
	    size_t nset, size_t *n_r);

/* lmdbst_spool.c */
void	 lmdbst_spool_init(struct lmdbst_spool *sp);
int	 lmdbst_spool_write(struct lmdbst_spool *sp, const void *buf,
	    size_t len);
int	 lmdbst_spool_read(struct lmdbst_spool *sp, uint64_t off, void *buf,
	    size_t len);
void	 lmdbst_spool_free(struct lmdbst_spool *sp);

/* lmdbst_iter.c: walk the UIDs of a set inside a write transaction in
 * bounded batches (records may change under the walk). */
typedef int lmdbst_uid_fn(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    uint32_t uid, void *arg);
int	 lmdbst_each_uid(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    const struct kurir_uid_range *set, size_t n, lmdbst_uid_fn *fn,
	    void *arg);
/* A growable list of UIDs, for callbacks run after commit. */
struct lmdbst_uids {
	uint32_t	*v;
	size_t		 n;
	size_t		 cap;
};
int	 lmdbst_uids_add(struct lmdbst_uids *u, uint32_t a, uint32_t b);
void	 lmdbst_uids_free(struct lmdbst_uids *u);

int	 lmdbst_expunge_one(struct lmdbst_env *e, uint32_t id, uint32_t uid);

/* lmdbst_notify.c */
void	 lmdbst_notify_close(struct kurir_mailbox *mb);

/* lmdbst_cache.c */
int	 lmdbst_cache_flush(struct kurir_mailbox *mb);

/* lmdbst_recent.c: \Recent (storage.h recent_claim) */
int	 lmdbst_recent_get(struct lmdbst_env *e, MDB_txn *t, uint32_t id,
	    uint32_t *first_r);
int	 lmdbst_recent_del(struct lmdbst_env *e, MDB_txn *t, uint32_t id);
int	 lmdbst_recent_claim(struct kurir_mailbox *mb, uint32_t uidnext,
	    uint32_t *first_r);
int	 lmdbst_recent_count(struct kurir_store *st, const char *name,
	    uint32_t *recent_r);

/* lmdbst_commit.c */
int	 lmdbst_commit(struct lmdbst_env *e, struct lmdbst_req *r);

/* The ops, by file. */
int	 lmdbst_store_open(const struct kurir_user_params *p,
	    struct kurir_store **st_r);
void	 lmdbst_store_close(struct kurir_store *st);
int	 lmdbst_quota_usage(struct kurir_store *st, uint64_t *bytes_r,
	    uint64_t *messages_r);
int	 lmdbst_mailbox_list(struct kurir_store *st, kurir_mbx_list_cb *cb,
	    void *arg);
int	 lmdbst_mailbox_create(struct kurir_store *st, const char *name,
	    uint32_t special_use);
int	 lmdbst_mailbox_delete(struct kurir_store *st, const char *name);
int	 lmdbst_mailbox_rename(struct kurir_store *st, const char *from,
	    const char *to);
int	 lmdbst_mailbox_subscribe(struct kurir_store *st, const char *name,
	    uint32_t subscribed);
int	 lmdbst_mailbox_status(struct kurir_store *st, const char *name,
	    struct kurir_mailbox_status *s_r);
int	 lmdbst_mailbox_open(struct kurir_store *st, const char *name,
	    struct kurir_mailbox **mb_r);
void	 lmdbst_mailbox_close(struct kurir_mailbox *mb);
int	 lmdbst_mailbox_sync(struct kurir_mailbox *mb,
	    struct kurir_mailbox_status *s_r);
int	 lmdbst_msg_list(struct kurir_mailbox *mb, uint32_t first,
	    uint32_t last, kurir_msg_cb *cb, void *arg);
int	 lmdbst_msg_read(struct kurir_mailbox *mb, uint32_t uid,
	    uint64_t offset, void *buf, size_t len, size_t *n_r);
int	 lmdbst_msg_flags(struct kurir_mailbox *mb,
	    const struct kurir_uid_range *set, size_t nset, uint32_t op,
	    uint32_t flags, const char *keywords, uint64_t unchangedsince,
	    kurir_uid_cb *failed_cb, void *arg);
int	 lmdbst_msg_expunge(struct kurir_mailbox *mb,
	    const struct kurir_uid_range *set, size_t nset);
int	 lmdbst_msg_copy(struct kurir_mailbox *mb,
	    const struct kurir_uid_range *set, size_t nset, const char *dest,
	    uint32_t move, uint32_t *dest_uidvalidity_r,
	    kurir_uid_map_cb *map_cb, void *arg);
int	 lmdbst_changes_since(struct kurir_mailbox *mb, uint64_t modseq,
	    kurir_msg_cb *changed_cb, kurir_uid_cb *expunged_cb, void *arg);
int	 lmdbst_cache_get(struct kurir_mailbox *mb, uint32_t uid, void *buf,
	    size_t cap, size_t *len_r);
int	 lmdbst_cache_set(struct kurir_mailbox *mb, uint32_t uid,
	    const void *blob, size_t len);
int	 lmdbst_notify_fd(struct kurir_mailbox *mb);
void	 lmdbst_notify_clear(struct kurir_mailbox *mb);
int	 lmdbst_notify_set(struct kurir_mailbox *mb, kurir_mbx_notify_cb *cb,
	    void *arg);
int	 lmdbst_append_begin(struct kurir_store *st, const char *mailbox,
	    uint32_t flags, const char *keywords, int64_t internal_date,
	    struct kurir_append **ap_r);
int	 lmdbst_append_write(struct kurir_append *ap, const void *buf,
	    size_t len);
int	 lmdbst_append_commit(struct kurir_append *ap,
	    uint32_t *uidvalidity_r, uint32_t *uid_r);
void	 lmdbst_append_abort(struct kurir_append *ap);
int	 lmdbst_deliver_begin(const struct kurir_user_params *const *users,
	    size_t nusers, int64_t internal_date, struct kurir_delivery **d_r);
int	 lmdbst_deliver_write(struct kurir_delivery *d, const void *buf,
	    size_t len);
int	 lmdbst_deliver_commit(struct kurir_delivery *d);
void	 lmdbst_deliver_abort(struct kurir_delivery *d);

#endif /* LMDBST_H */
