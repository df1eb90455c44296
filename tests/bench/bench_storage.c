/*
 * bench_storage.c -- storage backend throughput through the ABI: appends,
 * deliveries (with concurrent threads, to exercise grouped commits),
 * reads and flag updates of fixed-size messages, all durable.  Loads
 * the backend like the conformance suite does.  Prints one line:
 *   mode=append threads=1 msgs=1000 secs=0.84 msgs_per_s=1190
 * tests/bench/bench_storage.py runs it and adds fsyncs per message.
 *
 * usage: bench_storage -m append|deliver|read|flags [-t threads]
 *        [-n msgs] [-s size] [-u user] [-o offset]
 * flags mode touches uids offset*msgs+1 .. (offset+1)*msgs.
 * (KURIR_STORAGE, KURIR_MODULE_DIR, KURIR_STATE_DIR as for the suite)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kurir/storage.h>

#include "../storage/conformance.h"

static const struct kurir_storage_ops *ops;
static const char *mode = "append", *user = "bench@bench.test";
static int nthreads = 1, nmsgs = 1000, offset;
static size_t msize = 4096;
static char *body;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct kurir_store *
open_store(void)
{
	struct kurir_user_params p;
	struct kurir_store *st;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = user;
	if (ops->store_open(&p, &st) != KURIR_OK) {
		fprintf(stderr, "bench: store_open failed\n");
		exit(1);
	}
	return st;
}

static void *
worker(void *arg)
{
	int n = (int)(intptr_t)arg, i, rc;
	struct kurir_user_params p;
	const struct kurir_user_params *pp = &p;
	struct kurir_store *st = NULL;
	struct kurir_mailbox *mb = NULL;
	uint32_t uidv, uid;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = user;
	if (strcmp(mode, "append") == 0 || strcmp(mode, "read") == 0 ||
	    strcmp(mode, "flags") == 0)
		st = open_store();
	if (st != NULL && strcmp(mode, "append") != 0 &&
	    ops->mailbox_open(st, "INBOX", &mb) != KURIR_OK) {
		fprintf(stderr, "bench: mailbox_open failed\n");
		exit(1);
	}
	for (i = 0; i < n; i++) {
		if (strcmp(mode, "append") == 0) {
			struct kurir_append *ap;

			rc = ops->append_begin(st, "INBOX", 0, NULL, 0, &ap);
			if (rc == KURIR_OK)
				rc = ops->append_write(ap, body, msize);
			if (rc == KURIR_OK)
				rc = ops->append_commit(ap, &uidv, &uid);
		} else if (strcmp(mode, "deliver") == 0) {
			struct kurir_delivery *d;

			rc = ops->deliver_begin(&pp, 1, 0, &d);
			if (rc == KURIR_OK)
				rc = ops->deliver_write(d, body, msize);
			if (rc == KURIR_OK)
				rc = ops->deliver_commit(d);
		} else if (strcmp(mode, "read") == 0) {
			static __thread char buf[65536];
			size_t got, total = 0;

			uid = (uint32_t)(offset * nmsgs + i % nmsgs) + 1;
			do {
				rc = ops->msg_read(mb, uid, total, buf,
				    sizeof(buf), &got);
				total += got;
			} while (rc == KURIR_OK && got == sizeof(buf));
			if (rc == KURIR_OK && total != msize)
				rc = KURIR_E_CORRUPT;
		} else {
			struct kurir_uid_range r;
			char kw[32];

			/* Each message once per run, from no keywords to
			 * one of 16 (Maildir holds only 26 per folder):
			 * every call is a change. */
			snprintf(kw, sizeof(kw), "k%d", i % 16);
			r.first = r.last = (uint32_t)(offset * nmsgs +
			    i % nmsgs) + 1;
			rc = ops->msg_flags(mb, &r, 1, KURIR_FLAGS_SET,
			    i & 1 ? KURIR_FLAG_SEEN : 0, kw, 0, NULL, NULL);
		}
		if (rc != KURIR_OK) {
			fprintf(stderr, "bench: %s failed: %d\n", mode, rc);
			exit(1);
		}
	}
	if (mb != NULL)
		ops->mailbox_close(mb);
	if (st != NULL)
		ops->store_close(st);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[256];
	char err[1024];
	double t0, t1;
	int c, i;

	while ((c = getopt(argc, argv, "m:t:n:s:u:o:")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'n':
			nmsgs = atoi(optarg);
			break;
		case 's':
			msize = (size_t)atol(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'o':
			offset = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > 256 || nmsgs < 1)
		return 2;
	if ((ops = conformance_load(getenv("KURIR_MODULE_DIR"),
	    getenv("KURIR_STORAGE"), getenv("KURIR_STATE_DIR"), err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	if ((body = malloc(msize)) == NULL)
		return 1;
	for (size_t k = 0; k < msize; k++)
		body[k] = k % 64 == 63 ? '\n' : 'a' + k % 26;
	t0 = now();
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)
		    (nmsgs / nthreads + (i < nmsgs % nthreads)));
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	printf("mode=%s threads=%d msgs=%d secs=%.3f msgs_per_s=%.0f\n",
	    mode, nthreads, nmsgs, t1 - t0, nmsgs / (t1 - t0));
	return 0;
}
