/*
 * smtp_deliver.c -- the message sink: a Received: header (RFC 5321 4.4,
 * with the RFC 3848 / RFC 6531 protocol keyword and the TLS version and
 * cipher), then the message streamed into the storage backend's
 * delivery while it arrives, through a fixed spool buffer.  At the end,
 * deliver_commit (which fsyncs) runs on a core thread with the
 * connection paused; the reply comes only after it returned, so 250
 * means durable in every recipient's store and in the outbound queue,
 * and any failure means none has it (smtp_commit_work).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtp.h"

const char *
smtp_strerror(int code)
{
	switch (code) {
	case KURIR_E_TOOBIG:
		return ("message too big");
	case KURIR_E_OVERQUOTA:
		return ("over quota");
	case KURIR_E_NOSPACE:
		return ("no space");
	case KURIR_E_TEMPFAIL:
		return ("temporary failure");
	case KURIR_E_PERMFAIL:
		return ("permanent failure");
	case KURIR_E_NOMEM:
		return ("out of memory");
	default:
		return ("storage error");
	}
}

/* RFC 5322 date-time in UTC, independent of the locale. */
static void
smtp_date(char *buf, size_t cap, int64_t now)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, cap, "%.3s, %d %.3s %d %02d:%02d:%02d +0000",
	    days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon,
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

size_t
smtp_received(struct smtp_session *s, char *buf, size_t cap, int64_t now)
{
	struct smtp_txn *t = &s->txn;
	char helo[sizeof(s->helo)], date[64], proto[16], tls[160];
	const char *ip, *info;
	size_t i;
	int n;

	/* The client's name goes into a header: keep comments intact. */
	for (i = 0; s->helo[i] != '\0'; i++)
		helo[i] = strchr("()\\", s->helo[i]) != NULL ? '_' : s->helo[i];
	helo[i] = '\0';
	ip = smtp_api->conn_peer_addr(s->conn);
	if (ip == NULL)
		ip = "unknown";
	snprintf(proto, sizeof(proto), "%s%s%s",
	    t->params.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP",
	    smtp_api->conn_is_tls(s->conn) ? "S" : "",
	    s->user[0] != '\0' ? "A" : "");
	tls[0] = '\0';
	info = smtp_api->conn_is_tls(s->conn) ?
	    smtp_api->conn_tls_info(s->conn) : NULL;
	if (info != NULL)
		snprintf(tls, sizeof(tls), "\r\n\t(using %.120s)", info);
	smtp_date(date, sizeof(date), now);
	n = snprintf(buf, cap, "Received: from %s (%s%s%s)\r\n"
	    "\tby %s (kurir) with %s id %s%s%s%s%s;\r\n\t%s\r\n",
	    helo[0] != '\0' ? helo : "unknown",
	    strchr(ip, ':') != NULL ? "[IPv6:" : "[", ip, "]",
	    smtp_conf.hostname, proto, t->qid, tls,
	    t->nrcpt == 1 ? "\r\n\tfor <" : "",
	    t->nrcpt == 1 ? t->rcpts[0].addr : "",
	    t->nrcpt == 1 ? ">" : "", date);
	if (n < 0 || (size_t)n >= cap)
		return (0);
	return ((size_t)n);
}

int
smtp_queue_available(void)
{
	return (KURIR_HAS(smtp_api, queue_commit) &&
	    smtp_api->queue_commit != NULL);
}

size_t
smtp_success_wanted(struct smtp_txn *t)
{
	size_t i, n = 0;

	if (t->from[0] == '\0' || !smtp_queue_available() ||
	    !KURIR_HAS(smtp_api, queue_add_delivered) ||
	    smtp_api->queue_add_delivered == NULL)
		return (0);
	for (i = 0; i < t->nrcpt; i++)
		if (t->rcpts[i].local &&
		    (t->rcpts[i].params.notify & SMTP_NOTIFY_SUCCESS))
			n++;
	return (n);
}

int
smtp_remote_add(struct smtp_session *s, const char *addr,
    const struct smtp_rcpt_params *p)
{
	struct smtp_txn *t = &s->txn;
	size_t i;
	void *np;

	for (i = 0; i < t->nremote; i++)
		if (strcasecmp(t->remote[i].addr, addr) == 0)
			return (KURIR_OK);	/* once per address */
	if (t->nremote >= smtp_conf.max_targets)
		return (KURIR_E_TOOBIG);
	if ((np = reallocarray(t->remote, t->nremote + 1,
	    sizeof(*t->remote))) == NULL)
		return (KURIR_E_NOMEM);
	t->remote = np;
	if (smtp_strlcpy(t->remote[t->nremote].addr, addr,
	    sizeof(t->remote[0].addr)) >= sizeof(t->remote[0].addr))
		return (KURIR_E_INVALID);
	t->remote[t->nremote++].params = *p;
	return (KURIR_OK);
}

void
smtp_remote_reset(struct smtp_session *s)
{
	free(s->txn.remote);
	s->txn.remote = NULL;
	s->txn.nremote = 0;
	s->txn.nsuccess = 0;
	s->txn.queue_id[0] = '\0';
}

/* The queue entry for the remote recipients (off the loop: it creates
 * a file).  SMTP's RET and NOTIFY values are the queue's.  Local
 * recipients that asked NOTIFY=SUCCESS join it as already delivered:
 * the relay sends their "delivered" report (RFC 3464), and the entry
 * commits with the local copies, all or nothing. */
static int
smtp_queue_begin(struct smtp_txn *t)
{
	struct kurir_queue_params qp;
	size_t i;
	int r;

	memset(&qp, 0, sizeof(qp));
	qp.size = sizeof(qp);
	qp.ret = t->params.ret;
	qp.smtputf8 = t->params.smtputf8;
	qp.envid = t->params.envid[0] != '\0' ? t->params.envid : NULL;
	if ((r = smtp_api->queue_begin(t->from, &qp, &t->q)) != KURIR_OK) {
		t->q = NULL;
		return (r);
	}
	for (i = 0; i < t->nremote; i++)
		if ((r = smtp_api->queue_add_rcpt(t->q, t->remote[i].addr,
		    t->remote[i].params.notify,
		    t->remote[i].params.orcpt[0] != '\0' ?
		    t->remote[i].params.orcpt : NULL)) != KURIR_OK) {
			smtp_api->queue_abort(t->q);
			t->q = NULL;
			return (r);
		}
	for (i = 0; t->nsuccess > 0 && i < t->nrcpt; i++)
		if (t->rcpts[i].local &&
		    (t->rcpts[i].params.notify & SMTP_NOTIFY_SUCCESS) &&
		    (r = smtp_api->queue_add_delivered(t->q, t->rcpts[i].addr,
		    t->rcpts[i].params.notify,
		    t->rcpts[i].params.orcpt[0] != '\0' ?
		    t->rcpts[i].params.orcpt : NULL)) != KURIR_OK) {
			smtp_api->queue_abort(t->q);
			t->q = NULL;
			return (r);
		}
	return (KURIR_OK);
}

static void
smtp_begin_work(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_txn *t = &s->txn;

	/* Opening the users' stores may touch the disk: off the loop. */
	t->begin_status = KURIR_OK;
	if (t->ntarget > 0)
		t->begin_status = smtp_api->storage()->deliver_begin(t->uptrs,
		    t->ntarget, t->begin_date, &t->dlv);
	if (t->begin_status != KURIR_OK)
		t->dlv = NULL;
	else if ((t->nremote > 0 || t->nsuccess > 0) &&
	    (t->begin_status = smtp_queue_begin(t)) != KURIR_OK &&
	    t->dlv != NULL) {
		smtp_api->storage()->deliver_abort(t->dlv);
		t->dlv = NULL;
	}
}

static void
smtp_begin_done(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_txn *t = &s->txn;

	s->busy = 0;
	if (s->gone) {
		smtp_session_release(s);
		return;
	}
	if (t->begin_status != KURIR_OK)
		smtp_api->conn_log(s->conn, KURIR_LOG_WARNING,
		    "%s: deliver_begin: %s", t->qid,
		    smtp_strerror(t->begin_status));
	else
		t->spool_len = smtp_received(s, t->spool, SMTP_SPOOL_BUF,
		    t->begin_date);
	smtp_deliver_begun(s, t->begin_status);
}

void
smtp_deliver_begin(struct smtp_session *s)
{
	const struct kurir_storage_ops *st = smtp_api->storage();
	struct smtp_txn *t = &s->txn;
	size_t i;

	t->msg_bytes = 0;
	t->fail = 0;
	t->spool_len = 0;
	t->begin_date = (int64_t)time(NULL);
	t->nsuccess = t->ntarget > 0 ? smtp_success_wanted(t) : 0;
	if ((t->ntarget > 0 && (st == NULL || st->deliver_begin == NULL)) ||
	    (t->ntarget == 0 && t->nremote == 0)) {
		smtp_deliver_begun(s, KURIR_E_TEMPFAIL);
		return;
	}
	if (t->spool == NULL)
		t->spool = malloc(SMTP_SPOOL_BUF);
	free(t->uparams);
	free(t->uptrs);
	t->uparams = calloc(t->ntarget, sizeof(*t->uparams));
	t->uptrs = calloc(t->ntarget, sizeof(*t->uptrs));
	if (t->spool == NULL || t->uparams == NULL || t->uptrs == NULL) {
		smtp_deliver_begun(s, KURIR_E_NOMEM);
		return;
	}
	for (i = 0; i < t->ntarget; i++) {
		t->uparams[i].size = sizeof(t->uparams[i]);
		t->uparams[i].user = t->targets[i].user;
		t->uparams[i].location = t->targets[i].location;
		t->uparams[i].quota_bytes = t->targets[i].quota_bytes;
		t->uparams[i].quota_messages = t->targets[i].quota_messages;
		t->uptrs[i] = &t->uparams[i];
	}
	s->busy = 1;
	if (smtp_api->run_blocking(smtp_begin_work, smtp_begin_done, s) !=
	    KURIR_OK) {
		s->busy = 0;
		smtp_deliver_begun(s, KURIR_E_TEMPFAIL);
	}
}

void
smtp_deliver_abort(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;

	if (t->dlv != NULL) {
		smtp_api->storage()->deliver_abort(t->dlv);
		t->dlv = NULL;
	}
	if (t->q != NULL) {
		smtp_api->queue_abort(t->q);
		t->q = NULL;
	}
	t->spool_len = 0;
}

static int
smtp_spool_flush(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	int r;

	if (t->spool_len == 0 || (t->dlv == NULL && t->q == NULL))
		return (KURIR_OK);
	r = KURIR_OK;
	if (t->dlv != NULL)
		r = smtp_api->storage()->deliver_write(t->dlv, t->spool,
		    t->spool_len);
	if (r == KURIR_OK && t->q != NULL)
		r = smtp_api->queue_write(t->q, t->spool, t->spool_len);
	t->spool_len = 0;
	return (r);
}

/* A failure while receiving: drop what was written, read on. */
static void
smtp_deliver_fail(struct smtp_session *s, int r)
{
	if (s->txn.fail == 0)
		s->txn.fail = r;
	smtp_deliver_abort(s);
}

void
smtp_deliver_write(struct smtp_session *s, const void *buf, size_t len)
{
	struct smtp_txn *t = &s->txn;
	const char *p = buf;
	size_t n;
	int r;

	t->msg_bytes += len;
	if (t->fail != 0 || (t->dlv == NULL && t->q == NULL))
		return;
	if (smtp_conf.max_message_size != 0 &&
	    t->msg_bytes > smtp_conf.max_message_size) {
		smtp_deliver_fail(s, KURIR_E_TOOBIG);
		return;
	}
	while (len > 0) {
		if (t->spool_len == SMTP_SPOOL_BUF &&
		    (r = smtp_spool_flush(s)) != KURIR_OK) {
			smtp_deliver_fail(s, r);
			return;
		}
		n = SMTP_SPOOL_BUF - t->spool_len;
		if (n > len)
			n = len;
		memcpy(t->spool + t->spool_len, p, n);
		t->spool_len += n;
		p += n;
		len -= n;
	}
}

/* The core can keep a queue entry prepared while the local copies are
 * committed (a core with the two-phase queue). */
static int
smtp_queue_two_phase(void)
{
	return (KURIR_HAS(smtp_api, queue_prepare) &&
	    smtp_api->queue_prepare != NULL);
}

/*
 * Local copies and queue entry, all or nothing: the entry is made
 * durable first, prepared (the relay does not see it), then the local
 * copies are committed (storage's own all-or-nothing across users),
 * then the entry is activated by one rename.  A failure before the
 * activation leaves nothing anywhere; only a failed rename after the
 * local commit (an I/O error) splits them, and that is logged.  A crash
 * in between is recovered by the core (queue.c): the prepared entry is
 * dropped, the client, which got no 250, sends again.
 */
static void
smtp_commit_work(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_txn *t = &s->txn;

	t->commit_status = KURIR_OK;
	t->split = 0;
	if (t->q != NULL && t->dlv != NULL && smtp_queue_two_phase() &&
	    (t->commit_status = smtp_api->queue_prepare(t->q)) != KURIR_OK) {
		smtp_api->storage()->deliver_abort(t->dlv);
		t->dlv = NULL;
		smtp_api->queue_abort(t->q);
		t->q = NULL;
		return;
	}
	/* deliver_commit frees the delivery whatever it returns. */
	if (t->dlv != NULL) {
		t->commit_status = smtp_api->storage()->deliver_commit(t->dlv);
		t->split = t->commit_status == KURIR_OK;
	}
	t->dlv = NULL;
	if (t->q != NULL) {
		if (t->commit_status == KURIR_OK)
			t->commit_status = smtp_api->queue_commit(t->q,
			    t->queue_id, sizeof(t->queue_id));
		else
			smtp_api->queue_abort(t->q);
		t->q = NULL;
	}
	if (t->commit_status == KURIR_OK)
		t->split = 0;
}

static void
smtp_commit_done(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_txn *t = &s->txn;
	char esc[128];
	size_t i;

	s->busy = 0;
	if (s->gone) {
		if (t->commit_status != KURIR_OK)
			smtp_api->log(smtp_mod, KURIR_LOG_WARNING, "smtp: %s: "
			    "commit after disconnect: %s", t->qid,
			    smtp_strerror(t->commit_status));
		smtp_session_release(s);
		return;
	}
	smtp_api->log_escape(esc, sizeof(esc), t->from, strlen(t->from));
	if (t->commit_status == KURIR_OK) {
		for (i = 0; i < t->ntarget; i++)
			smtp_api->conn_log(s->conn, KURIR_LOG_INFO,
			    "%s: delivered mailbox=%s", t->qid,
			    t->targets[i].user);
		if (t->nremote > 0)
			smtp_api->conn_log(s->conn, KURIR_LOG_INFO,
			    "%s: queued for %zu remote recipient(s) as "
			    "queue %s", t->qid, t->nremote, t->queue_id);
		if (t->nsuccess > 0)
			smtp_api->conn_log(s->conn, KURIR_LOG_INFO,
			    "%s: success report for %zu recipient(s) due as "
			    "queue %s", t->qid, t->nsuccess, t->queue_id);
		smtp_api->conn_log(s->conn, KURIR_LOG_INFO, "%s: from=<%s> "
		    "size=%" PRIu64 " nrcpt=%zu body=%s%s%s%s: stored",
		    t->qid, esc, t->msg_bytes, t->nrcpt,
		    t->params.body == SMTP_BODY_8BITMIME ? "8BITMIME" : "7BIT",
		    t->params.envid[0] != '\0' ? " envid=" : "",
		    t->params.envid,
		    t->params.ret == SMTP_RET_HDRS ? " ret=HDRS" :
		    t->params.ret == SMTP_RET_FULL ? " ret=FULL" : "");
	} else if (t->split)
		smtp_api->conn_log(s->conn, KURIR_LOG_ERR, "%s: from=<%s> "
		    "size=%" PRIu64 ": stored in %zu local mailbox(es) but "
		    "not queued for %zu remote recipient(s): %s; the client's "
		    "retry will store the local copies again", t->qid, esc,
		    t->msg_bytes, t->ntarget, t->nremote,
		    smtp_strerror(t->commit_status));
	else
		smtp_api->conn_log(s->conn, KURIR_LOG_WARNING, "%s: "
		    "from=<%s> size=%" PRIu64 ": not stored: %s", t->qid, esc,
		    t->msg_bytes, smtp_strerror(t->commit_status));
	smtp_deliver_done(s, t->commit_status);
}

void
smtp_deliver_end(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	int r;

	if ((r = smtp_spool_flush(s)) != KURIR_OK) {
		smtp_deliver_fail(s, r);
		smtp_deliver_done(s, r);
		return;
	}
	if (t->dlv == NULL && t->q == NULL) {
		smtp_deliver_done(s, KURIR_E_TEMPFAIL);
		return;
	}
	s->busy = 1;
	if (smtp_api->run_blocking(smtp_commit_work, smtp_commit_done, s)
	    != KURIR_OK) {
		s->busy = 0;
		smtp_deliver_fail(s, KURIR_E_TEMPFAIL);
		smtp_deliver_done(s, KURIR_E_TEMPFAIL);
	}
}
