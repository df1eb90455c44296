/*
 * maildir.h -- private interfaces of the Maildir++ storage backend.
 *
 * On-disk layout of one user (ROOT is the expanded `maildir_location`
 * template, or kurir_user_params.location):
 *
 *   ROOT/{cur,new,tmp}/            INBOX, plain Maildir
 *   ROOT/.Folder.Sub/{cur,new,tmp} the mailbox "Folder/Sub" (Maildir++);
 *                                  each holds an empty `maildirfolder`
 *   ROOT/kurir-subscriptions       subscribed names, UTF-8, one a line
 *   ROOT/kurir-uidvalidity         last UIDVALIDITY handed out (so a
 *                                  re-created mailbox never repeats one)
 *   ROOT/maildirsize               Maildir++ quota file ("B C" lines)
 *   ROOT/kurir-root.lock           flock(2) lock for the files above
 *
 * In every folder directory (ROOT itself for INBOX):
 *
 *   kurir-uidlist       UIDs, modseqs and expunge tombstones, rewritten
 *                       atomically (temp file, fsync, rename) under
 *   kurir-uidlist.lock  an flock(2) lock; see maildir_uidlist.c
 *   dovecot-keywords    keyword letters a..z -> names, Dovecot's format
 *                       ("N name" lines) so Dovecot reads our keywords
 *   kurir-special       the folder's special-use attribute ("\Sent")
 *   kurir-cache/UID     the per-message cache blobs (rebuildable)
 *   kurir-recent        the first UID no session has claimed as \Recent
 *                       (maildir_recent.c)
 *
 * Message files are named per the Maildir spec,
 * "SEC.MusecPpidQn.host,S=size:2,FLAGS", with the internal date as the
 * file's mtime; see maildir_file.c.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <kurir/api.h>
#include <kurir/storage.h>

#define MD_NKEYWORDS	26		/* letters a..z in the file name */
#define MD_UIDLIST	"kurir-uidlist"
#define MD_UIDLIST_LOCK	"kurir-uidlist.lock"
#define MD_KEYWORDS	"dovecot-keywords"
#define MD_SPECIAL	"kurir-special"
#define MD_CACHEDIR	"kurir-cache"
#define MD_SUBS		"kurir-subscriptions"
#define MD_UIDVALIDITY	"kurir-uidvalidity"
#define MD_QUOTAFILE	"maildirsize"
#define MD_ROOT_LOCK	"kurir-root.lock"
#define MD_FOLDERMARK	"maildirfolder"
#define MD_RECENT	"kurir-recent"

/* Configuration, read once at init (maildir.c). */
struct md_conf {
	const char	*location;	/* template, see maildir_store.c */
	const char	*state_dir;
	int64_t		 tmp_max_age;	/* seconds */
	int64_t		 max_keywords;	/* <= MD_NKEYWORDS */
	uint32_t	 fsync;		/* 0: skip fsync (tests, benchmarks) */
};

extern const struct kurir_core_api *md_api;
extern struct kurir_module *md_mod;
extern struct md_conf md_conf;

/* One message as the index knows it. */
struct md_rec {
	uint32_t	 uid;
	uint32_t	 flags;		/* KURIR_FLAG_* */
	uint32_t	 kwbits;	/* bit i: keyword letter 'a' + i */
	uint32_t	 in_new;	/* file still in new/ */
	uint64_t	 modseq;
	uint64_t	 size;
	int64_t		 date;
	char		*name;		/* file name within cur/ or new/ */
	uint32_t	 seen;		/* scratch for the directory scan */
	uint32_t	 dirty;		/* changed since read: to be saved */
};

struct md_tomb {
	uint32_t	 uid;
	uint64_t	 modseq;
};

/* A folder's index: its uidlist plus its keyword table. */
struct md_index {
	uint32_t	 uidvalidity;
	uint32_t	 nextuid;
	uint64_t	 highestmodseq;
	struct md_rec	*recs;		/* ascending uid */
	size_t		 nrecs, caprecs;
	struct md_tomb	*tombs;		/* ascending modseq */
	size_t		 ntombs, captombs;
	char		*kw[MD_NKEYWORDS];
	size_t		 nkw;
	/* the file as read: lines, tombstones on disk, ends with '\n' */
	uint32_t	 on_disk;
	uint32_t	 tail_ok;
	size_t		 nlines;
	size_t		 ntombs_disk;
};

struct kurir_store {
	char		*root;
	char		*user;
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
};

/* Watched per mailbox for change notification: new/, cur/, the folder. */
#define MD_NOTIFY_PATHS	3

/* What a folder's directories and uidlist looked like at the last full
 * sync, so that a sync finding them unchanged can skip the scan. */
struct md_stamp {
	uint32_t	 valid;
	struct stat	 sb[3];		/* new/, cur/, kurir-uidlist */
};

struct kurir_mailbox {
	struct kurir_store *st;
	char		*dir;		/* folder directory */
	char		*name;		/* storage name */
	struct md_index	 idx;		/* the snapshot */
	struct md_stamp	 stamp;		/* of the last full sync */
	int		 efd;		/* notify_fd(): eventfd, or -1 */
	struct kurir_pathwatch *fdw[MD_NOTIFY_PATHS];	/* writing to efd */
	struct kurir_pathwatch *nw[MD_NOTIFY_PATHS];	/* notify_set()'s */
	int		 rfd;		/* last message opened for reading */
	uint32_t	 rfd_uid;
	uint64_t	 rfd_size;	/* its size as the index knows it */
	int		 subfd[2];	/* cur/ and new/ for openat(), -1
					 * until a message is read */
};

/* Bytes of rendered keywords (kurir_msg.keywords) of one message. */
#define MD_KWBUF	1024

/* maildir_util.c */
int	 md_errno(int e);
int	 md_fsync(int fd);
int	 md_fsync_dir(const char *dir);
char	*md_path(const char *a, const char *b, const char *c);
int	 md_mkdir_p(const char *path, mode_t mode);
int	 md_make_maildir(const char *dir, int folder);
int	 md_rm_rf(const char *path);
int	 md_write_file(const char *dir, const char *name, const void *buf,
	    size_t len, int durable);
int	 md_lock(const char *dir, const char *name, int *fd_r);
void	 md_unlock(int fd);
void	 md_clean_tmp(const char *dir, int64_t max_age);
int	 md_copy_file(const char *src, const char *dst, int64_t date);
void	 md_log(int level, const char *fmt, ...) KURIR_PRINTF(2, 3);

/* maildir_name.c: storage names <-> Maildir++ folder directory names */
int	 md_name_valid(const char *name);
int	 md_name_is_inbox(const char *name);
int	 md_name_to_dir(const char *name, char *out, size_t cap);
int	 md_dir_to_name(const char *dir, char *out, size_t cap);
int	 md_utf7_encode(const char *in, size_t len, char *out, size_t cap);
int	 md_utf7_decode(const char *in, size_t len, char *out, size_t cap);

/* maildir_file.c: file names, the ":2," info and unique names */
int	 md_info_parse(const char *name, uint32_t *flags_r,
	    uint32_t *kwbits_r);
int	 md_info_render(const char *base, size_t baselen, uint32_t flags,
	    uint32_t kwbits, const char *keep, char *out, size_t cap);
size_t	 md_base_len(const char *name);
int	 md_size_from_name(const char *name, uint64_t *size_r);
int	 md_unique_name(char *out, size_t cap);

/* maildir_uidlist.c */
void	 md_index_init(struct md_index *ix);
void	 md_index_free(struct md_index *ix);
int	 md_index_read(const char *dir, struct md_index *ix);
int	 md_index_parse_line(struct md_index *ix, char *line);
int	 md_index_write(const char *dir, struct md_index *ix);
int	 md_index_save(const char *dir, struct md_index *ix);
struct md_rec *md_index_add(struct md_index *ix);
void	 md_index_shrink(struct md_index *ix);
struct md_rec *md_index_find(struct md_index *ix, uint32_t uid);
int	 md_index_tomb(struct md_index *ix, uint32_t uid, uint64_t modseq);
void	 md_index_remove(struct md_index *ix, size_t i);
int	 md_index_new_uidvalidity(const char *root, uint32_t *v_r);

/* maildir_keywords.c */
int	 md_kw_read(const char *dir, struct md_index *ix);
int	 md_kw_map(const char *dir, struct md_index *ix, const char *words,
	    int create, uint32_t *bits_r);
size_t	 md_kw_render(const struct md_index *ix, uint32_t bits, char *out,
	    size_t cap);

/* maildir_sync.c: the directory scan, run under the folder lock */
int	 md_sync_locked(const char *root, const char *dir,
	    struct md_index *ix);
int	 md_folder_load(struct kurir_mailbox *mb, int scan);
int	 md_locate(const char *dir, const char *name, char *found,
	    size_t cap, uint32_t *in_new_r);
int	 md_msg_path(const char *dir, const struct md_rec *r, char *out,
	    size_t cap);

/* maildir_quota.c: Maildir++ maildirsize */
int	 md_quota_usage(struct kurir_store *st, uint64_t *bytes_r,
	    uint64_t *msgs_r);
int	 md_quota_check(struct kurir_store *st, uint64_t bytes,
	    uint64_t msgs);
void	 md_quota_add(const char *root, int64_t bytes, int64_t msgs);
void	 md_quota_recalc_if_present(const char *root);

/* maildir_store.c */
int	 md_store_open(const struct kurir_user_params *p,
	    struct kurir_store **st_r);
void	 md_store_close(struct kurir_store *st);
int	 md_location(const struct kurir_user_params *p, char *out,
	    size_t cap);
int	 md_folder_dir(struct kurir_store *st, const char *name, char **dir_r,
	    int must_exist);

/* maildir_mbox.c: mailbox list, create, delete, rename, subscriptions */
int	 md_mailbox_list(struct kurir_store *, kurir_mbx_list_cb *, void *);
int	 md_mailbox_create(struct kurir_store *, const char *, uint32_t);
int	 md_mailbox_delete(struct kurir_store *, const char *);
int	 md_mailbox_rename(struct kurir_store *, const char *, const char *);
int	 md_mailbox_subscribe(struct kurir_store *, const char *, uint32_t);
int	 md_mailbox_status(struct kurir_store *, const char *,
	    struct kurir_mailbox_status *);

/* maildir_mailbox.c */
int	 md_mailbox_open(struct kurir_store *, const char *,
	    struct kurir_mailbox **);
void	 md_mailbox_close(struct kurir_mailbox *);
int	 md_mailbox_sync(struct kurir_mailbox *, struct kurir_mailbox_status *);
void	 md_status_fill(const struct md_index *ix,
	    struct kurir_mailbox_status *s);
int	 md_msg_list(struct kurir_mailbox *, uint32_t, uint32_t,
	    kurir_msg_cb *, void *);
int	 md_msg_read(struct kurir_mailbox *, uint32_t, uint64_t, void *,
	    size_t, size_t *);
int	 md_subdir_fd(struct kurir_mailbox *, uint32_t);
int	 md_changes_since(struct kurir_mailbox *, uint64_t, kurir_msg_cb *,
	    kurir_uid_cb *, void *);
int	 md_cache_get(struct kurir_mailbox *, uint32_t, void *, size_t,
	    size_t *);
int	 md_cache_set(struct kurir_mailbox *, uint32_t, const void *, size_t);
/* maildir_notify.c */
int	 md_notify_set(struct kurir_mailbox *, kurir_mbx_notify_cb *, void *);
int	 md_notify_fd(struct kurir_mailbox *);
void	 md_notify_clear(struct kurir_mailbox *);
void	 md_notify_close(struct kurir_mailbox *);
int	 md_uid_in_set(uint32_t uid, const struct kurir_uid_range *set,
	    size_t nset);

/* maildir_flags.c: msg_flags and msg_expunge */
int	 md_msg_flags(struct kurir_mailbox *, const struct kurir_uid_range *,
	    size_t, uint32_t, uint32_t, const char *, uint64_t,
	    kurir_uid_cb *, void *);
int	 md_msg_expunge(struct kurir_mailbox *, const struct kurir_uid_range *,
	    size_t);

/* maildir_copy.c */
int	 md_msg_copy(struct kurir_mailbox *, const struct kurir_uid_range *,
	    size_t, const char *, uint32_t, uint32_t *, kurir_uid_map_cb *,
	    void *);

/* maildir_append.c */
int	 md_append_begin(struct kurir_store *, const char *, uint32_t,
	    const char *, int64_t, struct kurir_append **);
int	 md_append_write(struct kurir_append *, const void *, size_t);
int	 md_append_commit(struct kurir_append *, uint32_t *, uint32_t *);
void	 md_append_abort(struct kurir_append *);
/* Files staged in a folder's tmp/ are committed together: one lock,
 * one uidlist write, one cur/ fsync.  Used by append and copy. */
struct md_staged {
	char		*tmpname;	/* in DIR/tmp/ */
	char		*base;		/* final base name (with ,S=) */
	uint32_t	 flags;
	char		*keywords;
	uint64_t	 size;
	int64_t		 date;
	uint32_t	 uid;		/* assigned by md_commit_staged */
};
int	 md_commit_staged(const char *root, const char *dir,
	    struct md_staged *s, size_t n, uint32_t *uidvalidity_r);

/* maildir_recent.c */
int	 md_recent_claim(struct kurir_mailbox *, uint32_t, uint32_t *);
int	 md_recent_count(struct kurir_store *, const char *, uint32_t *);

/* maildir_deliver.c */
int	 md_deliver_begin(const struct kurir_user_params *const *, size_t,
	    int64_t, struct kurir_delivery **);
int	 md_deliver_write(struct kurir_delivery *, const void *, size_t);
int	 md_deliver_commit(struct kurir_delivery *);
void	 md_deliver_abort(struct kurir_delivery *);

#endif /* MAILDIR_H */
