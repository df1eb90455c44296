/*
 * relay_dsn.c -- delivery status notifications (RFC 3464): a
 * multipart/report with a human part, a message/delivery-status part
 * (per recipient Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code) and the original message (RET=FULL or no RET) or its
 * headers (RET=HDRS).  Success reports (Action: delivered, for local
 * recipients that asked NOTIFY=SUCCESS) carry the headers only: RET=FULL
 * asks for the content of failed messages (RFC 3461 4.3).  The report has a null sender and goes to the
 * sender: into local mailboxes through the storage ABI when the sender
 * is local, else into the queue.  A bounce (null sender) is never
 * bounced: its failures are only logged.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "relay.h"

#define MAX_LOCAL	16	/* local targets of one sender */

struct sink {
	/* local delivery */
	struct kurir_delivery	*dlv;
	struct kurir_auth_user	 users[MAX_LOCAL];
	struct kurir_user_params params[MAX_LOCAL];
	const struct kurir_user_params *pp[MAX_LOCAL];
	size_t			 nlocal;
	/* remote: the report queued */
	char			 remote[MAX_LOCAL][KURIR_ADDR_MAX + 1];
	size_t			 nremote;
	struct kurir_queue	*q;
	int			 err;
};

static void
sink_write(struct sink *s, const void *buf, size_t len)
{
	const struct kurir_storage_ops	*st = relay_api->storage();

	if (s->err != KURIR_OK)
		return;
	if (s->dlv != NULL)
		s->err = st->deliver_write(s->dlv, buf, len);
	if (s->err == KURIR_OK && s->q != NULL)
		s->err = relay_api->queue_write(s->q, buf, len);
}

static void
sink_printf(struct sink *s, const char *fmt, ...)
{
	char	buf[2048];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		sink_write(s, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

static int
target_cb(void *arg, const char *address, int is_local)
{
	struct sink	*s = arg;

	if (is_local && s->nlocal < MAX_LOCAL)
		snprintf(s->users[s->nlocal++].address,
		    sizeof(s->users[0].address), "%s", address);
	else if (!is_local && s->nremote < MAX_LOCAL)
		snprintf(s->remote[s->nremote++], sizeof(s->remote[0]), "%s",
		    address);
	return 0;
}

/* The status code "X.Y.Z" in a reply text, or a default. */
static void
status_of(const struct relay_result *r, char *out, size_t cap)
{
	const char	*p = r->text;
	size_t		 n;

	if (isdigit((unsigned char)p[0]) && p[1] != '\0' && p[2] != '\0' &&
	    p[3] == ' ')
		p += 4;
	n = strspn(p, "0123456789.");
	if (n >= 5 && n < cap && (p[0] == '4' || p[0] == '5') && p[1] == '.') {
		memcpy(out, p, n);
		out[n] = '\0';
	} else
		snprintf(out, cap, "%s", r->code / 100 == 5 ? "5.0.0" :
		    "4.0.0");
}

static void
write_report(struct sink *s, struct kurir_queue_entry *e,
    const struct kurir_queue_info *info, const struct relay_result *res,
    size_t n, int kind)
{
	struct kurir_queue_rcpt	 r;
	char			 date[64], status[32], boundary[400], buf[8192];
	char			 created[64];
	const char		*host = relay_conf.hostname;
	uint64_t		 off = 0;
	size_t			 i, got, k, hdr_end;
	time_t			 now = time(NULL), ct = (time_t)info->created;
	int			 ok = kind == RELAY_DSN_DELIVERED;
	int			 full = info->ret != KURIR_QRET_HDRS && !ok;
	int			 nl = 0;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	strftime(created, sizeof(created), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&ct));
	snprintf(boundary, sizeof(boundary), "%s/%lld/%s", info->id,
	    (long long)now, host);
	sink_printf(s, "Return-Path: <>\r\nFrom: Mail Delivery System "
	    "<MAILER-DAEMON@%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "Date: %s\r\nMessage-ID: <%s.%s@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    "\r\n\tboundary=\"%s\"\r\n\r\nThis is a MIME-encapsulated "
	    "message.\r\n\r\n--%s\r\nContent-Type: text/plain; "
	    "charset=us-ascii\r\n\r\nThis is the mail system at %s.\r\n\r\n"
	    "%s\r\n\r\n", host, info->sender, ok ? "Successful Mail "
	    "Delivery Report" : "Undelivered Mail Returned to Sender", date,
	    info->id, ok ? "ok" : "dsn", host, boundary, boundary, host, ok ?
	    "Your message was delivered to the mailbox of the following "
	    "recipients." : "Your message could not be delivered to one or "
	    "more recipients.");
	for (i = 0; i < n; i++) {
		r.size = sizeof(r);
		relay_api->queue_rcpt(e, res[i].idx, &r);
		sink_printf(s, "<%s>: %s\r\n", r.address, res[i].text);
	}
	sink_printf(s, "\r\n--%s\r\nContent-Type: message/delivery-status"
	    "\r\n\r\nReporting-MTA: dns; %s\r\nX-Kurir-Queue-ID: %s\r\n",
	    boundary, host, info->id);
	if (info->envid[0] != '\0')
		sink_printf(s, "Original-Envelope-Id: %s\r\n", info->envid);
	sink_printf(s, "Arrival-Date: %s\r\n", created);
	for (i = 0; i < n; i++) {
		r.size = sizeof(r);
		relay_api->queue_rcpt(e, res[i].idx, &r);
		status_of(&res[i], status, sizeof(status));
		sink_printf(s, "\r\nFinal-Recipient: rfc822; %s\r\n",
		    r.address);
		if (r.orcpt[0] != '\0')
			sink_printf(s, "Original-Recipient: %s\r\n", r.orcpt);
		if (ok) {
			sink_printf(s, "Action: delivered\r\nStatus: 2.0.0"
			    "\r\nDiagnostic-Code: X-kurir; %s\r\n"
			    "Last-Attempt-Date: %s\r\n", res[i].text, created);
			continue;
		}
		sink_printf(s, "Action: failed\r\nStatus: %s\r\n", status);
		if (res[i].mta[0] != '\0')
			sink_printf(s, "Remote-MTA: dns; %s\r\n", res[i].mta);
		if (res[i].code >= 200)
			sink_printf(s, "Diagnostic-Code: smtp; %s\r\n",
			    res[i].text);
		else
			sink_printf(s, "Diagnostic-Code: X-kurir; %s\r\n",
			    res[i].text);
		sink_printf(s, "Last-Attempt-Date: %s\r\n", date);
	}
	sink_printf(s, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", boundary,
	    full ? "message/rfc822" : "text/rfc822-headers");
	/* The original: all of it, or up to the blank line after the
	 * header; streamed, never whole in memory. */
	while (off < info->msg_size) {
		if (relay_api->queue_read(e, off, buf, sizeof(buf), &got) !=
		    KURIR_OK || got == 0) {
			s->err = KURIR_E_TEMPFAIL;
			return;
		}
		hdr_end = got;
		if (!full)
			for (k = 0; k < got; k++) {
				if (buf[k] == '\n') {
					if (nl) {
						hdr_end = k + 1;
						break;
					}
					nl = 1;
				} else if (buf[k] != '\r')
					nl = 0;
			}
		sink_write(s, buf, hdr_end);
		off += got;
		if (hdr_end < got)
			break;
	}
	sink_printf(s, "\r\n--%s--\r\n", boundary);
}

int
relay_dsn(struct kurir_queue_entry *e, const struct kurir_queue_info *info,
    const struct relay_result *res, size_t n, int kind)
{
	const struct kurir_storage_ops	*st = relay_api->storage();
	const struct kurir_auth_ops	*auth = relay_api->auth();
	struct kurir_queue_params	 qp;
	struct kurir_queue_rcpt		 r;
	struct relay_result		*want;
	struct sink			*s;
	const char			*at;
	size_t				 i, k, nwant = 0;
	int				 rc = KURIR_OK;

	if (info->sender[0] == '\0') {
		relay_api->log(relay_mod, KURIR_LOG_NOTICE, "queue %s: a "
		    "bounce failed; bounces are never bounced", info->id);
		return KURIR_OK;
	}
	if ((want = calloc(n, sizeof(*want))) == NULL)
		return KURIR_E_NOMEM;
	for (i = 0; i < n; i++) {	/* RFC 3461 NOTIFY */
		r.size = sizeof(r);
		relay_api->queue_rcpt(e, res[i].idx, &r);
		if (kind == RELAY_DSN_DELIVERED ?
		    (r.notify & KURIR_QNOTIFY_SUCCESS) != 0 :
		    r.notify == 0 || (r.notify & KURIR_QNOTIFY_FAILURE))
			want[nwant++] = res[i];
	}
	if (nwant == 0 || (s = calloc(1, sizeof(*s))) == NULL) {
		free(want);
		return nwant == 0 ? KURIR_OK : KURIR_E_NOMEM;
	}
	at = strrchr(info->sender, '@');
	if (at != NULL && relay_api->is_local_domain(at + 1)) {
		/* address_rcpt_resolve only reads the configuration and
		 * calls the auth table, both safe from this thread. */
		if (relay_api->rcpt_resolve(info->sender, target_cb, s) !=
		    KURIR_OK || (s->nlocal == 0 && s->nremote == 0)) {
			relay_api->log(relay_mod, KURIR_LOG_WARNING, "queue "
			    "%s: sender <%s> is local but unknown: report "
			    "dropped", info->id, info->sender);
			goto out;
		}
	} else
		snprintf(s->remote[s->nremote++], sizeof(s->remote[0]), "%s",
		    info->sender);
	if (s->nlocal > 0 && (st == NULL || auth == NULL)) {
		rc = KURIR_E_TEMPFAIL;
		goto out;
	}
	for (k = 0; k < s->nlocal; k++) {
		s->users[k].size = sizeof(s->users[k]);
		if ((rc = auth->lookup(s->users[k].address, &s->users[k])) !=
		    KURIR_OK)
			goto out;
		s->params[k].size = sizeof(s->params[k]);
		s->params[k].user = s->users[k].address;
		s->params[k].location = s->users[k].location[0] != '\0' ?
		    s->users[k].location : NULL;
		s->params[k].quota_bytes = s->users[k].quota_bytes;
		s->params[k].quota_messages = s->users[k].quota_messages;
		s->pp[k] = &s->params[k];
	}
	if (s->nlocal > 0 && (rc = st->deliver_begin(s->pp, s->nlocal,
	    (int64_t)time(NULL), &s->dlv)) != KURIR_OK)
		goto out;
	if (s->nremote > 0) {
		memset(&qp, 0, sizeof(qp));
		qp.size = sizeof(qp);
		if ((rc = relay_api->queue_begin("", &qp, &s->q)) !=
		    KURIR_OK)
			goto out;
		for (k = 0; k < s->nremote && rc == KURIR_OK; k++)
			rc = relay_api->queue_add_rcpt(s->q, s->remote[k],
			    KURIR_QNOTIFY_NEVER, NULL);
		if (rc != KURIR_OK)
			goto out;
	}
	write_report(s, e, info, want, nwant, kind);
	if ((rc = s->err) != KURIR_OK)
		goto out;
	if (s->dlv != NULL) {
		rc = st->deliver_commit(s->dlv);
		s->dlv = NULL;
		if (rc == KURIR_E_OVERQUOTA || rc == KURIR_E_PERMFAIL) {
			relay_api->log(relay_mod, KURIR_LOG_WARNING, "queue "
			    "%s: report to <%s> refused by storage: dropped",
			    info->id, info->sender);
			rc = KURIR_OK;
		}
		if (rc != KURIR_OK)
			goto out;
	}
	if (s->q != NULL) {
		char	qid[KURIR_QID_MAX + 1];

		rc = relay_api->queue_commit(s->q, qid, sizeof(qid));
		s->q = NULL;
		if (rc == KURIR_OK)
			relay_api->log(relay_mod, KURIR_LOG_INFO, "queue %s: "
			    "report queued as %s", info->id, qid);
	}
	if (rc == KURIR_OK)
		relay_api->log(relay_mod, KURIR_LOG_INFO, "queue %s: report "
		    "of %zu %s recipient(s) sent to <%s>", info->id, nwant,
		    kind == RELAY_DSN_DELIVERED ? "delivered" : "failed",
		    info->sender);
out:
	if (s->dlv != NULL)
		st->deliver_abort(s->dlv);
	if (s->q != NULL)
		relay_api->queue_abort(s->q);
	free(s);
	free(want);
	return rc;
}
