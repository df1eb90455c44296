/*
 * lmdbst_env.c -- the per-process registry of open user environments,
 * transactions with map growth, error mapping, paths and the change
 * notification files.
 *
 * LMDB rules this file enforces: an environment is opened once per
 * process (shared by reference count) and only in the process using it
 * (a registry inherited through fork() is forgotten, never used);
 * mdb_env_set_mapsize() runs only while no transaction of this process is
 * live (maplock); MDB_MAP_RESIZED from another process's growth is
 * adopted; stale reader slots of dead processes are cleared at open and
 * when the reader table fills.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lmdbst.h"

TAILQ_HEAD(lmdbst_envq, lmdbst_env);

static pthread_mutex_t	 reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lmdbst_envq reg = TAILQ_HEAD_INITIALIZER(reg);
static pid_t		 reg_pid;

static const char *const db_names[LMDBST_NDB] = {
	"meta", "names", "mboxes", "subs", "msgs", "blobs", "body", "cache",
	"expunged", "pending"
};

int
lmdbst_status(int rc, const char *what)
{
	switch (rc) {
	case 0:
		return KURIR_OK;
	case MDB_NOTFOUND:
		return KURIR_E_NOTFOUND;
	case MDB_KEYEXIST:
		return KURIR_E_EXISTS;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EFBIG:
	case EDQUOT:
		LMDBST_LOG(KURIR_LOG_WARNING, "%s: %s", what, mdb_strerror(rc));
		return KURIR_E_NOSPACE;
	case ENOMEM:
		return KURIR_E_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_DBI:
		LMDBST_LOG(KURIR_LOG_ERR, "%s: %s", what, mdb_strerror(rc));
		return KURIR_E_CORRUPT;
	default:
		if (rc < 0 && rc >= KURIR_E_MODSEQ)
			return rc;	/* already a kurir status */
		LMDBST_LOG(KURIR_LOG_WARNING, "%s: %s", what, mdb_strerror(rc));
		return KURIR_E_TEMPFAIL;
	}
}

int
lmdbst_mkdirs(const char *path, int *created_r)
{
	char buf[2048];
	char *p;

	if (created_r != NULL)
		*created_r = 0;
	if (strlen(path) >= sizeof(buf))
		return ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) == 0) {
			if (created_r != NULL)
				*created_r = 1;
		} else if (errno != EEXIST)
			return errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* A directory entry made for a new user must survive a crash too. */
static void
fsync_dir(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

static int
user_part_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '/' || s[i] == 0x7f)
			return 0;
	return 1;
}

int
lmdbst_user_dir(const struct kurir_user_params *p, char *buf, size_t len)
{
	const char *at;
	int n;

	if (p == NULL || p->size < offsetof(struct kurir_user_params,
	    quota_messages) + sizeof(p->quota_messages) || p->user == NULL)
		return KURIR_E_INVALID;
	if (p->location != NULL && p->location[0] != '\0') {
		if (p->location[0] != '/')
			return KURIR_E_INVALID;
		n = snprintf(buf, len, "%s", p->location);
	} else {
		if ((at = strrchr(p->user, '@')) == NULL ||
		    !user_part_ok(p->user, (size_t)(at - p->user)) ||
		    !user_part_ok(at + 1, strlen(at + 1)))
			return KURIR_E_INVALID;
		n = snprintf(buf, len, "%s/lmdb/%s/%.*s",
		    lmdbst_conf.state_dir, at + 1, (int)(at - p->user),
		    p->user);
	}
	if (n < 0 || (size_t)n >= len)
		return KURIR_E_INVALID;
	return KURIR_OK;
}

static void
env_destroy(struct lmdbst_env *e)
{
	if (e->env != NULL)
		mdb_env_close(e->env);
	pthread_rwlock_destroy(&e->maplock);
	pthread_mutex_destroy(&e->qlock);
	pthread_cond_destroy(&e->qcond);
	free(e->dir);
	free(e);
}

static int
env_open(const char *dir, struct lmdbst_env **e_r)
{
	struct lmdbst_env *e;
	struct stat sb;
	char path[2100];
	MDB_txn *t;
	int rc, created, dead, i;

	/* A user seen before has DIR/notify: one stat(2), not a mkdir(2)
	 * per path component. */
	snprintf(path, sizeof(path), "%s/notify", dir);
	created = 0;
	if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		if ((rc = lmdbst_mkdirs(dir, &created)) != 0) {
			LMDBST_LOG(KURIR_LOG_ERR, "mkdir %s: %s", dir,
			    strerror(rc));
			return rc == ENOSPC || rc == EDQUOT ?
			    KURIR_E_NOSPACE : KURIR_E_TEMPFAIL;
		}
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return KURIR_E_TEMPFAIL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->dir = strdup(dir)) == NULL) {
		free(e);
		return KURIR_E_NOMEM;
	}
	pthread_rwlock_init(&e->maplock, NULL);
	pthread_mutex_init(&e->qlock, NULL);
	pthread_cond_init(&e->qcond, NULL);
	TAILQ_INIT(&e->queue);
	if ((rc = mdb_env_create(&e->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxdbs(e->env, LMDBST_NDB + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(e->env, 510)) != 0 ||
	    (rc = mdb_env_set_mapsize(e->env, lmdbst_conf.map_size)) != 0)
		goto fail;
	/* NOTLS: a mailbox's read transactions may run on any thread. */
	if ((rc = mdb_env_open(e->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	(void)mdb_reader_check(e->env, &dead);
	e->reader_check = time(NULL);
	for (;;) {
		if ((rc = mdb_txn_begin(e->env, NULL, 0, &t)) != 0)
			goto fail;
		for (i = 0; i < LMDBST_NDB && rc == 0; i++)
			rc = mdb_dbi_open(t, db_names[i], MDB_CREATE,
			    &e->dbi[i]);
		if (rc == 0)
			rc = mdb_txn_commit(t);
		else
			mdb_txn_abort(t);
		if (rc != MDB_MAP_FULL)
			break;
		mdb_env_set_mapsize(e->env, lmdbst_conf.map_size * 2);
	}
	if (rc != 0)
		goto fail;
	lmdbst_stage_sweep(e);
	if (created) {
		fsync_dir(dir);
		snprintf(path, sizeof(path), "%s/..", dir);
		fsync_dir(path);
	}
	e->refs = 1;
	*e_r = e;
	return KURIR_OK;
fail:
	LMDBST_LOG(KURIR_LOG_ERR, "open %s: %s", dir, mdb_strerror(rc));
	rc = lmdbst_status(rc, "env open");
	env_destroy(e);
	return rc == KURIR_E_NOTFOUND ? KURIR_E_TEMPFAIL : rc;
}

/* Called with reg_lock held: forget environments inherited by fork. */
static void
reg_check_pid(void)
{
	if (reg_pid != getpid()) {
		TAILQ_INIT(&reg);	/* never use or close the parent's */
		reg_pid = getpid();
	}
}

static void
reg_trim(void)
{
	struct lmdbst_env *e, *next;
	unsigned int idle = 0;

	TAILQ_FOREACH(e, &reg, entry)
		if (e->refs == 0)
			idle++;
	for (e = TAILQ_FIRST(&reg); e != NULL && idle >
	    lmdbst_conf.env_cache; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->refs == 0) {
			TAILQ_REMOVE(&reg, e, entry);
			env_destroy(e);
			idle--;
		}
	}
}

int
lmdbst_env_get(const char *dir, struct lmdbst_env **e_r)
{
	struct lmdbst_env *e;
	int rc;

	pthread_mutex_lock(&reg_lock);
	reg_check_pid();
	TAILQ_FOREACH(e, &reg, entry) {
		if (strcmp(e->dir, dir) == 0) {
			e->refs++;
			/* Reader slots of crashed processes pin old pages:
			 * clear them now and then, not only at open. */
			if (time(NULL) - e->reader_check >= 60) {
				int dead;

				e->reader_check = time(NULL);
				(void)mdb_reader_check(e->env, &dead);
			}
			/* Most recently used last: trimming takes the head. */
			TAILQ_REMOVE(&reg, e, entry);
			TAILQ_INSERT_TAIL(&reg, e, entry);
			pthread_mutex_unlock(&reg_lock);
			*e_r = e;
			return KURIR_OK;
		}
	}
	if ((rc = env_open(dir, &e)) == KURIR_OK)
		TAILQ_INSERT_TAIL(&reg, e, entry);
	pthread_mutex_unlock(&reg_lock);
	*e_r = e;
	return rc;
}

void
lmdbst_env_put(struct lmdbst_env *e)
{
	pthread_mutex_lock(&reg_lock);
	if (reg_pid == getpid()) {
		if (e->refs > 0)
			e->refs--;
		reg_trim();
	}
	pthread_mutex_unlock(&reg_lock);
}

void
lmdbst_env_shutdown(void)
{
	struct lmdbst_env *e, *next;

	pthread_mutex_lock(&reg_lock);
	reg_check_pid();
	for (e = TAILQ_FIRST(&reg); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->refs == 0) {
			TAILQ_REMOVE(&reg, e, entry);
			env_destroy(e);
		}
	}
	pthread_mutex_unlock(&reg_lock);
}

int
lmdbst_grow(struct lmdbst_env *e)
{
	MDB_envinfo info;
	uint64_t size;
	int rc = KURIR_OK;

	pthread_rwlock_wrlock(&e->maplock);
	if (mdb_env_info(e->env, &info) != 0) {
		rc = KURIR_E_TEMPFAIL;
	} else if ((uint64_t)info.me_mapsize >= lmdbst_conf.map_max) {
		LMDBST_LOG(KURIR_LOG_WARNING, "%s: map at lmdb_map_max "
		    "(%llu bytes)", e->dir,
		    (unsigned long long)lmdbst_conf.map_max);
		rc = KURIR_E_NOSPACE;
	} else {
		size = (uint64_t)info.me_mapsize * 2;
		if (size > lmdbst_conf.map_max)
			size = lmdbst_conf.map_max;
		if (mdb_env_set_mapsize(e->env, (size_t)size) != 0)
			rc = KURIR_E_TEMPFAIL;
	}
	pthread_rwlock_unlock(&e->maplock);
	return rc;
}

int
lmdbst_txn_begin(struct lmdbst_env *e, int write, MDB_txn **txn_r)
{
	int rc, dead, tries;

	for (tries = 0; tries < 8; tries++) {
		pthread_rwlock_rdlock(&e->maplock);
		rc = mdb_txn_begin(e->env, NULL, write ? 0 : MDB_RDONLY,
		    txn_r);
		if (rc == 0)
			return 0;
		pthread_rwlock_unlock(&e->maplock);
		if (rc == MDB_MAP_RESIZED) {
			/* Another process grew the map: adopt its size. */
			pthread_rwlock_wrlock(&e->maplock);
			mdb_env_set_mapsize(e->env, 0);
			pthread_rwlock_unlock(&e->maplock);
		} else if (rc == MDB_READERS_FULL) {
			(void)mdb_reader_check(e->env, &dead);
			if (dead == 0)
				break;
		} else
			break;
	}
	return rc;
}

int
lmdbst_txn_commit(struct lmdbst_env *e, MDB_txn *txn)
{
	int rc;

	rc = mdb_txn_commit(txn);
	pthread_rwlock_unlock(&e->maplock);
	return rc;
}

void
lmdbst_txn_abort(struct lmdbst_env *e, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&e->maplock);
}

int
lmdbst_notify_path(struct lmdbst_env *e, uint32_t id, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/notify/%u", e->dir, id);
	return n < 0 || (size_t)n >= len ? KURIR_E_INVALID : KURIR_OK;
}

/* Wake every notify_fd() watching mailbox id, in any process. */
void
lmdbst_notify_touch(struct lmdbst_env *e, uint32_t id)
{
	char path[2100];
	int fd;

	if (lmdbst_notify_path(e, id, path, sizeof(path)) != KURIR_OK)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return;
	(void)pwrite(fd, "", 1, 0);
	close(fd);
}

/* Run fn in a write transaction, growing the map and retrying when it
 * is full; returns a KURIR status. */
int
lmdbst_write(struct lmdbst_env *e, lmdbst_write_fn *fn, void *arg)
{
	MDB_txn *t;
	int rc;

	for (;;) {
		if ((rc = lmdbst_txn_begin(e, 1, &t)) != 0)
			return lmdbst_status(rc, "write begin");
		if ((rc = fn(e, t, arg)) == 0)
			rc = lmdbst_txn_commit(e, t);
		else
			lmdbst_txn_abort(e, t);
		if (rc != MDB_MAP_FULL)
			return lmdbst_write_status(e, rc, "write");
		if ((rc = lmdbst_grow(e)) != KURIR_OK)
			return rc;
	}
}

/*
 * A failed write (EIO from a short write) is "no space" when the file
 * system is nearly full or the data file is at the process's
 * RLIMIT_FSIZE: LMDB reports both as a short write.
 */
int
lmdbst_write_status(struct lmdbst_env *e, int rc, const char *what)
{
	struct statvfs vfs;
	struct rlimit rl;
	struct stat sb;
	char path[2100];

	if (rc != EIO)
		return lmdbst_status(rc, what);
	snprintf(path, sizeof(path), "%s/data.mdb", e->dir);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    stat(path, &sb) == 0 &&
	    (uint64_t)sb.st_size + 4 * LMDBST_CHUNK >= (uint64_t)rl.rlim_cur)
		rc = EFBIG;
	else if (statvfs(e->dir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < 64u << 20)
		rc = ENOSPC;
	return lmdbst_status(rc, what);
}
