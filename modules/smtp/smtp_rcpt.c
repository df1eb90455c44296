/*
 * smtp_rcpt.c -- recipient policy: local domains only unless the client
 * authenticated (never an open relay), resolution of aliases, catch-all
 * and plus-addressing through api->rcpt_resolve, and the set of unique
 * local mailboxes (targets) with their quotas for delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

struct smtp_resolve {
	struct smtp_session	*s;
	const struct smtp_rcpt_params *p;
	size_t			 remote;	/* non-local targets */
	size_t			 local;		/* local targets */
	int			 full;		/* over smtp_max_targets */
	int			 err;
};

static int
smtp_target_add(struct smtp_resolve *rs, const char *user)
{
	struct smtp_txn *t = &rs->s->txn;
	struct smtp_target *tg;
	struct kurir_auth_user u;
	const struct kurir_auth_ops *auth;
	size_t i, cap;
	void *p;

	for (i = 0; i < t->ntarget; i++)
		if (strcasecmp(t->targets[i].user, user) == 0)
			return (0);	/* one copy per mailbox */
	if (t->ntarget >= smtp_conf.max_targets) {
		rs->full = 1;
		return (1);
	}
	if (t->ntarget == t->targets_cap) {
		cap = t->targets_cap == 0 ? 4 : t->targets_cap * 2;
		if (cap > smtp_conf.max_targets)
			cap = smtp_conf.max_targets;
		if ((p = reallocarray(t->targets, cap, sizeof(*tg))) == NULL) {
			rs->err = KURIR_E_NOMEM;
			return (1);
		}
		t->targets = p;
		t->targets_cap = cap;
	}
	tg = &t->targets[t->ntarget];
	memset(tg, 0, sizeof(*tg));
	if (smtp_strlcpy(tg->user, user, sizeof(tg->user)) >= sizeof(tg->user)) {
		rs->err = KURIR_E_INVALID;
		return (1);
	}
	auth = smtp_api->auth();
	if (auth != NULL && auth->lookup != NULL) {
		memset(&u, 0, sizeof(u));
		u.size = sizeof(u);
		switch (auth->lookup(user, &u)) {
		case KURIR_OK:
			tg->quota_bytes = u.quota_bytes;
			tg->quota_messages = u.quota_messages;
			if (u.location[0] != '\0' &&
			    (tg->location = strdup(u.location)) == NULL) {
				rs->err = KURIR_E_NOMEM;
				return (1);
			}
			break;
		case KURIR_E_NOTFOUND:
			break;	/* resolved but unknown: no quota to apply */
		default:
			rs->err = KURIR_E_TEMPFAIL;
			return (1);
		}
	}
	t->ntarget++;
	return (0);
}

static int
smtp_resolve_cb(void *arg, const char *address, int is_local)
{
	struct smtp_resolve *rs = arg;

	if (!is_local) {
		rs->remote++;
		/* An alias forwarding outside: queued for the relay. */
		if (smtp_queue_available() &&
		    (rs->err = smtp_remote_add(rs->s, address, rs->p)) != 0) {
			rs->full = rs->err == KURIR_E_TOOBIG;
			return (1);
		}
		return (0);
	}
	rs->local++;
	return (smtp_target_add(rs, address));
}

/* Keep the accepted RCPT and its DSN parameters with the message. */
static int
smtp_rcpt_keep(struct smtp_txn *t, const char *addr,
    const struct smtp_rcpt_params *p)
{
	struct smtp_rcpt *r;
	size_t cap;
	void *np;

	if (t->nrcpt == t->rcpts_cap) {
		cap = t->rcpts_cap == 0 ? 4 : t->rcpts_cap * 2;
		if (cap > smtp_conf.max_recipients)
			cap = smtp_conf.max_recipients;
		if (cap <= t->nrcpt)
			return (KURIR_E_TOOBIG);
		if ((np = reallocarray(t->rcpts, cap, sizeof(*r))) == NULL)
			return (KURIR_E_NOMEM);
		t->rcpts = np;
		t->rcpts_cap = cap;
	}
	r = &t->rcpts[t->nrcpt++];
	smtp_strlcpy(r->addr, addr, sizeof(r->addr));
	r->params = *p;
	r->local = 0;		/* set by the caller for local targets */
	return (KURIR_OK);
}

/* The first of `domains`, for RCPT TO:<postmaster>. */
static void
smtp_first_domain(char *out, size_t cap)
{
	const char *d = smtp_api->conf_str("domains");
	size_t n;

	if (d == NULL)
		d = "localhost";
	d += strspn(d, ", \t");
	n = strcspn(d, ", \t");
	if (n == 0 || n >= cap) {
		smtp_strlcpy(out, "localhost", cap);
		return;
	}
	memcpy(out, d, n);
	out[n] = '\0';
}

void
smtp_rcpt_add(struct smtp_session *s, const char *addr,
    const struct smtp_rcpt_params *p)
{
	struct smtp_txn *t = &s->txn;
	struct smtp_resolve rs;
	char full[SMTP_PATH_MAX + 1], dom[SMTP_DOMAIN_MAX + 1], esc[128];
	char oesc[128];
	const char *domain;
	size_t before, before_remote, i;
	int r;

	if (strchr(addr, '@') == NULL) {
		smtp_first_domain(dom, sizeof(dom));
		snprintf(full, sizeof(full), "%s@%s", addr, dom);
		addr = full;
	}
	smtp_api->log_escape(esc, sizeof(esc), addr, strlen(addr));
	domain = smtp_addr_domain(addr);
	if (domain == NULL || !smtp_api->is_local_domain(domain)) {
		if (s->user[0] == '\0') {
			smtp_api->conn_log(s->conn, KURIR_LOG_NOTICE,
			    "%s: relay denied to=<%s>", t->qid, esc);
			smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied",
			    addr);
			smtp_session_error(s);
			return;
		}
		/* Submission to another domain: the outbound queue. */
		before = t->nremote;
		if (smtp_queue_available() &&
		    (r = smtp_remote_add(s, addr, p)) == KURIR_OK &&
		    (r = smtp_rcpt_keep(t, addr, p)) == KURIR_OK) {
			s->state = SMTP_S_RCPT;
			smtp_api->conn_log(s->conn, KURIR_LOG_INFO,
			    "%s: to=<%s> (outbound)", t->qid, esc);
			smtp_reply(s, 250, "2.1.5", "Recipient OK");
			return;
		}
		if (smtp_queue_available()) {
			t->nremote = before;
			smtp_reply(s, 452, "4.5.3", "Too many recipients");
			return;
		}
		/* A core without the queue: a temporary refusal keeps the
		 * mail with the client. */
		smtp_reply(s, 451, "4.4.0", "<%s>: Outbound delivery is not "
		    "available yet, try again later", addr);
		return;
	}
	memset(&rs, 0, sizeof(rs));
	rs.s = s;
	rs.p = p;
	before = t->ntarget;
	before_remote = t->nremote;
	r = smtp_api->rcpt_resolve(addr, smtp_resolve_cb, &rs);
	if (r == KURIR_OK && rs.err == 0 && !rs.full &&
	    (rs.remote == 0 || smtp_queue_available()) &&
	    (r = smtp_rcpt_keep(t, addr, p)) == KURIR_OK) {
		t->rcpts[t->nrcpt - 1].local = rs.local > 0;
		s->state = SMTP_S_RCPT;
		/* DSN parameters are kept with the recipient (for the
		 * outbound queue's bounces) and logged with it. */
		smtp_api->conn_log(s->conn, KURIR_LOG_INFO,
		    "%s: to=<%s>%s%s%s%s%s%s%s", t->qid, esc,
		    p->notify != 0 ? " notify=" : "",
		    p->notify & SMTP_NOTIFY_NEVER ? "NEVER" : "",
		    p->notify & SMTP_NOTIFY_SUCCESS ? "S" : "",
		    p->notify & SMTP_NOTIFY_FAILURE ? "F" : "",
		    p->notify & SMTP_NOTIFY_DELAY ? "D" : "",
		    p->orcpt[0] != '\0' ? " orcpt=" : "",
		    smtp_api->log_escape(oesc, sizeof(oesc), p->orcpt,
		    strlen(p->orcpt)));
		smtp_reply(s, 250, "2.1.5", "Recipient OK");
		return;
	}
	/* Roll the targets of this RCPT back. */
	for (i = before; i < t->ntarget; i++)
		free(t->targets[i].location);
	t->ntarget = before;
	t->nremote = before_remote;
	if (r == KURIR_E_NOTFOUND) {
		smtp_api->conn_log(s->conn, KURIR_LOG_INFO,
		    "%s: unknown recipient to=<%s>", t->qid, esc);
		smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address "
		    "rejected: User unknown", addr);
		smtp_session_error(s);
	} else if (r == KURIR_E_INVALID) {
		smtp_reply(s, 550, "5.4.6", "<%s>: Alias loop", addr);
		smtp_session_error(s);
	} else if (rs.full || r == KURIR_E_TOOBIG) {
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
	} else if (rs.remote != 0 && r == KURIR_OK && rs.err == 0) {
		smtp_reply(s, 451, "4.4.0", "<%s>: Forwarding to remote "
		    "addresses is not available yet, try again later", addr);
	} else {
		smtp_api->conn_log(s->conn, KURIR_LOG_WARNING,
		    "%s: lookup failed for to=<%s>: %d", t->qid, esc,
		    r != 0 ? r : rs.err);
		smtp_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure, "
		    "try again later", addr);
	}
}
