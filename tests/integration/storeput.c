/*
 * storeput.c -- a test tool: appends messages to a user's mailbox through
 * the storage ABI, loading the backend the way kurird does (module_open
 * by name, its keys declared and validated, its init).  POP3 tests use it
 * to put byte-exact messages (bare LFs, leading dots, no final newline)
 * where the server will find them.
 *
 *	storeput [-o KEY=VALUE]... [-n COUNT] [-s] USER MAILBOX [FILE...]
 *
 * With no FILE the message is read from standard input (and appended
 * COUNT times).  -s stores it \Seen.  Prints "UIDVALIDITY UID" per
 * message.  The configuration is kurird's: pass the same state_dir,
 * module_dir and storage with -o.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kurir/api.h>
#include <kurir/storage.h>

#include "config.h"
#include "config_keys.h"
#include "module.h"

static void
sp_log(struct kurir_module *mod, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > KURIR_LOG_WARNING)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct kurir_core_api sp_api;

/* module.c asks for the core's table; a tool has only this small one.
 * Weak, so the real one wins if the library ever links it in. */
__attribute__((weak)) const struct kurir_core_api *
api_table(void)
{
	return &sp_api;
}

static const struct kurir_storage_ops *
sp_load(char **ov, size_t nov)
{
	const struct kurir_module_desc *d;
	struct kurir_module *m;
	struct config *cf;
	const char *why = NULL, *name, *dir;
	char err[1024];

	if ((cf = config_parse(NULL, ov, nov, err, sizeof(err))) == NULL ||
	    config_add_keys(cf, core_conf_keys, "core") != 0)
		goto fail;
	name = config_raw(cf, "storage");
	dir = config_raw(cf, "module_dir");
	if (name == NULL || dir == NULL) {
		snprintf(err, sizeof(err), "need -o storage= and -o module_dir=");
		goto fail;
	}
	if ((m = module_open(dir, name, KURIR_MOD_STORAGE, err,
	    sizeof(err))) == NULL)
		goto fail;
	d = module_desc(m);
	if (d->conf_keys != NULL && config_add_keys(cf, d->conf_keys,
	    d->name) != 0) {
		snprintf(err, sizeof(err), "%s: bad keys", d->name);
		goto fail;
	}
	/* Keys of the other modules kurird loads may be passed too. */
	if (config_validate(cf, err, sizeof(err)) != 0)
		goto fail;
	config_set_current(cf);
	sp_api.size = sizeof(sp_api);
	sp_api.abi_major = KURIR_ABI_MAJOR;
	sp_api.abi_minor = KURIR_ABI_MINOR;
	sp_api.version = "storeput";
	sp_api.log = sp_log;
	sp_api.conf_str = config_str;
	sp_api.conf_num = config_num;
	if (d->init != NULL && d->init(m, &sp_api, &why) != 0) {
		snprintf(err, sizeof(err), "init: %s", why ? why : "failed");
		goto fail;
	}
	if (d->init_worker != NULL && d->init_worker(m, &why) != 0) {
		snprintf(err, sizeof(err), "init_worker: %s",
		    why ? why : "failed");
		goto fail;
	}
	return d->ops;
fail:
	fprintf(stderr, "storeput: %s\n", err);
	exit(2);
}

/* Whole file (or stdin) into memory: test messages are small. */
static char *
sp_slurp(FILE *fp, size_t *len_r)
{
	size_t cap = 65536, len = 0, n;
	char *buf = malloc(cap);

	while (buf != NULL && (n = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap && (buf = realloc(buf, cap *= 2)) == NULL)
			break;
	}
	if (buf == NULL) {
		fprintf(stderr, "storeput: out of memory\n");
		exit(2);
	}
	*len_r = len;
	return buf;
}

static void
sp_append(const struct kurir_storage_ops *so, struct kurir_store *st,
    const char *mailbox, uint32_t flags, const char *buf, size_t len)
{
	struct kurir_append *ap;
	uint32_t uv = 0, uid = 0;
	size_t off, n;
	int r;

	if ((r = so->append_begin(st, mailbox, flags, NULL, 0, &ap)) != 0) {
		fprintf(stderr, "storeput: append_begin: %d\n", r);
		exit(1);
	}
	/* Odd-sized pieces, as a streaming writer would send them. */
	for (off = 0; off < len; off += n) {
		n = len - off < 7001 ? len - off : 7001;
		if ((r = so->append_write(ap, buf + off, n)) != 0) {
			fprintf(stderr, "storeput: append_write: %d\n", r);
			so->append_abort(ap);
			exit(1);
		}
	}
	if ((r = so->append_commit(ap, &uv, &uid)) != 0) {
		fprintf(stderr, "storeput: append_commit: %d\n", r);
		exit(1);
	}
	printf("%u %u\n", uv, uid);
}

int
main(int argc, char **argv)
{
	const struct kurir_storage_ops *so;
	struct kurir_user_params p;
	struct kurir_store *st;
	char *ov[64], *buf;
	size_t nov = 0, len;
	long count = 1, i;
	uint32_t flags = 0;
	FILE *fp;
	int ch, r;

	while ((ch = getopt(argc, argv, "o:n:s")) != -1) {
		switch (ch) {
		case 'o':
			if (nov < 64)
				ov[nov++] = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 's':
			flags |= KURIR_FLAG_SEEN;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || count < 1)
		goto usage;
	so = sp_load(ov, nov);
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = argv[0];
	if ((r = so->store_open(&p, &st)) != 0) {
		fprintf(stderr, "storeput: store_open %s: %d\n", argv[0], r);
		return 1;
	}
	if (argc == 2) {
		buf = sp_slurp(stdin, &len);
		for (i = 0; i < count; i++)
			sp_append(so, st, argv[1], flags, buf, len);
		free(buf);
	}
	for (i = 2; i < argc; i++) {
		if ((fp = fopen(argv[i], "rb")) == NULL) {
			fprintf(stderr, "storeput: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		buf = sp_slurp(fp, &len);
		fclose(fp);
		sp_append(so, st, argv[1], flags, buf, len);
		free(buf);
	}
	so->store_close(st);
	return 0;
usage:
	fprintf(stderr, "usage: storeput [-o KEY=VALUE]... [-n COUNT] [-s] "
	    "USER MAILBOX [FILE...]\n");
	return 2;
}
