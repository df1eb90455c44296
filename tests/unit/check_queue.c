/*
 * check_queue.c -- the core queue's two-phase producing (core/queue.c):
 * a prepared entry is durable but invisible to queue_scan/queue_open,
 * commit activates it, abort and a failed prepare leave nothing, and a
 * scan drops a prepared entry only once its producer is gone (its flock
 * on the message is free), never while the producer lives.  Also the
 * "delivered" recipient state (a success report still owed).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "queue.h"

static char	 state[PATH_MAX];
static char	 qdir[PATH_MAX + 16];
static struct config *cf;

static void
setup(void)
{
	char	 ov[PATH_MAX + 16], err[256];
	char	*ovs[1] = { ov };

	snprintf(state, sizeof(state), "/tmp/check_queue.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	snprintf(ov, sizeof(ov), "state_dir=%s", state);
	cf = config_parse(NULL, ovs, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(config_add_keys(cf, core_conf_keys, "core"), 0);
	if (config_validate(cf, err, sizeof(err)) != 0)
		ck_abort_msg("config: %s", err);
	config_set_current(cf);
	snprintf(qdir, sizeof(qdir), "%s/queue", state);
}

static void
teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
	config_set_current(NULL);
	config_free(cf);
}

/* Files in the queue directory ending in ext (not tmp.*, not .lock). */
static int
count(const char *ext)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 n, e = strlen(ext);
	int		 c = 0;

	if ((d = opendir(qdir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (strncmp(de->d_name, "tmp.", 4) != 0 && n > e &&
		    strcmp(de->d_name + n - e, ext) == 0)
			c++;
	}
	closedir(d);
	return c;
}

static int
scan_count(void *arg, const char *id, int64_t next, uint32_t hold)
{
	(void)id;
	(void)next;
	(void)hold;
	(*(int *)arg)++;
	return 0;
}

static int
scan(void)
{
	int	n = 0;

	ck_assert_int_eq(queue_scan(scan_count, &n), KURIR_OK);
	return n;
}

static struct kurir_queue *
make(void)
{
	struct kurir_queue	*q;
	static const char	 msg[] = "Subject: x\r\n\r\nhello\r\n";

	ck_assert_int_eq(queue_begin("a@b.example", NULL, &q), KURIR_OK);
	ck_assert_int_eq(queue_write(q, msg, sizeof(msg) - 1), KURIR_OK);
	ck_assert_int_eq(queue_add_rcpt(q, "r@remote.example", 0, NULL),
	    KURIR_OK);
	return q;
}

START_TEST(prepare_commit)
{
	struct kurir_queue_entry	*e;
	struct kurir_queue		*q = make();
	char				 id[KURIR_QID_MAX + 1];

	ck_assert_int_eq(queue_prepare(q), KURIR_OK);
	ck_assert_int_eq(count(".prep"), 1);
	ck_assert_int_eq(count(".msg"), 1);
	/* prepared: durable, but no runner sees it; a scan keeps it */
	ck_assert_int_eq(scan(), 0);
	ck_assert_int_eq(count(".prep"), 1);
	ck_assert_int_eq(count(".env"), 0);
	/* a second prepare is a misuse */
	ck_assert_int_eq(queue_prepare(q), KURIR_E_INVALID);
	ck_assert_int_eq(queue_commit(q, id, sizeof(id)), KURIR_OK);
	ck_assert_int_eq(count(".prep"), 0);
	ck_assert_int_eq(count(".env"), 1);
	ck_assert_int_eq(scan(), 1);
	ck_assert_int_eq(queue_open(id, &e), KURIR_OK);
	queue_close(e);
}
END_TEST

START_TEST(prepare_abort)
{
	struct kurir_queue	*q = make();

	ck_assert_int_eq(queue_prepare(q), KURIR_OK);
	queue_abort(q);
	ck_assert_int_eq(count(".prep") + count(".msg") + count(".env"), 0);
	ck_assert_int_eq(scan(), 0);
}
END_TEST

START_TEST(prepare_fails)
{
	struct kurir_queue	*q;

	/* no recipient: the prepare fails, q is still the caller's */
	ck_assert_int_eq(queue_begin("a@b.example", NULL, &q), KURIR_OK);
	ck_assert_int_eq(queue_write(q, "x\r\n", 3), KURIR_OK);
	ck_assert_int_ne(queue_prepare(q), KURIR_OK);
	ck_assert_int_eq(count(".prep") + count(".msg"), 0);
	queue_abort(q);
	ck_assert_int_eq(count(".prep") + count(".msg") + count(".env"), 0);
}
END_TEST

/* A producer in another process holds a prepared entry: a scan leaves
 * it alone until that process dies, then drops it. */
START_TEST(dead_producer)
{
	struct kurir_queue	*q;
	int			 p[2];
	pid_t			 pid;
	char			 c;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		q = make();
		if (queue_prepare(q) != KURIR_OK)
			_exit(1);
		(void)!write(p[1], "p", 1);
		pause();	/* killed while prepared */
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(scan(), 0);
	ck_assert_int_eq(count(".prep"), 1);	/* alive: kept */
	ck_assert_int_eq(count(".msg"), 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(scan(), 0);
	ck_assert_int_eq(count(".prep") + count(".msg") + count(".env"), 0);
}
END_TEST

/* A recovery that died between its two unlinks left an ID.prep alone. */
START_TEST(stray_prep)
{
	char	path[PATH_MAX + 64];
	FILE	*fp;

	(void)scan();	/* creates the directory */
	snprintf(path, sizeof(path), "%s/0123456789ABCDEF.prep", qdir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs("v 1\n", fp);
	fclose(fp);
	ck_assert_int_eq(scan(), 0);
	ck_assert_int_eq(count(".prep"), 0);
}
END_TEST

/* The one-step commit still works and takes no prepared state. */
START_TEST(direct_commit)
{
	struct kurir_queue	*q = make();
	char			 id[KURIR_QID_MAX + 1];

	ck_assert_int_eq(queue_commit(q, id, sizeof(id)), KURIR_OK);
	ck_assert_int_eq(count(".prep"), 0);
	ck_assert_int_eq(scan(), 1);
	ck_assert_int_eq(queue_admin(id, QUEUE_OP_REMOVE), KURIR_OK);
	ck_assert_int_eq(scan(), 0);
}
END_TEST

/* A recipient the producer delivered keeps the entry until the runner
 * marks its success report sent. */
START_TEST(delivered_rcpt)
{
	struct kurir_queue_entry	*e;
	struct kurir_queue_rcpt		 r;
	struct kurir_queue		*q;
	char				 id[KURIR_QID_MAX + 1];

	ck_assert_int_eq(queue_begin("a@b.example", NULL, &q), KURIR_OK);
	ck_assert_int_eq(queue_write(q, "x\r\n", 3), KURIR_OK);
	ck_assert_int_eq(queue_add_delivered(q, "bob@localhost",
	    KURIR_QNOTIFY_SUCCESS, "rfc822;bob@localhost"), KURIR_OK);
	ck_assert_int_eq(queue_prepare(q), KURIR_OK);
	ck_assert_int_eq(queue_commit(q, id, sizeof(id)), KURIR_OK);
	ck_assert_int_eq(queue_open(id, &e), KURIR_OK);
	r.size = sizeof(r);
	ck_assert_int_eq(queue_rcpt(e, 0, &r), KURIR_OK);
	ck_assert_uint_eq(r.state, KURIR_QRCPT_DELIVERED);
	ck_assert_uint_eq(r.notify, KURIR_QNOTIFY_SUCCESS);
	ck_assert_str_eq(r.orcpt, "rfc822;bob@localhost");
	ck_assert_int_eq(queue_save(e, 0), KURIR_OK);
	ck_assert_int_eq(scan(), 1);	/* its report is still owed */
	ck_assert_int_eq(queue_set_rcpt(e, 0, KURIR_QRCPT_SENT, "ok"),
	    KURIR_OK);
	ck_assert_int_eq(queue_save(e, 0), KURIR_OK);
	ck_assert_int_eq(scan(), 0);
	queue_close(e);
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite	*s = suite_create("queue");
	TCase	*tc = tcase_create("two_phase");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, prepare_commit);
	tcase_add_test(tc, prepare_abort);
	tcase_add_test(tc, prepare_fails);
	tcase_add_test(tc, dead_producer);
	tcase_add_test(tc, stray_prep);
	tcase_add_test(tc, direct_commit);
	tcase_add_test(tc, delivered_rcpt);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(queue_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
