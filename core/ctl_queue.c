/*
 * ctl_queue.c -- `kurirctl queue list | show ID | flush [ID] | remove ID
 * | hold ID | release ID`.  Safe while kurird runs: every change goes
 * through the queue lock (queue.h), and an envelope rewrite is a rename
 * in STATE_DIR/queue, which the running relay watches with inotify, so a
 * flush makes the server retry at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "queue.h"

static const char *const rcpt_states[] = { "pending", "sent", "failed",
    "delivered" };

static int
list_one(void *arg, const char *id, int64_t next_retry, uint32_t hold)
{
	struct kurir_queue_entry	*e;
	struct kurir_queue_info		 i;
	struct kurir_queue_rcpt		 r;
	uint32_t			 k;

	(void)next_retry;
	(void)hold;
	if (queue_open(id, &e) != KURIR_OK)
		return 0;	/* delivered meanwhile */
	i.size = sizeof(i);
	queue_info(e, &i);
	printf("%s %" PRIu64 " <%s>%s", i.id, i.msg_size, i.sender,
	    i.hold ? " HOLD" : "");
	for (k = 0; k < i.nrcpt; k++) {
		r.size = sizeof(r);
		if (queue_rcpt(e, k, &r) == KURIR_OK &&
		    r.state == KURIR_QRCPT_PENDING)
			printf(" %s", r.address);
	}
	printf("\n");
	(*(int *)arg)++;
	queue_close(e);
	return 0;
}

static int
flush_one(void *arg, const char *id, int64_t next_retry, uint32_t hold)
{
	(void)arg;
	(void)next_retry;
	if (!hold)
		queue_admin(id, QUEUE_OP_FLUSH);
	return 0;
}

static int
show(const char *id)
{
	struct kurir_queue_entry	*e;
	struct kurir_queue_info		 i;
	struct kurir_queue_rcpt		 r;
	uint32_t			 k;
	int				 rc;

	if ((rc = queue_open(id, &e)) != KURIR_OK)
		return rc;
	i.size = sizeof(i);
	queue_info(e, &i);
	printf("id: %s\nsender: <%s>\nsize: %" PRIu64 "\ncreated: %" PRId64
	    "\nnext_retry: %" PRId64 "\nattempts: %u\nhold: %s\nret: %s\n"
	    "envid: %s\n8bit: %s\nsmtputf8: %s\n", i.id, i.sender,
	    i.msg_size, i.created, i.next_retry, i.attempts,
	    i.hold ? "yes" : "no", i.ret == KURIR_QRET_FULL ? "FULL" :
	    i.ret == KURIR_QRET_HDRS ? "HDRS" : "-", i.envid,
	    i.body8bit ? "yes" : "no", i.smtputf8 ? "yes" : "no");
	for (k = 0; k < i.nrcpt; k++) {
		r.size = sizeof(r);
		if (queue_rcpt(e, k, &r) != KURIR_OK)
			continue;
		printf("rcpt: %s %s notify=%u orcpt=%s diag=%s\n", r.address,
		    rcpt_states[r.state], r.notify,
		    r.orcpt[0] != '\0' ? r.orcpt : "-", r.diag);
	}
	queue_close(e);
	return KURIR_OK;
}

int
ctl_queue(int argc, char **argv)
{
	const char	*verb = argc > 0 ? argv[0] : "";
	int		 rc = KURIR_E_INVALID, n = 0;

	if (strcmp(verb, "list") == 0 && argc == 1) {
		rc = queue_scan(list_one, &n);
		if (rc == KURIR_OK && n == 0)
			printf("queue is empty\n");
	} else if (strcmp(verb, "show") == 0 && argc == 2)
		rc = show(argv[1]);
	else if (strcmp(verb, "flush") == 0 && argc == 1)
		rc = queue_scan(flush_one, NULL);
	else if (strcmp(verb, "flush") == 0 && argc == 2)
		rc = queue_admin(argv[1], QUEUE_OP_FLUSH);
	else if (strcmp(verb, "remove") == 0 && argc == 2)
		rc = queue_admin(argv[1], QUEUE_OP_REMOVE);
	else if (strcmp(verb, "hold") == 0 && argc == 2)
		rc = queue_admin(argv[1], QUEUE_OP_HOLD);
	else if (strcmp(verb, "release") == 0 && argc == 2)
		rc = queue_admin(argv[1], QUEUE_OP_RELEASE);
	else {
		fprintf(stderr, "usage: kurirctl queue list | show ID | "
		    "flush [ID] | remove ID | hold ID | release ID\n");
		return 2;
	}
	if (rc == KURIR_OK)
		return 0;
	fprintf(stderr, "kurirctl: queue %s%s%s: %s\n", verb,
	    argc > 1 ? " " : "", argc > 1 ? argv[1] : "",
	    rc == KURIR_E_NOTFOUND ? "no such queue entry" :
	    rc == KURIR_E_INVALID ? "bad queue id" : "queue unavailable");
	return 1;
}
