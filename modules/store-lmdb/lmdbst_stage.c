/*
 * lmdbst_stage.c -- large bodies reach LMDB in steps.
 *
 * LMDB keeps every page a write transaction dirties in memory until the
 * commit (this backend opens environments without MDB_WRITEMAP, which
 * would rule out the nested transactions of grouped commits).  So a body
 * above LMDBST_STAGE_MIN is not copied in the grouped commit but before
 * it, in write transactions of at most LMDBST_STAGE_STEP bytes each,
 * under a fresh blob id that no message references yet: at most one
 * step of the message is ever in memory.  The first step records the
 * blob in the "pending" database with its owner (pid and process start
 * time); the grouped commit that adds the message record removes it
 * (lmdbst_stage_done).  A failed append drops the chunks at once
 * (lmdbst_stage_drop); chunks of a process killed mid-append are
 * dropped by the next process that opens the environment
 * (lmdbst_stage_sweep), so a crash leaves no trace visible to a client
 * and no space held for long.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lmdbst.h"

struct lmdbst_pending {
	uint32_t	 pid;
	uint32_t	 pad;
	uint64_t	 start;		/* owner's start time, clock ticks */
};

struct stage {
	struct lmdbst_spool *sp;
	uint64_t	 blob;
	uint64_t	 off;		/* next byte to store */
};

/* Start time of process pid (field 22 of /proc/PID/stat); 0 if gone. */
static uint64_t
proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: count fields after ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (i = 2; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	return start;
}

/* Is the process that staged this body still running?  Without /proc
 * (start time 0) a live pid has to do. */
static int
owner_alive(const struct lmdbst_pending *p)
{
	if (p->start == 0)
		return kill((pid_t)p->pid, 0) == 0 || errno == EPERM;
	return proc_start((pid_t)p->pid) == p->start;
}

static void
blob_key(uint8_t *k, uint64_t blob)
{
	uint8_t kb[12];

	lmdbst_key_body(kb, blob, 0);
	memcpy(k, kb, 8);
}

static int
stage_first(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct stage *s = arg;
	struct lmdbst_pending p;
	struct lmdbst_ids ids;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { sizeof(p), &p };
	int rc;

	if ((rc = lmdbst_ids_get(e, t, &ids)) != 0)
		return rc;
	s->blob = ids.next_blob++;
	if ((rc = lmdbst_ids_put(e, t, &ids)) != 0)
		return rc;
	memset(&p, 0, sizeof(p));
	p.pid = (uint32_t)getpid();
	p.start = proc_start(getpid());
	blob_key(kb, s->blob);
	return mdb_put(t, e->dbi[LMDBST_DB_PENDING], &k, &v, 0);
}

static int
stage_step(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	struct stage *s = arg;
	uint8_t kb[12];
	MDB_val k = { 12, kb }, v;
	uint64_t off, end;
	int rc;

	end = s->sp->size - s->off > LMDBST_STAGE_STEP ?
	    s->off + LMDBST_STAGE_STEP : s->sp->size;
	for (off = s->off; off < end; off += v.mv_size) {
		lmdbst_key_body(kb, s->blob, (uint32_t)(off / LMDBST_CHUNK));
		v.mv_size = end - off > LMDBST_CHUNK ? LMDBST_CHUNK :
		    (size_t)(end - off);
		v.mv_data = NULL;
		if ((rc = mdb_put(t, e->dbi[LMDBST_DB_BODY], &k, &v,
		    MDB_RESERVE)) != 0)
			return rc;
		if ((rc = lmdbst_spool_read(s->sp, off, v.mv_data,
		    v.mv_size)) != 0)
			return rc;
	}
	return 0;
}

int
lmdbst_stage_body(struct lmdbst_env *e, struct lmdbst_spool *sp,
    uint64_t *blob_r)
{
	struct stage s;
	int rc;

	*blob_r = 0;
	memset(&s, 0, sizeof(s));
	s.sp = sp;
	if ((rc = lmdbst_write(e, stage_first, &s)) != KURIR_OK)
		return rc;
	while (s.off < sp->size) {
		if ((rc = lmdbst_write(e, stage_step, &s)) != KURIR_OK) {
			lmdbst_stage_drop(e, s.blob);
			return rc;
		}
		s.off = s.sp->size - s.off > LMDBST_STAGE_STEP ?
		    s.off + LMDBST_STAGE_STEP : s.sp->size;
	}
	*blob_r = s.blob;
	return KURIR_OK;
}

/* In the commit adding the message: the blob is now a stored one. */
int
lmdbst_stage_done(struct lmdbst_env *e, MDB_txn *t, uint64_t blob,
    uint64_t size)
{
	struct lmdbst_blob b;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { sizeof(b), &b };
	int rc;

	blob_key(kb, blob);
	if ((rc = mdb_del(t, e->dbi[LMDBST_DB_PENDING], &k, NULL)) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	b.refs = 0;
	b.size = size;
	return mdb_put(t, e->dbi[LMDBST_DB_BLOBS], &k, &v, 0);
}

static int
drop_one(struct lmdbst_env *e, MDB_txn *t, void *arg)
{
	uint64_t blob = *(uint64_t *)arg;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	blob_key(kb, blob);
	rc = mdb_del(t, e->dbi[LMDBST_DB_PENDING], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* A blob that made it into a commit is not ours to drop. */
	if ((rc = mdb_get(t, e->dbi[LMDBST_DB_BLOBS], &k, &v)) == 0)
		return 0;
	if (rc != MDB_NOTFOUND)
		return rc;
	return lmdbst_body_del(e, t, blob);
}

void
lmdbst_stage_drop(struct lmdbst_env *e, uint64_t blob)
{
	if (blob != 0 && lmdbst_write(e, drop_one, &blob) != KURIR_OK)
		LMDBST_LOG(KURIR_LOG_WARNING, "%s: staged body %llu not "
		    "dropped; the next open retries", e->dir,
		    (unsigned long long)blob);
}

/* Drop the staged bodies of processes that are gone. */
void
lmdbst_stage_sweep(struct lmdbst_env *e)
{
	uint64_t dead[64];
	struct lmdbst_pending p;
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val k, v;
	size_t n = 0, i;
	int rc;

	if (lmdbst_txn_begin(e, 0, &t) != 0)
		return;
	if (mdb_cursor_open(t, e->dbi[LMDBST_DB_PENDING], &c) == 0) {
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		for (; rc == 0 && n < 64; rc = mdb_cursor_get(c, &k, &v,
		    MDB_NEXT)) {
			if (k.mv_size != 8 || v.mv_size != sizeof(p))
				continue;
			memcpy(&p, v.mv_data, sizeof(p));
			if (owner_alive(&p))
				continue;	/* still appending */
			dead[n++] = lmdbst_get64(k.mv_data);
		}
		mdb_cursor_close(c);
	}
	lmdbst_txn_abort(e, t);
	for (i = 0; i < n; i++) {
		LMDBST_LOG(KURIR_LOG_INFO, "%s: dropping a body left by an "
		    "interrupted append", e->dir);
		lmdbst_stage_drop(e, dead[i]);
	}
}
