/*
 * queue.c -- putting a message into the outbound queue (see queue.h):
 * the message streams into a temporary file through a small buffer (never
 * the whole message in memory); commit fsyncs and renames it, then writes
 * the envelope the same way, so a crash at any point leaves either a
 * whole entry or only temporary files that queue_scan() sweeps later.
 *
 * Two-phase queueing, for a producer that must commit something else
 * (local copies) all or nothing with the entry: queue_prepare makes the
 * message and envelope durable with the envelope named ID.prep, which no
 * runner looks at; queue_commit then activates it with one rename to
 * ID.env and a directory fsync, and queue_abort drops it.  The producer
 * holds a flock on its message file from queue_begin until the end, so
 * a prepared entry whose lock is free was left by a dead process.  That
 * process never told its client 250 (a reply waits for the activation),
 * so the client sends again: queue_prep_recover deletes such an entry
 * rather than deliver it.  A crash between the local commit and the
 * activation therefore duplicates the local copies on the retry (as a
 * crash inside a multi-user local commit already can), never the remote
 * ones, and loses nothing that was accepted.
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

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

#define QUEUE_BUF	65536

struct kurir_queue {
	char			 dir[PATH_MAX];
	char			 tmp[PATH_MAX + 64];
	int			 fd;	/* the message, flock'd */
	int			 fail;
	int			 placed;	/* renamed to ID.msg */
	int			 prepared;	/* ID.prep written */
	size_t			 buflen;
	struct queue_env	 env;
	char			 buf[QUEUE_BUF];
};

/* No spaces or control characters: they would break the .env format,
 * and no SMTP path or xtext has them. */
static int
token_ok(const char *s, size_t max)
{
	size_t	n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return n <= max;
}

static void
make_id(char *id, size_t cap)
{
	uint32_t	rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)random() ^ (uint32_t)getpid();
	snprintf(id, cap, "%08llX%08X", (unsigned long long)time(NULL) &
	    0xffffffffULL, rnd);
}

int
queue_begin(const char *sender, const struct kurir_queue_params *p,
    struct kurir_queue **q_r)
{
	struct kurir_queue	*q;
	int			 tries;

	*q_r = NULL;
	if (sender == NULL || (*sender != '\0' &&
	    !token_ok(sender, KURIR_QADDR_MAX)) || (p != NULL &&
	    p->envid != NULL && !token_ok(p->envid, KURIR_QENVID_MAX)))
		return KURIR_E_INVALID;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return KURIR_E_NOMEM;
	q->fd = -1;
	if (queue_dir(q->dir, sizeof(q->dir)) == -1) {
		free(q);
		return KURIR_E_TEMPFAIL;
	}
	q->env.info.size = sizeof(q->env.info);
	snprintf(q->env.info.sender, sizeof(q->env.info.sender), "%s",
	    sender);
	if (p != NULL && p->size >= sizeof(*p)) {
		q->env.info.ret = p->ret;
		q->env.info.smtputf8 = p->smtputf8 != 0;
		if (p->envid != NULL)
			snprintf(q->env.info.envid, sizeof(q->env.info.envid),
			    "%s", p->envid);
	}
	for (tries = 0; tries < 8 && q->fd == -1; tries++) {
		make_id(q->env.info.id, sizeof(q->env.info.id));
		snprintf(q->tmp, sizeof(q->tmp), "%s/tmp.%s.msg", q->dir,
		    q->env.info.id);
		q->fd = open(q->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (q->fd == -1 && errno != EEXIST)
			break;
	}
	if (q->fd == -1) {
		log_warn("queue: %s", q->tmp);
		free(q);
		return KURIR_E_TEMPFAIL;
	}
	/* Held until commit or abort: a prepared entry with a free lock
	 * has no live producer (queue_prep_recover). */
	if (flock(q->fd, LOCK_EX | LOCK_NB) == -1) {
		log_warn("queue: flock %s", q->tmp);
		close(q->fd);
		unlink(q->tmp);
		free(q);
		return KURIR_E_TEMPFAIL;
	}
	*q_r = q;
	return KURIR_OK;
}

static int
flush_buf(struct kurir_queue *q)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < q->buflen) {
		n = write(q->fd, q->buf + off, q->buflen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("queue %s: write", q->env.info.id);
			q->fail = errno == ENOSPC ? KURIR_E_NOSPACE :
			    KURIR_E_TEMPFAIL;
			return q->fail;
		}
		off += (size_t)n;
	}
	q->buflen = 0;
	return KURIR_OK;
}

int
queue_write(struct kurir_queue *q, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 i, n;

	if (q->fail != KURIR_OK)
		return q->fail;
	if (!q->env.info.body8bit)
		for (i = 0; i < len; i++)
			if (p[i] >= 0x80) {
				q->env.info.body8bit = 1;
				break;
			}
	q->env.info.msg_size += len;
	while (len > 0) {
		n = sizeof(q->buf) - q->buflen;
		if (n > len)
			n = len;
		memcpy(q->buf + q->buflen, p, n);
		q->buflen += n;
		p += n;
		len -= n;
		if (q->buflen == sizeof(q->buf) && flush_buf(q) != KURIR_OK)
			return q->fail;
	}
	return KURIR_OK;
}

static int
add_rcpt(struct kurir_queue *q, const char *rcpt, uint32_t notify,
    const char *orcpt, uint32_t state)
{
	struct kurir_queue_rcpt	*tmp, *r;

	if (rcpt == NULL || *rcpt == '\0' ||
	    !token_ok(rcpt, KURIR_QADDR_MAX) || (orcpt != NULL &&
	    !token_ok(orcpt, KURIR_QORCPT_MAX)))
		return KURIR_E_INVALID;
	if ((tmp = reallocarray(q->env.r, q->env.nr + 1, sizeof(*tmp))) ==
	    NULL)
		return KURIR_E_NOMEM;
	q->env.r = tmp;
	r = &q->env.r[q->env.nr++];
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->state = state;
	r->notify = notify & 0x0fu;
	snprintf(r->address, sizeof(r->address), "%s", rcpt);
	if (orcpt != NULL)
		snprintf(r->orcpt, sizeof(r->orcpt), "%s", orcpt);
	return KURIR_OK;
}

int
queue_add_rcpt(struct kurir_queue *q, const char *rcpt, uint32_t notify,
    const char *orcpt)
{
	return add_rcpt(q, rcpt, notify, orcpt, KURIR_QRCPT_PENDING);
}

int
queue_add_delivered(struct kurir_queue *q, const char *rcpt,
    uint32_t notify, const char *orcpt)
{
	return add_rcpt(q, rcpt, notify, orcpt, KURIR_QRCPT_DELIVERED);
}

static int
errno_status(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG ? KURIR_E_NOSPACE :
	    KURIR_E_TEMPFAIL;
}

/* The message made durable under its final name, ID.msg.  The file stays
 * open (and locked) until the entry is committed or dropped. */
static int
place_msg(struct kurir_queue *q)
{
	struct kurir_queue_info	*i = &q->env.info;
	char			 path[PATH_MAX + 64];

	if (q->env.nr == 0)
		q->fail = KURIR_E_INVALID;
	if (q->fail == KURIR_OK)
		flush_buf(q);
	if (q->fail == KURIR_OK && fsync(q->fd) == -1) {
		log_warn("queue %s: fsync", i->id);
		q->fail = errno_status(errno);
	}
	snprintf(path, sizeof(path), "%s/%s.msg", q->dir, i->id);
	if (q->fail == KURIR_OK && rename(q->tmp, path) == -1) {
		log_warn("queue %s: rename", i->id);
		q->fail = errno_status(errno);
	}
	if (q->fail == KURIR_OK)
		q->placed = 1;
	i->created = time(NULL);
	i->next_retry = 0;	/* deliver at once */
	i->nrcpt = q->env.nr;
	return q->fail;
}

/* Everything of an entry that is not active, then q itself.  The files
 * go before the lock is released, so a scan never finds a prepared
 * entry without a live producer unless the producer died. */
static void
discard(struct kurir_queue *q)
{
	char	path[PATH_MAX + 64];

	if (q->prepared) {
		snprintf(path, sizeof(path), "%s/%s.prep", q->dir,
		    q->env.info.id);
		unlink(path);
	}
	if (q->placed) {
		snprintf(path, sizeof(path), "%s/%s.msg", q->dir,
		    q->env.info.id);
		unlink(path);
	} else if (q->fd != -1)
		unlink(q->tmp);
	if (q->fd != -1)
		close(q->fd);
	queue_env_free(&q->env);
	free(q);
}

static void
committed(struct kurir_queue *q, char *id_r, size_t idcap)
{
	struct kurir_queue_info	*i = &q->env.info;

	log_info("queue %s: queued from=<%s> size=%llu nrcpt=%u", i->id,
	    i->sender, (unsigned long long)i->msg_size, q->env.nr);
	if (id_r != NULL && idcap > 0)
		snprintf(id_r, idcap, "%s", i->id);
	close(q->fd);
	queue_env_free(&q->env);
	free(q);
}

/* Tests only: KURIR_TEST_QUEUE_PAUSE=prepared:MS (after a prepare is
 * durable) or activate:MS (before the activation) holds the producer
 * there, so a test can kill the server at that point. */
static void
test_pause(const char *where)
{
	const char	*v = getenv("KURIR_TEST_QUEUE_PAUSE");
	size_t		 n = strlen(where);
	long		 ms;

	if (v == NULL || strncmp(v, where, n) != 0 || v[n] != ':')
		return;
	ms = strtol(v + n + 1, NULL, 10);
	if (ms > 0 && ms < 600000)
		usleep((useconds_t)ms * 1000);
}

int
queue_prepare(struct kurir_queue *q)
{
	int	rc;

	if (q->placed || q->prepared)
		return KURIR_E_INVALID;
	if ((rc = place_msg(q)) != KURIR_OK)
		return rc;
	if ((rc = queue_env_store_ext(q->dir, &q->env, "prep")) !=
	    KURIR_OK) {
		q->fail = rc;
		return rc;
	}
	q->prepared = 1;
	test_pause("prepared");
	return KURIR_OK;
}

/* One rename makes a prepared entry active; only a durable rename may
 * let the producer say 250. */
static int
activate(struct kurir_queue *q, char *id_r, size_t idcap)
{
	const char	*id = q->env.info.id;
	char		 prep[PATH_MAX + 64], env[PATH_MAX + 64];
	int		 rc = KURIR_OK;

	test_pause("activate");
	snprintf(prep, sizeof(prep), "%s/%s.prep", q->dir, id);
	snprintf(env, sizeof(env), "%s/%s.env", q->dir, id);
	if (rename(prep, env) == -1) {
		log_warn("queue %s: activating %s", id, prep);
		discard(q);
		return KURIR_E_TEMPFAIL;
	}
	q->prepared = 0;
	if (queue_fsync_dir(q->dir) == -1) {
		/* Active, but perhaps not on disk: no 250 for it, though
		 * the runner may deliver it already. */
		log_warn("queue %s: fsync %s after activation", id, q->dir);
		rc = KURIR_E_TEMPFAIL;
	}
	committed(q, id_r, idcap);
	return rc;
}

int
queue_commit(struct kurir_queue *q, char *id_r, size_t idcap)
{
	int	rc;

	if (q->prepared)
		return activate(q, id_r, idcap);
	if (q->placed)
		q->fail = KURIR_E_INVALID;	/* a failed prepare */
	if ((rc = q->fail) != KURIR_OK || (rc = place_msg(q)) != KURIR_OK) {
		discard(q);
		return rc;
	}
	/* The .env rename is the commit point; queue_env_store fsyncs the
	 * directory after it, which also covers the .msg rename above. */
	if ((rc = queue_env_store(q->dir, &q->env)) != KURIR_OK) {
		discard(q);
		return rc;
	}
	committed(q, id_r, idcap);
	return KURIR_OK;
}

void
queue_abort(struct kurir_queue *q)
{
	if (q != NULL)
		discard(q);
}

void
queue_prep_recover(const char *dir, const char *id)
{
	char		 msg[PATH_MAX + 64], prep[PATH_MAX + 64];
	struct stat	 st;
	int		 fd;

	snprintf(msg, sizeof(msg), "%s/%s.msg", dir, id);
	snprintf(prep, sizeof(prep), "%s/%s.prep", dir, id);
	if ((fd = open(msg, O_RDONLY | O_CLOEXEC)) == -1) {
		/* A producer has its ID.msg as long as its ID.prep, so this
		 * is what a recovery that died between its unlinks left. */
		if (errno == ENOENT)
			unlink(prep);
		return;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);	/* its producer is alive */
		return;
	}
	/* The lock is free: the producer finished (then ID.prep is gone)
	 * or died before activating, so its client got no 250. */
	if (stat(prep, &st) == 0) {
		log_info("queue %s: removing a prepared entry whose producer "
		    "died before the commit (the client got no 250 and "
		    "sends again)", id);
		unlink(msg);
		unlink(prep);
	}
	close(fd);
}
