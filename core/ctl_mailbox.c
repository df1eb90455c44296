/*
 * ctl_mailbox.c -- `kurirctl mailbox list USER`,
 * `kurirctl mailbox status USER MAILBOX` and `kurirctl mailbox quota USER`
 * (usage and limits), through the storage ABI only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "module.h"

static const struct {
	uint32_t	 bit;
	const char	*name;
} mbx_attrs[] = {
	{ KURIR_MBX_NOSELECT, "\\Noselect" },
	{ KURIR_MBX_HASCHILDREN, "\\HasChildren" },
	{ KURIR_MBX_SUBSCRIBED, "\\Subscribed" },
	{ KURIR_MBX_DRAFTS, "\\Drafts" },
	{ KURIR_MBX_SENT, "\\Sent" },
	{ KURIR_MBX_TRASH, "\\Trash" },
	{ KURIR_MBX_JUNK, "\\Junk" },
	{ KURIR_MBX_ARCHIVE, "\\Archive" },
};

int
ctl_user_params(const char *address, struct kurir_auth_user *u,
    struct kurir_user_params *p)
{
	const struct kurir_auth_ops	*auth = module_auth_ops();
	int				 rc;

	memset(u, 0, sizeof(*u));
	u->size = sizeof(*u);
	if (auth == NULL || (rc = auth->lookup(address, u)) != KURIR_OK)
		return auth == NULL ? KURIR_E_UNSUPPORTED : rc;
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->user = u->address;
	p->location = u->location[0] != '\0' ? u->location : NULL;
	p->quota_bytes = u->quota_bytes;
	p->quota_messages = u->quota_messages;
	return KURIR_OK;
}

static int
print_mailbox(void *arg, const char *name, uint32_t attrs)
{
	size_t	i;

	printf("%s", name);
	for (i = 0; i < sizeof(mbx_attrs) / sizeof(mbx_attrs[0]); i++)
		if (attrs & mbx_attrs[i].bit)
			printf(" %s", mbx_attrs[i].name);
	printf("\n");
	return 0;
}

int
ctl_mailbox(int argc, char **argv)
{
	const struct kurir_storage_ops	*st = module_storage_ops();
	struct kurir_mailbox_status	 s;
	struct kurir_user_params	 p;
	struct kurir_auth_user		 u;
	struct kurir_store		*store;
	int				 rc;

	uint64_t			 qb, qm;

	if (argc < 2 || (strcmp(argv[0], "list") == 0 && argc != 2) ||
	    (strcmp(argv[0], "quota") == 0 && argc != 2) ||
	    (strcmp(argv[0], "status") == 0 && argc != 3) ||
	    (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "status") != 0 &&
	    strcmp(argv[0], "quota") != 0)) {
		fprintf(stderr, "usage: kurirctl mailbox list USER | "
		    "status USER MAILBOX | quota USER\n");
		return 2;
	}
	if ((rc = ctl_user_params(argv[1], &u, &p)) != KURIR_OK) {
		fprintf(stderr, "kurirctl: %s: %s\n", argv[1],
		    rc == KURIR_E_NOTFOUND ? "no such user" : "lookup failed");
		return 1;
	}
	if ((rc = st->store_open(&p, &store)) != KURIR_OK) {
		fprintf(stderr, "kurirctl: %s: cannot open store (%d)\n",
		    argv[1], rc);
		return 1;
	}
	if (strcmp(argv[0], "list") == 0)
		rc = st->mailbox_list(store, print_mailbox, NULL);
	else if (strcmp(argv[0], "quota") == 0) {
		/* Usage across all mailboxes and the limits (0: none). */
		if ((rc = st->quota_usage(store, &qb, &qm)) == KURIR_OK)
			printf("used_bytes %" PRIu64 "\nused_messages %" PRIu64
			    "\nlimit_bytes %" PRIu64 "\nlimit_messages %"
			    PRIu64 "\n", qb, qm, p.quota_bytes,
			    p.quota_messages);
	} else if ((rc = st->mailbox_status(store, argv[2], &s)) == KURIR_OK)
		printf("messages %" PRIu32 "\nunseen %" PRIu32
		    "\nuidvalidity %" PRIu32 "\nuidnext %" PRIu32
		    "\nhighestmodseq %" PRIu64 "\nbytes %" PRIu64 "\n",
		    s.messages, s.unseen, s.uidvalidity, s.uidnext,
		    s.highestmodseq, s.bytes);
	st->store_close(store);
	if (rc != KURIR_OK) {
		fprintf(stderr, "kurirctl: %s: %s\n", argv[0],
		    rc == KURIR_E_NOTFOUND ? "no such mailbox" : "failed");
		return 1;
	}
	return 0;
}
