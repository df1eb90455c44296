/*
 * relay_deliver.c -- one delivery attempt of one queue entry: its pending
 * recipients grouped by domain, each group sent to the first next hop
 * (route or MX) that answers; per-recipient outcome 2xx done, 5xx failed
 * (bounced), anything else retried on the schedule until queue_lifetime.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "relay.h"

static const char *
rdomain(const char *addr)
{
	const char	*at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

static void
set_all(struct relay_result *res, size_t n, int code, const char *text,
    const char *mta)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		res[i].code = code;
		snprintf(res[i].text, sizeof(res[i].text), "%s", text);
		snprintf(res[i].mta, sizeof(res[i].mta), "%s", mta);
	}
}

/* Send one group (all of one domain) through hops, reusing cc's
 * connection when it goes to the same place. */
static void
send_group(struct kurir_queue_entry *e, const struct kurir_queue_info *info,
    struct relay_hop *hops, size_t nhops, struct relay_result *res,
    size_t n, struct relay_conncache *cc)
{
	struct relay_result	 err;
	char			 addrs[8][64], key[RELAY_HOST_MAX + 80];
	size_t			 h, a, na;
	int			 rc;

	memset(&err, 0, sizeof(err));
	snprintf(err.text, sizeof(err.text), "4.4.4 no next hop answered");
	for (h = 0; h < nhops; h++) {
		snprintf(key, sizeof(key), "%.255s:%u:%u:%.64s", hops[h].host,
		    hops[h].port, hops[h].tls, hops[h].auth_user);
		if (cc->c != NULL && strcmp(relay_client_key(cc->c), key) == 0) {
			if (relay_client_send(cc->c, e, info, res, n) == 0)
				return;
			relay_client_close(cc->c, 0);
			cc->c = NULL;
			cc->fd = -1;
			/* a stale cached connection: try afresh below,
			 * unless the server took part of the message */
			for (a = 0; a < n; a++)
				if (res[a].code != 0)
					return;
		}
		if (cc->c != NULL) {
			relay_client_close(cc->c, 1);
			cc->c = NULL;
			cc->fd = -1;
		}
		rc = relay_addr_lookup(hops[h].host, relay_conf.dns_stub, addrs,
		    8, &na);
		if (rc != KURIR_OK) {
			snprintf(err.text, sizeof(err.text), "4.4.4 no address "
			    "for %.255s", hops[h].host);
			continue;
		}
		for (a = 0; a < na; a++) {
			memset(&err, 0, sizeof(err));
			cc->c = relay_client_open(&hops[h], addrs[a], &cc->fd,
			    &err);
			if (cc->c == NULL) {
				relay_api->log(relay_mod, KURIR_LOG_INFO,
				    "queue %s: %s", info->id, err.text);
				/* RFC 5321 5.1: a 5xx greeting or EHLO is
				 * that host's final word; try the next. */
				continue;
			}
			if (relay_client_send(cc->c, e, info, res, n) == -1) {
				relay_client_close(cc->c, 0);
				cc->c = NULL;
				cc->fd = -1;
			}
			return;
		}
	}
	/* No host took the message: a temporary failure for all, unless
	 * the last one refused permanently at the greeting. */
	set_all(res, n, err.code / 100 == 5 ? err.code : 0, err.text, err.mta);
}

static int64_t
next_retry(uint32_t attempts)
{
	uint32_t	k = relay_conf.nretry == 0 ? 0 :
	    (attempts < relay_conf.nretry ? attempts : relay_conf.nretry - 1);
	int64_t		d = relay_conf.nretry == 0 ? 3600 : relay_conf.retry[k];

	return (int64_t)time(NULL) + d;
}

/* Recipients the producer stored locally and that asked NOTIFY=SUCCESS
 * (KURIR_QRCPT_DELIVERED): the "delivered" report, then they are done.
 * If the report cannot be made durable now they stay, for the next
 * attempt.  res has room for every recipient. */
static int
success_reports(struct kurir_queue_entry *e,
    const struct kurir_queue_info *info, struct relay_result *res)
{
	struct kurir_queue_rcpt	r;
	size_t			i, n = 0;
	int			rc;

	for (i = 0; i < info->nrcpt; i++) {
		r.size = sizeof(r);
		if (relay_api->queue_rcpt(e, (uint32_t)i, &r) != KURIR_OK ||
		    r.state != KURIR_QRCPT_DELIVERED)
			continue;
		memset(&res[n], 0, sizeof(res[n]));
		res[n].idx = (uint32_t)i;
		res[n].code = 250;
		snprintf(res[n].text, sizeof(res[n].text), "delivered to "
		    "mailbox");
		n++;
	}
	if (n == 0)
		return KURIR_OK;
	if ((rc = relay_dsn(e, info, res, n, RELAY_DSN_DELIVERED)) !=
	    KURIR_OK)
		return rc;
	for (i = 0; i < n; i++)
		relay_api->queue_set_rcpt(e, res[i].idx, KURIR_QRCPT_SENT,
		    "success report sent");
	return KURIR_OK;
}

int64_t
relay_deliver(const char *id, struct relay_conncache *cc, char *busy)
{
	struct kurir_queue_entry	*e;
	struct kurir_queue_info		 info;
	struct kurir_queue_rcpt		 r;
	struct relay_result		*res = NULL, *failed = NULL;
	struct relay_hop		 hops[RELAY_MAX_HOPS];
	char				 dom[RELAY_HOST_MAX + 1], diag[256];
	const char			*routes;
	size_t				 i, j, n = 0, g, nhops, nfailed = 0;
	uint32_t			*done = NULL, pending = 0;
	int64_t				 now = time(NULL), next = 0;
	int				 rc, nullmx, tried = 0;

	busy[0] = '\0';
	if ((rc = relay_api->queue_open(id, &e)) != KURIR_OK)
		return 0;
	info.size = sizeof(info);
	relay_api->queue_info(e, &info);
	if (info.hold || info.next_retry > now) {
		relay_api->queue_close(e);
		return info.next_retry;
	}
	if ((res = calloc(info.nrcpt + 1, sizeof(*res))) == NULL ||
	    (failed = calloc(info.nrcpt + 1, sizeof(*failed))) == NULL ||
	    (done = calloc(info.nrcpt + 1, sizeof(*done))) == NULL)
		goto out;
	routes = relay_api->conf_str("relay_routes");
	for (i = 0; i < info.nrcpt; i++) {
		r.size = sizeof(r);
		if (done[i] || relay_api->queue_rcpt(e, (uint32_t)i, &r) !=
		    KURIR_OK || r.state != KURIR_QRCPT_PENDING)
			continue;
		/* This recipient's domain, and every later one in it. */
		snprintf(dom, sizeof(dom), "%s", rdomain(r.address));
		for (j = 0; dom[j] != '\0'; j++)
			dom[j] = (char)tolower((unsigned char)dom[j]);
		n = 0;
		for (j = i; j < info.nrcpt; j++) {
			r.size = sizeof(r);
			if (done[j] || relay_api->queue_rcpt(e, (uint32_t)j,
			    &r) != KURIR_OK || r.state != KURIR_QRCPT_PENDING ||
			    strcasecmp(rdomain(r.address), dom) != 0)
				continue;
			done[j] = 1;
			memset(&res[n], 0, sizeof(res[n]));
			res[n++].idx = (uint32_t)j;
		}
		rc = relay_route_find(routes, dom, &hops[0]);
		if (rc == 1) {
			nhops = 1;
			rc = KURIR_OK;
		} else if (rc == -1) {
			snprintf(diag, sizeof(diag), "4.3.5 bad relay_routes "
			    "entry for %.200s", dom);
			rc = KURIR_E_TEMPFAIL;
		} else
			rc = relay_mx_lookup(dom, relay_conf.dns_stub, hops,
			    RELAY_MAX_HOPS, &nhops, &nullmx, diag,
			    sizeof(diag));
		if (rc != KURIR_OK)
			set_all(res, n, rc == KURIR_E_PERMFAIL ? 550 : 0, diag,
			    "");
		else if (!tried && !relay_slot_try(dom)) {
			/* Busy destination: leave the whole entry for later
			 * rather than hold a thread that others could use. */
			snprintf(busy, RELAY_HOST_MAX + 1, "%s", dom);
			next = now;
			goto out;
		} else {
			if (tried)	/* the rest of a started attempt */
				relay_slot_get(dom);
			send_group(e, &info, hops, nhops, res, n, cc);
			relay_slot_put(dom);
		}
		tried = 1;
		for (g = 0; g < n; g++) {
			relay_api->log(relay_mod, KURIR_LOG_INFO, "queue %s: "
			    "to=<%s> relay=%s %s: %s", info.id,
			    (r.size = sizeof(r), relay_api->queue_rcpt(e,
			    res[g].idx, &r), r.address), res[g].mta[0] != '\0' ?
			    res[g].mta : "none", res[g].code / 100 == 2 ?
			    "sent" : res[g].code / 100 == 5 ? "bounced" :
			    "deferred", res[g].text);
			if (res[g].code / 100 == 2)
				relay_api->queue_set_rcpt(e, res[g].idx,
				    KURIR_QRCPT_SENT, res[g].text);
			else if (res[g].code / 100 == 5)
				failed[nfailed++] = res[g];
			else {
				relay_api->queue_set_rcpt(e, res[g].idx,
				    KURIR_QRCPT_PENDING, res[g].text);
				pending++;
			}
		}
	}
	/* Past queue_lifetime, the deferred ones fail too (RFC 3463
	 * 4.4.7: delivery time expired). */
	if (pending > 0 && now - info.created >= relay_conf.lifetime) {
		for (i = 0; i < info.nrcpt; i++) {
			r.size = sizeof(r);
			relay_api->queue_rcpt(e, (uint32_t)i, &r);
			if (r.state != KURIR_QRCPT_PENDING)
				continue;
			for (j = 0; j < nfailed; j++)
				if (failed[j].idx == i)
					break;
			if (j < nfailed)
				continue;
			memset(&failed[nfailed], 0, sizeof(failed[0]));
			failed[nfailed].idx = (uint32_t)i;
			failed[nfailed].code = 0;
			snprintf(failed[nfailed].text,
			    sizeof(failed[0].text), "4.4.7 delivery time "
			    "expired; last error: %.400s", r.diag);
			nfailed++;
		}
		pending = 0;
	}
	if (nfailed > 0) {
		/* The report first: if it cannot be made durable now, the
		 * recipients stay pending and fail again next time. */
		if (relay_dsn(e, &info, failed, nfailed, RELAY_DSN_FAILED) ==
		    KURIR_OK)
			for (j = 0; j < nfailed; j++)
				relay_api->queue_set_rcpt(e, failed[j].idx,
				    KURIR_QRCPT_FAILED, failed[j].text);
		else
			pending++;
	}
	if (success_reports(e, &info, failed) != KURIR_OK)
		pending++;
	next = pending > 0 ? next_retry(info.attempts) : 0;
	if (relay_api->queue_save(e, next) != KURIR_OK)
		next = 0;
out:
	free(res);
	free(failed);
	free(done);
	relay_api->queue_close(e);
	return next;
}
