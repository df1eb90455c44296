/*
 * queue.c -- putting a message into the outbound queue (see queue.h):
 * the message streams into a temporary file through a small buffer (never
 * the whole message in memory); commit fsyncs and renames it, then writes
 * the envelope the same way, so a crash at any point leaves either a
 * whole entry or only temporary files that queue_scan() sweeps later.
 */
#include <sys/random.h>

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
	int			 fd;
	int			 fail;
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

int
queue_add_rcpt(struct kurir_queue *q, const char *rcpt, uint32_t notify,
    const char *orcpt)
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
	r->state = KURIR_QRCPT_PENDING;
	r->notify = notify & 0x0fu;
	snprintf(r->address, sizeof(r->address), "%s", rcpt);
	if (orcpt != NULL)
		snprintf(r->orcpt, sizeof(r->orcpt), "%s", orcpt);
	return KURIR_OK;
}

int
queue_commit(struct kurir_queue *q, char *id_r, size_t idcap)
{
	struct kurir_queue_info	*i = &q->env.info;
	char			 path[PATH_MAX + 64];
	int			 rc;

	if (q->env.nr == 0)
		q->fail = KURIR_E_INVALID;
	if (q->fail == KURIR_OK)
		flush_buf(q);
	if (q->fail == KURIR_OK && fsync(q->fd) == -1) {
		log_warn("queue %s: fsync", i->id);
		q->fail = KURIR_E_TEMPFAIL;
	}
	if (close(q->fd) == -1 && q->fail == KURIR_OK)
		q->fail = KURIR_E_TEMPFAIL;
	q->fd = -1;
	snprintf(path, sizeof(path), "%s/%s.msg", q->dir, i->id);
	if (q->fail == KURIR_OK && rename(q->tmp, path) == -1) {
		log_warn("queue %s: rename", i->id);
		q->fail = KURIR_E_TEMPFAIL;
	}
	if (q->fail != KURIR_OK) {
		rc = q->fail;
		unlink(q->tmp);
		queue_abort(q);
		return rc;
	}
	i->created = time(NULL);
	i->next_retry = 0;	/* deliver at once */
	i->nrcpt = q->env.nr;
	/* The .env rename is the commit point; queue_env_store fsyncs the
	 * directory after it, which also covers the .msg rename above. */
	if ((rc = queue_env_store(q->dir, &q->env)) != KURIR_OK) {
		unlink(path);
		queue_abort(q);
		return rc;
	}
	log_info("queue %s: queued from=<%s> size=%llu nrcpt=%u", i->id,
	    i->sender, (unsigned long long)i->msg_size, q->env.nr);
	if (id_r != NULL && idcap > 0)
		snprintf(id_r, idcap, "%s", i->id);
	queue_env_free(&q->env);
	free(q);
	return KURIR_OK;
}

void
queue_abort(struct kurir_queue *q)
{
	if (q == NULL)
		return;
	if (q->fd != -1) {
		close(q->fd);
		unlink(q->tmp);
	}
	queue_env_free(&q->env);
	free(q);
}
