/*
 * queue_entry.c -- reading and updating queued messages: the runner's
 * side of the queue and kurirctl's (see queue.h).  A scan also sweeps
 * old temporary files and prepared entries whose producer died.  Updates re-read the
 * envelope under the queue lock and merge, so a hold or remove done by
 * kurirctl while a delivery is under way is not undone by the runner.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"

#define STALE_TMP	(24 * 3600)	/* a temporary file this old is junk */

struct kurir_queue_entry {
	char			 dir[PATH_MAX];
	struct queue_env	 env;
	uint32_t		*changed;	/* per recipient: set here */
	int			 msgfd;
};

static void
sweep(const char *dir, const char *name)
{
	char		path[PATH_MAX + 512];
	struct stat	st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) == 0 && st.st_ctime < time(NULL) - STALE_TMP) {
		log_info("queue: removing stale %s", path);
		unlink(path);
	}
}

int
queue_scan(kurir_queue_scan_cb *cb, void *arg)
{
	struct queue_env	 env;
	struct dirent		*de;
	DIR			*d;
	char			 dir[PATH_MAX], id[KURIR_QID_MAX + 1];
	size_t			 len;
	int			 rc = KURIR_OK;

	if (queue_dir(dir, sizeof(dir)) == -1 || (d = opendir(dir)) == NULL)
		return KURIR_E_TEMPFAIL;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, "tmp.", 4) == 0) {
			sweep(dir, de->d_name);
			continue;
		}
		if (len > 5 && len - 5 <= KURIR_QID_MAX &&
		    strcmp(de->d_name + len - 5, ".prep") == 0) {
			memcpy(id, de->d_name, len - 5);
			id[len - 5] = '\0';
			if (queue_id_valid(id))
				queue_prep_recover(dir, id);
			continue;
		}
		if (len < 5 || len - 4 > KURIR_QID_MAX ||
		    strcmp(de->d_name + len - 4, ".env") != 0)
			continue;
		memcpy(id, de->d_name, len - 4);
		id[len - 4] = '\0';
		if (queue_env_load(dir, id, &env) != KURIR_OK)
			continue;
		queue_env_free(&env);
		if ((rc = cb(arg, id, env.info.next_retry, env.info.hold)) != 0)
			break;
	}
	closedir(d);
	return rc;
}

int
queue_open(const char *id, struct kurir_queue_entry **e_r)
{
	struct kurir_queue_entry	*e;
	char				 path[PATH_MAX + 64];
	int				 rc;

	*e_r = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return KURIR_E_NOMEM;
	e->msgfd = -1;
	if (queue_dir(e->dir, sizeof(e->dir)) == -1) {
		free(e);
		return KURIR_E_TEMPFAIL;
	}
	if ((rc = queue_env_load(e->dir, id, &e->env)) != KURIR_OK) {
		free(e);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s.msg", e->dir, id);
	if ((e->msgfd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (e->changed = calloc(e->env.nr + 1, sizeof(uint32_t))) == NULL) {
		rc = errno == ENOENT ? KURIR_E_CORRUPT : KURIR_E_TEMPFAIL;
		log_warn("queue %s: %s", id, path);
		queue_close(e);
		return rc;
	}
	*e_r = e;
	return KURIR_OK;
}

int
queue_info(struct kurir_queue_entry *e, struct kurir_queue_info *i_r)
{
	size_t	n = i_r->size < sizeof(*i_r) ? i_r->size : sizeof(*i_r);

	if (n < sizeof(uint32_t))
		return KURIR_E_INVALID;
	memcpy((char *)i_r + sizeof(uint32_t),
	    (char *)&e->env.info + sizeof(uint32_t), n - sizeof(uint32_t));
	return KURIR_OK;
}

int
queue_rcpt(struct kurir_queue_entry *e, uint32_t i,
    struct kurir_queue_rcpt *r_r)
{
	size_t	n = r_r->size < sizeof(*r_r) ? r_r->size : sizeof(*r_r);

	if (i >= e->env.nr || n < sizeof(uint32_t))
		return KURIR_E_INVALID;
	memcpy((char *)r_r + sizeof(uint32_t),
	    (char *)&e->env.r[i] + sizeof(uint32_t), n - sizeof(uint32_t));
	return KURIR_OK;
}

int
queue_read(struct kurir_queue_entry *e, uint64_t offset, void *buf,
    size_t len, size_t *n_r)
{
	ssize_t	n;

	*n_r = 0;
	do
		n = pread(e->msgfd, buf, len, (off_t)offset);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return KURIR_E_TEMPFAIL;
	*n_r = (size_t)n;
	return KURIR_OK;
}

int
queue_set_rcpt(struct kurir_queue_entry *e, uint32_t i, uint32_t state,
    const char *diag)
{
	struct kurir_queue_rcpt	*r;
	char			*p;

	if (i >= e->env.nr || state > KURIR_QRCPT_FAILED)
		return KURIR_E_INVALID;
	r = &e->env.r[i];
	r->state = state;
	snprintf(r->diag, sizeof(r->diag), "%s", diag != NULL ? diag : "");
	for (p = r->diag; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';	/* one line in the .env */
	e->changed[i] = 1;
	return KURIR_OK;
}

/* The caller fsyncs the directory, after dropping the queue lock: the
 * delivery threads' fsyncs then overlap (the file system commits them
 * together) instead of queueing up behind the lock. */
static int
remove_files(const char *dir, const char *id)
{
	char	path[PATH_MAX + 64];

	/* The .env first: without it the entry is gone. */
	snprintf(path, sizeof(path), "%s/%s.env", dir, id);
	if (unlink(path) == -1 && errno != ENOENT)
		return KURIR_E_TEMPFAIL;
	snprintf(path, sizeof(path), "%s/%s.msg", dir, id);
	unlink(path);
	return KURIR_OK;
}

int
queue_save(struct kurir_queue_entry *e, int64_t next_retry)
{
	struct queue_env	 disk;
	uint32_t		 k, pending = 0;
	int			 lk, rc;

	if ((lk = queue_lock(e->dir)) == -1)
		return KURIR_E_TEMPFAIL;
	if ((rc = queue_env_load(e->dir, e->env.info.id, &disk)) !=
	    KURIR_OK) {
		queue_unlock(lk);
		return rc;	/* removed meanwhile: nothing to save */
	}
	for (k = 0; k < disk.nr && k < e->env.nr; k++) {
		if (e->changed[k] && strcmp(disk.r[k].address,
		    e->env.r[k].address) == 0)
			disk.r[k] = e->env.r[k];
		/* a success report still owed keeps the entry too */
		if (disk.r[k].state == KURIR_QRCPT_PENDING ||
		    disk.r[k].state == KURIR_QRCPT_DELIVERED)
			pending++;
	}
	disk.info.attempts++;
	disk.info.next_retry = next_retry;
	e->env.info.attempts = disk.info.attempts;
	if (pending == 0)
		rc = remove_files(e->dir, disk.info.id);
	else
		rc = queue_env_store(e->dir, &disk);
	queue_env_free(&disk);
	queue_unlock(lk);
	if (pending == 0 && rc == KURIR_OK) {
		/* Not durable, a removal could only repeat a delivery
		 * after a crash; still, make it so before saying done. */
		if (queue_fsync_dir(e->dir) == -1)
			log_warn("queue %s: fsync %s", e->env.info.id, e->dir);
		log_info("queue %s: removed, every recipient done",
		    e->env.info.id);
	}
	memset(e->changed, 0, (e->env.nr + 1) * sizeof(uint32_t));
	return rc;
}

void
queue_close(struct kurir_queue_entry *e)
{
	if (e == NULL)
		return;
	if (e->msgfd != -1)
		close(e->msgfd);
	queue_env_free(&e->env);
	free(e->changed);
	free(e);
}

int
queue_admin(const char *id, int op)
{
	struct queue_env	 env;
	char			 dir[PATH_MAX];
	int			 lk, rc;

	if (!queue_id_valid(id))
		return KURIR_E_INVALID;
	if (queue_dir(dir, sizeof(dir)) == -1 || (lk = queue_lock(dir)) == -1)
		return KURIR_E_TEMPFAIL;
	if ((rc = queue_env_load(dir, id, &env)) != KURIR_OK) {
		queue_unlock(lk);
		return rc;
	}
	switch (op) {
	case QUEUE_OP_HOLD:
		env.info.hold = 1;
		break;
	case QUEUE_OP_RELEASE:
		env.info.hold = 0;
		env.info.next_retry = 0;
		break;
	case QUEUE_OP_FLUSH:
		env.info.next_retry = 0;
		break;
	}
	if (op == QUEUE_OP_REMOVE) {
		if ((rc = remove_files(dir, id)) == KURIR_OK &&
		    queue_fsync_dir(dir) == -1)
			rc = KURIR_E_TEMPFAIL;
		log_info("queue %s: removed by kurirctl", id);
	} else
		rc = queue_env_store(dir, &env);	/* the rename wakes
							 * the runner */
	queue_env_free(&env);
	queue_unlock(lk);
	return rc;
}
