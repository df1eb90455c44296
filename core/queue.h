/*
 * queue.h -- the outbound queue in STATE_DIR/queue (api.h "ABI 1.0,
 * queue" documents the services).  One entry is two files: ID.msg, the
 * message as received, and ID.env, the envelope and per-recipient state
 * as text.  An entry exists once its .env is in place: commit writes the
 * .msg first, each under a temporary name that is fsync'd and renamed,
 * then fsyncs the directory.  Every .env rewrite is the same dance under
 * the queue lock (queue/.lock, flock), so kurirctl and the runner can
 * change one entry at the same time without losing either's change.
 */
#ifndef KURIR_CORE_QUEUE_H
#define KURIR_CORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>

/* Producing. */
int	queue_begin(const char *sender, const struct kurir_queue_params *p,
	    struct kurir_queue **q_r);
int	queue_write(struct kurir_queue *q, const void *buf, size_t len);
int	queue_add_rcpt(struct kurir_queue *q, const char *rcpt,
	    uint32_t notify, const char *orcpt);
int	queue_commit(struct kurir_queue *q, char *id_r, size_t idcap);
void	queue_abort(struct kurir_queue *q);
/* Two-phase: durable as ID.prep, unseen by runners, until queue_commit
 * renames it to ID.env.  On failure q stays for queue_abort. */
int	queue_prepare(struct kurir_queue *q);
/* A recipient already delivered locally: only its success report is due. */
int	queue_add_delivered(struct kurir_queue *q, const char *rcpt,
	    uint32_t notify, const char *orcpt);
/* Called by queue_scan for each ID.prep: deletes it (and ID.msg) when
 * the process that prepared it is gone. */
void	queue_prep_recover(const char *dir, const char *id);

/* Running (queue_entry.c). */
int	queue_scan(kurir_queue_scan_cb *cb, void *arg);
int	queue_open(const char *id, struct kurir_queue_entry **e_r);
int	queue_info(struct kurir_queue_entry *e, struct kurir_queue_info *i_r);
int	queue_rcpt(struct kurir_queue_entry *e, uint32_t i,
	    struct kurir_queue_rcpt *r_r);
int	queue_read(struct kurir_queue_entry *e, uint64_t offset, void *buf,
	    size_t len, size_t *n_r);
int	queue_set_rcpt(struct kurir_queue_entry *e, uint32_t i,
	    uint32_t state, const char *diag);
int	queue_save(struct kurir_queue_entry *e, int64_t next_retry);
void	queue_close(struct kurir_queue_entry *e);

/* Administration (kurirctl): hold/release, flush (retry now) or remove
 * one entry; KURIR_E_NOTFOUND when there is none. */
#define QUEUE_OP_HOLD		1
#define QUEUE_OP_RELEASE	2
#define QUEUE_OP_FLUSH		3
#define QUEUE_OP_REMOVE		4
int	queue_admin(const char *id, int op);

/* ---- shared by queue*.c ------------------------------------------- */

/* The envelope in memory. */
struct queue_env {
	struct kurir_queue_info	 info;
	struct kurir_queue_rcpt	*r;
	uint32_t		 nr;
};

/* STATE_DIR/queue into buf, creating it when missing; -1 on error. */
int	queue_dir(char *buf, size_t cap);
/* A valid queue id: only [0-9A-F], 8 to KURIR_QID_MAX characters. */
int	queue_id_valid(const char *id);
int	queue_env_load(const char *dir, const char *id, struct queue_env *env);
/* Durable write of ID.env (temporary name, fsync, rename, dir fsync);
 * _ext writes ID.<ext> instead (e.g. "prep"). */
int	queue_env_store(const char *dir, const struct queue_env *env);
int	queue_env_store_ext(const char *dir, const struct queue_env *env,
	    const char *ext);
void	queue_env_free(struct queue_env *env);
/* The queue's lock: an fd to pass to queue_unlock, -1 on error. */
int	queue_lock(const char *dir);
void	queue_unlock(int fd);
int	queue_fsync_dir(const char *dir);

#endif
