/*
 * storecat.c -- test helper: print every message of one user's mailbox
 * exactly as the storage backend returns it, read through the storage
 * ABI (msg_list, msg_read) after booting the configuration the way
 * kurirctl does.  Output, per message: "UID SIZE\n", SIZE raw bytes,
 * "\n".  Integration tests compare what SMTP delivered byte for byte.
 *
 *	storecat [-c FILE] [-o KEY=VALUE]... USER [MAILBOX]
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "log.h"
#include "module.h"
#include "privsep.h"

#define MAX_OVERRIDES	256

struct storecat_list {
	uint32_t	*uid;
	uint64_t	*size;
	size_t		 n;
};

static int
storecat_msg(void *arg, const struct kurir_msg *m)
{
	struct storecat_list *l = arg;

	l->uid = reallocarray(l->uid, l->n + 1, sizeof(*l->uid));
	l->size = reallocarray(l->size, l->n + 1, sizeof(*l->size));
	if (l->uid == NULL || l->size == NULL)
		return (1);
	l->uid[l->n] = m->uid;
	l->size[l->n] = m->size;
	l->n++;
	return (0);
}

static int
storecat_user(const char *user, const char *mailbox)
{
	const struct kurir_storage_ops *st = module_storage_ops();
	const struct kurir_auth_ops *auth = module_auth_ops();
	struct storecat_list l = { NULL, NULL, 0 };
	struct kurir_user_params p;
	struct kurir_auth_user u;
	struct kurir_store *store;
	struct kurir_mailbox *mb;
	char buf[65536];
	uint64_t off;
	size_t i, n;
	int rc;

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = user;
	if (auth != NULL && auth->lookup(user, &u) == KURIR_OK) {
		p.user = u.address;
		p.location = u.location[0] != '\0' ? u.location : NULL;
		p.quota_bytes = u.quota_bytes;
		p.quota_messages = u.quota_messages;
	}
	if ((rc = st->store_open(&p, &store)) != KURIR_OK) {
		fprintf(stderr, "storecat: %s: store_open %d\n", user, rc);
		return (1);
	}
	if ((rc = st->mailbox_open(store, mailbox, &mb)) != KURIR_OK) {
		fprintf(stderr, "storecat: %s: mailbox_open %d\n", mailbox, rc);
		st->store_close(store);
		return (1);
	}
	rc = st->msg_list(mb, 1, UINT32_MAX, storecat_msg, &l);
	for (i = 0; rc == KURIR_OK && i < l.n; i++) {
		printf("%" PRIu32 " %" PRIu64 "\n", l.uid[i], l.size[i]);
		for (off = 0; off < l.size[i]; off += n) {
			rc = st->msg_read(mb, l.uid[i], off, buf, sizeof(buf),
			    &n);
			if (rc != KURIR_OK || n == 0)
				break;
			fwrite(buf, 1, n, stdout);
		}
		printf("\n");
	}
	st->mailbox_close(mb);
	st->store_close(store);
	free(l.uid);
	free(l.size);
	if (rc != KURIR_OK) {
		fprintf(stderr, "storecat: read failed: %d\n", rc);
		return (1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct boot b;
	char *overrides[MAX_OVERRIDES], err[2048];
	const char *path = NULL;
	size_t nov = 0;
	int ch, rc;

	while ((ch = getopt(argc, argv, "c:o:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			if (nov == MAX_OVERRIDES)
				return (2);
			overrides[nov++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: storecat [-c FILE] "
			    "[-o KEY=VALUE]... USER [MAILBOX]\n");
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: storecat [-c FILE] [-o KEY=VALUE]... "
		    "USER [MAILBOX]\n");
		return (2);
	}
	log_init("storecat", 1);
	log_set_role("storecat");
	if (boot_load(&b, path, overrides, nov, BOOT_NO_PROTOCOLS, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "storecat: %s\n", err);
		return (1);
	}
	boot_activate(&b);
	log_set_level(KURIR_LOG_WARNING);
	if (privsep_init(config_str("user"), err, sizeof(err)) == -1 ||
	    boot_state_dir(err, sizeof(err)) == -1 ||
	    boot_init_modules(err, sizeof(err)) == -1 ||
	    privsep_drop(err, sizeof(err)) == -1 ||
	    module_init_worker_all(err, sizeof(err)) == -1) {
		fprintf(stderr, "storecat: %s\n", err);
		return (1);
	}
	rc = storecat_user(argv[0], argc == 2 ? argv[1] : "INBOX");
	module_close_all();
	boot_free(&b);
	return (rc);
}
