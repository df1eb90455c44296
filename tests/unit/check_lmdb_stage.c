/*
 * check_lmdb_stage.c -- the LMDB backend's staged big bodies: a 9 MiB
 * append is stored in steps (never one transaction), its pending record
 * goes with the commit, and the chunks of a process killed after
 * staging are dropped by the next opener while a live owner's are kept;
 * and the timer that stands in for inotify when none is left.
 * Built from the module's sources (no core: lmdbst_api stays NULL).
 */
#include <sys/wait.h>

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmdbst.h"

#define BIG	(9u << 20)

static char dir[1024];
static char envdir[1100];

static void
setup(void)
{
	char tmpl[] = "/tmp/kurir-lmdbstage.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(lmdbst_conf.state_dir, sizeof(lmdbst_conf.state_dir), "%s",
	    tmpl);
	snprintf(dir, sizeof(dir), "%s", tmpl);
	snprintf(envdir, sizeof(envdir), "%s/lmdb/stage.test/u", tmpl);
}

static void
teardown(void)
{
	char cmd[1200];

	lmdbst_env_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static size_t
entries(struct lmdbst_env *e, int db)
{
	MDB_stat ms;
	MDB_txn *t;

	ck_assert_int_eq(lmdbst_txn_begin(e, 0, &t), 0);
	ck_assert_int_eq(mdb_stat(t, e->dbi[db], &ms), 0);
	lmdbst_txn_abort(e, t);
	return ms.ms_entries;
}

static void
spool_big(struct lmdbst_spool *sp)
{
	static char buf[65536];
	size_t off;

	memset(buf, 'b', sizeof(buf));
	lmdbst_spool_init(sp);
	for (off = 0; off < BIG; off += sizeof(buf))
		ck_assert_int_eq(lmdbst_spool_write(sp, buf, sizeof(buf)), 0);
}

/* Child: stage a big body and stop before its commit. */
static void
child_stage(int fd, int wait)
{
	struct lmdbst_env *e;
	struct lmdbst_spool sp;
	uint64_t blob;

	if (lmdbst_env_get(envdir, &e) != KURIR_OK)
		_exit(2);
	spool_big(&sp);
	if (lmdbst_stage_body(e, &sp, &blob) != KURIR_OK || blob == 0)
		_exit(3);
	if (entries(e, LMDBST_DB_PENDING) != 1 ||
	    entries(e, LMDBST_DB_BODY) != BIG / LMDBST_CHUNK)
		_exit(4);
	(void)!write(fd, "x", 1);
	if (wait)
		pause();
	_exit(0);		/* no commit, no drop: like a crash */
}

START_TEST(t_dead_owner_swept)
{
	struct lmdbst_env *e;
	int p[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0)
		child_stage(p[1], 0);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The first open in this process sweeps. */
	ck_assert_int_eq(lmdbst_env_get(envdir, &e), KURIR_OK);
	ck_assert_uint_eq(entries(e, LMDBST_DB_PENDING), 0);
	ck_assert_uint_eq(entries(e, LMDBST_DB_BODY), 0);
	lmdbst_env_put(e);
}
END_TEST

START_TEST(t_live_owner_kept)
{
	struct lmdbst_env *e;
	int p[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0)
		child_stage(p[1], 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(lmdbst_env_get(envdir, &e), KURIR_OK);
	ck_assert_uint_eq(entries(e, LMDBST_DB_PENDING), 1);
	ck_assert_uint_eq(entries(e, LMDBST_DB_BODY), BIG / LMDBST_CHUNK);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	lmdbst_stage_sweep(e);
	ck_assert_uint_eq(entries(e, LMDBST_DB_PENDING), 0);
	ck_assert_uint_eq(entries(e, LMDBST_DB_BODY), 0);
	lmdbst_env_put(e);
}
END_TEST

START_TEST(t_commit_and_overquota)
{
	struct kurir_user_params p = { sizeof(p), "u@stage.test", NULL, 0, 0 };
	struct kurir_store *st;
	struct kurir_append *ap;
	uint32_t uidv, uid;
	static char buf[65536];
	size_t off;

	memset(buf, 'c', sizeof(buf));
	ck_assert_int_eq(lmdbst_store_open(&p, &st), KURIR_OK);
	ck_assert_int_eq(lmdbst_append_begin(st, "INBOX", 0, NULL, 0, &ap),
	    KURIR_OK);
	for (off = 0; off < BIG; off += sizeof(buf))
		ck_assert_int_eq(lmdbst_append_write(ap, buf, sizeof(buf)),
		    KURIR_OK);
	ck_assert_int_eq(lmdbst_append_commit(ap, &uidv, &uid), KURIR_OK);
	ck_assert_uint_eq(entries(st->e, LMDBST_DB_PENDING), 0);
	ck_assert_uint_eq(entries(st->e, LMDBST_DB_BODY), BIG / LMDBST_CHUNK);
	ck_assert_uint_eq(entries(st->e, LMDBST_DB_BLOBS), 1);
	/* Over quota after staging: the staged chunks go again. */
	st->quota_messages = 1;
	ck_assert_int_eq(lmdbst_append_begin(st, "INBOX", 0, NULL, 0, &ap),
	    KURIR_OK);
	for (off = 0; off < BIG; off += sizeof(buf))
		ck_assert_int_eq(lmdbst_append_write(ap, buf, sizeof(buf)),
		    KURIR_OK);
	ck_assert_int_eq(lmdbst_append_commit(ap, &uidv, &uid),
	    KURIR_E_OVERQUOTA);
	ck_assert_uint_eq(entries(st->e, LMDBST_DB_PENDING), 0);
	ck_assert_uint_eq(entries(st->e, LMDBST_DB_BODY), BIG / LMDBST_CHUNK);
	ck_assert_uint_eq(entries(st->e, LMDBST_DB_BLOBS), 1);
	lmdbst_store_close(st);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lmdb_stage");
	TCase *tc = tcase_create("stage");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_dead_owner_swept);
	tcase_add_test(tc, t_live_owner_kept);
	tcase_add_test(tc, t_commit_and_overquota);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
