/*
 * conformance.c -- the storage conformance suite: identical cases for
 * every storage backend, written against include/kurir/storage.h only.
 *
 * The backend is loaded by name through the core's module loader
 * (conformance_load.c).  Environment:
 *   KURIR_STORAGE     backend module name ("lmdb", "maildir", yours)
 *   KURIR_MODULE_DIR  directory holding NAME.la / NAME.so
 *   KURIR_STATE_DIR   an empty scratch directory (state_dir)
 *   KURIR_CONFORMANCE_LOCAL  set for a backend whose mail lives in the
 *                    memory of one process (memstore): skips the
 *                    "processes" cases and the memory bound of 64 MiB
 *                    appends
 * Each test uses its own user, so tests are independent; Check forks
 * each test, so a crashing backend fails one test, not the run.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kurir/module.h>
#include <kurir/storage.h>

#include "conformance.h"
#include "ev.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED	0
#endif

static const struct kurir_storage_ops *ops;
static const char *backend;

/* ---- helpers ------------------------------------------------------ */

static struct kurir_store *
open_user_q(const char *user, uint64_t qbytes, uint64_t qmsgs)
{
	struct kurir_user_params p;
	struct kurir_store *st = NULL;
	int rc;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = user;
	p.quota_bytes = qbytes;
	p.quota_messages = qmsgs;
	rc = ops->store_open(&p, &st);
	ck_assert_msg(rc == KURIR_OK, "store_open(%s) = %d", user, rc);
	ck_assert_ptr_nonnull(st);
	return st;
}

static struct kurir_store *
open_user(const char *user)
{
	return open_user_q(user, 0, 0);
}

/* Byte i of test message `seed`: deterministic, so content is checked
 * without keeping a copy. */
static unsigned char
pattern(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 2654435761u + seed * 40503u;

	return (unsigned char)('a' + (x >> 7) % 26);
}

static void
fill(uint32_t seed, uint64_t off, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(seed, off + i);
	/* Line ends now and then, like mail. */
	for (i = 0; i < len; i++)
		if ((off + i) % 78 == 77)
			buf[i] = '\n';
}

/* Append size bytes of pattern `seed`, written in pieces of `piece`. */
static int
append_pat(struct kurir_store *st, const char *mbox, uint32_t seed,
    uint64_t size, size_t piece, uint32_t flags, const char *kw,
    uint32_t *uidv_r, uint32_t *uid_r)
{
	struct kurir_append *ap = NULL;
	unsigned char *buf;
	uint64_t off;
	size_t n;
	int rc;

	if ((rc = ops->append_begin(st, mbox, flags, kw, 1700000000,
	    &ap)) != KURIR_OK)
		return rc;
	buf = malloc(piece);
	ck_assert_ptr_nonnull(buf);
	for (off = 0; off < size; off += n) {
		n = size - off < piece ? (size_t)(size - off) : piece;
		fill(seed, off, buf, n);
		if ((rc = ops->append_write(ap, buf, n)) != KURIR_OK) {
			ops->append_abort(ap);
			free(buf);
			return rc;
		}
	}
	free(buf);
	return ops->append_commit(ap, uidv_r, uid_r);
}

static uint32_t
append_ok(struct kurir_store *st, const char *mbox, uint32_t seed,
    uint64_t size)
{
	uint32_t uidv = 0, uid = 0;
	int rc;

	rc = append_pat(st, mbox, seed, size, 4096, 0, NULL, &uidv, &uid);
	ck_assert_msg(rc == KURIR_OK, "append to %s: %d", mbox, rc);
	ck_assert_uint_ne(uid, 0);
	ck_assert_uint_ne(uidv, 0);
	return uid;
}

/* Read a whole message in `piece` reads and compare with the pattern. */
static void
check_msg(struct kurir_mailbox *mb, uint32_t uid, uint32_t seed,
    uint64_t size, size_t piece)
{
	unsigned char *buf, *want;
	uint64_t off = 0;
	size_t n;
	int rc;

	buf = malloc(piece);
	want = malloc(piece);
	ck_assert(buf != NULL && want != NULL);
	for (;;) {
		rc = ops->msg_read(mb, uid, off, buf, piece, &n);
		ck_assert_msg(rc == KURIR_OK, "msg_read uid %u at %llu: %d",
		    uid, (unsigned long long)off, rc);
		ck_assert_uint_le(n, piece);
		fill(seed, off, want, n);
		ck_assert_msg(memcmp(buf, want, n) == 0,
		    "uid %u: bytes differ near offset %llu", uid,
		    (unsigned long long)off);
		off += n;
		if (n < piece)
			break;
	}
	ck_assert_uint_eq(off, size);
	free(buf);
	free(want);
}

static struct kurir_mailbox *
open_mbox(struct kurir_store *st, const char *name)
{
	struct kurir_mailbox *mb = NULL;
	int rc;

	rc = ops->mailbox_open(st, name, &mb);
	ck_assert_msg(rc == KURIR_OK, "mailbox_open(%s) = %d", name, rc);
	return mb;
}

static struct kurir_mailbox_status
status_of(struct kurir_store *st, const char *name)
{
	struct kurir_mailbox_status s;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = ops->mailbox_status(st, name, &s);
	ck_assert_msg(rc == KURIR_OK, "mailbox_status(%s) = %d", name, rc);
	return s;
}

/* Collected msg_list / changes_since output. */
#define MAXM	512
struct seen {
	size_t		 n;
	struct kurir_msg m[MAXM];
	char		 kw[MAXM][256];
	size_t		 nexp;
	uint32_t	 exp[MAXM];
};

static int
seen_msg(void *arg, const struct kurir_msg *m)
{
	struct seen *s = arg;

	ck_assert_uint_lt(s->n, MAXM);
	s->m[s->n] = *m;
	snprintf(s->kw[s->n], sizeof(s->kw[0]), "%s",
	    m->keywords != NULL ? m->keywords : "");
	s->m[s->n].keywords = s->kw[s->n];
	s->n++;
	return 0;
}

static int
seen_uid(void *arg, uint32_t uid)
{
	struct seen *s = arg;

	ck_assert_uint_lt(s->nexp, MAXM);
	s->exp[s->nexp++] = uid;
	return 0;
}

static struct seen *
list_all(struct kurir_mailbox *mb)
{
	static struct seen s;
	uint32_t prev = 0;
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = ops->msg_list(mb, 1, UINT32_MAX, seen_msg, &s);
	ck_assert_int_eq(rc, KURIR_OK);
	for (i = 0; i < s.n; i++) {
		ck_assert_msg(s.m[i].uid > prev, "msg_list not ascending");
		prev = s.m[i].uid;
	}
	return &s;
}

static const struct kurir_msg *
find_msg(struct seen *s, uint32_t uid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->m[i].uid == uid)
			return &s->m[i];
	ck_abort_msg("uid %u not listed", uid);
	return NULL;
}

/* Does the space separated list have word w (case-insensitively)? */
static int
has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (strncasecmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	return 0;
}

static int
count_words(const char *list)
{
	int n = 0;
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		n++;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	return n;
}

struct mlist {
	size_t	 n;
	char	 name[64][128];
	uint32_t attrs[64];
};

static int
mlist_cb(void *arg, const char *name, uint32_t attrs)
{
	struct mlist *l = arg;

	ck_assert_uint_lt(l->n, 64);
	snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
	l->attrs[l->n++] = attrs;
	return 0;
}

static int
mlist_find(const struct mlist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->name[i], name) == 0)
			return (int)i;
	return -1;
}

static struct mlist *
list_mailboxes(struct kurir_store *st)
{
	static struct mlist l;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(ops->mailbox_list(st, mlist_cb, &l), KURIR_OK);
	return &l;
}

static void
read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

static void
wait_child_ok(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child failed (status %d)", status);
}

/* Peak resident memory of this process in KiB (VmHWM), after resetting
 * the peak when asked: shows whether an append held a message whole. */
static long
peak_rss_kib(int reset)
{
	char line[256];
	long kib = -1;
	FILE *f;

	if (reset && (f = fopen("/proc/self/clear_refs", "w")) != NULL) {
		fputs("5", f);
		fclose(f);
	}
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- store and mailboxes ------------------------------------------ */

START_TEST(t_store_open)
{
	struct kurir_store *st = open_user("open@conf.test");
	struct kurir_mailbox_status s = status_of(st, "INBOX");
	struct mlist *l;
	uint64_t b = 1, m = 1;

	ck_assert_uint_eq(s.messages, 0);
	ck_assert_uint_eq(s.unseen, 0);
	ck_assert_uint_ne(s.uidvalidity, 0);
	ck_assert_uint_ge(s.uidnext, 1);
	ck_assert_uint_eq(s.bytes, 0);
	ck_assert_int_eq(ops->quota_usage(st, &b, &m), KURIR_OK);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(m, 0);
	l = list_mailboxes(st);
	ck_assert_int_ge(mlist_find(l, "INBOX"), 0);
	ops->store_close(st);
	/* Reopening finds the same INBOX. */
	st = open_user("open@conf.test");
	ck_assert_uint_eq(status_of(st, "INBOX").uidvalidity, s.uidvalidity);
	ops->store_close(st);
}
END_TEST

START_TEST(t_empty_mailbox)
{
	struct kurir_store *st = open_user("empty@conf.test");
	struct kurir_mailbox *mb = open_mbox(st, "INBOX");
	struct kurir_uid_range all = { 1, UINT32_MAX };
	struct seen s;
	char buf[16];
	size_t n = 99;

	ck_assert_uint_eq(list_all(mb)->n, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ops->changes_since(mb, 0, seen_msg, seen_uid, &s),
	    KURIR_OK);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(s.nexp, 0);
	ck_assert_int_eq(ops->msg_read(mb, 1, 0, buf, sizeof(buf), &n),
	    KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->msg_flags(mb, &all, 1, KURIR_FLAGS_ADD,
	    KURIR_FLAG_SEEN, NULL, 0, seen_uid, &s), KURIR_OK);
	ck_assert_uint_eq(s.nexp, 0);
	ck_assert_int_eq(ops->msg_expunge(mb, &all, 1), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_sync(mb, NULL), KURIR_OK);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_mailbox_create_list)
{
	struct kurir_store *st = open_user("create@conf.test");
	const char *names[] = { "Work/Projects/2024", "My Folder",
	    "Été 2024/Café au lait", "Sent", "日本語" };
	struct mlist *l;
	size_t i;
	int a, b;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(ops->mailbox_create(st, names[i],
		    strcmp(names[i], "Sent") == 0 ? KURIR_MBX_SENT : 0),
		    KURIR_OK);
	ck_assert_int_eq(ops->mailbox_create(st, "My Folder", 0),
	    KURIR_E_EXISTS);
	ck_assert_int_eq(ops->mailbox_create(st, "Work", 0), KURIR_E_EXISTS);
	l = list_mailboxes(st);
	for (i = 0; i < 5; i++)
		ck_assert_msg(mlist_find(l, names[i]) >= 0, "%s not listed",
		    names[i]);
	/* Missing parents were made, and come before their children. */
	a = mlist_find(l, "Work");
	b = mlist_find(l, "Work/Projects");
	ck_assert_int_ge(a, 0);
	ck_assert_int_gt(b, a);
	ck_assert_int_gt(mlist_find(l, "Work/Projects/2024"), b);
	ck_assert_int_lt(mlist_find(l, "Été 2024"),
	    mlist_find(l, "Été 2024/Café au lait"));
	ck_assert(l->attrs[a] & KURIR_MBX_HASCHILDREN);
	ck_assert(l->attrs[mlist_find(l, "My Folder")] &
	    KURIR_MBX_HASNOCHILDREN);
	ck_assert(l->attrs[mlist_find(l, "Sent")] & KURIR_MBX_SENT);
	ck_assert(!(l->attrs[mlist_find(l, "My Folder")] & KURIR_MBX_SENT));
	/* The parents are real mailboxes. */
	ck_assert_uint_eq(status_of(st, "Work/Projects").messages, 0);
	/* Mail in names with spaces and non-ASCII. */
	{
		struct kurir_mailbox *mb;
		uint32_t uid;

		(void)append_ok(st, "Été 2024/Café au lait", 7, 1000);
		uid = append_ok(st, "My Folder", 8, 1001);
		mb = open_mbox(st, "Été 2024/Café au lait");
		ck_assert_uint_eq(list_all(mb)->n, 1);
		check_msg(mb, list_all(mb)->m[0].uid, 7, 1000, 333);
		ops->mailbox_close(mb);
		mb = open_mbox(st, "My Folder");
		check_msg(mb, uid, 8, 1001, 4096);
		ops->mailbox_close(mb);
	}
	ops->store_close(st);
}
END_TEST

START_TEST(t_bad_names)
{
	struct kurir_store *st = open_user("badnames@conf.test");
	const char *bad[] = { "", "a//b", "/a", "a/", "bad\x01name",
	    "\xff\xfe", "x\xc3" };
	struct kurir_mailbox *mb = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ops->mailbox_create(st, bad[i], 0) != KURIR_OK,
		    "created bad name %zu", i);
		ck_assert(ops->mailbox_open(st, bad[i], &mb) != KURIR_OK);
	}
	ck_assert_int_eq(ops->mailbox_create(st, "", 0), KURIR_E_INVALID);
	ck_assert_int_eq(ops->mailbox_open(st, "Nope", &mb),
	    KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->mailbox_delete(st, "Nope"), KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->mailbox_rename(st, "Nope", "Other"),
	    KURIR_E_NOTFOUND);
	ck_assert(ops->mailbox_create(st, "Bad special", 0x3) != KURIR_OK);
	mb = open_mbox(st, "INBOX");
	{
		struct kurir_uid_range r = { 1, 1 };

		ck_assert_int_eq(ops->msg_flags(mb, &r, 1, 99, 0, NULL, 0,
		    NULL, NULL), KURIR_E_INVALID);
	}
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_inbox_case)
{
	struct kurir_store *st = open_user("inbox@conf.test");
	struct kurir_mailbox *mb;
	uint32_t uid;

	uid = append_ok(st, "inbox", 1, 100);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 1);
	ck_assert_uint_eq(status_of(st, "InBoX").messages, 1);
	mb = open_mbox(st, "iNbOx");
	check_msg(mb, uid, 1, 100, 64);
	ops->mailbox_close(mb);
	ck_assert_int_eq(ops->mailbox_create(st, "Inbox", 0), KURIR_E_EXISTS);
	ck_assert_int_eq(ops->mailbox_delete(st, "INBOX"), KURIR_E_INVALID);
	ck_assert_int_eq(ops->mailbox_delete(st, "inbox"), KURIR_E_INVALID);
	ops->store_close(st);
}
END_TEST

START_TEST(t_mailbox_delete)
{
	struct kurir_store *st = open_user("delete@conf.test");
	struct kurir_mailbox_status s;
	struct mlist *l;
	uint32_t v1;

	ck_assert_int_eq(ops->mailbox_create(st, "Leaf", 0), KURIR_OK);
	append_ok(st, "Leaf", 2, 500);
	v1 = status_of(st, "Leaf").uidvalidity;
	ck_assert_int_eq(ops->mailbox_delete(st, "Leaf"), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_status(st, "Leaf", &s),
	    KURIR_E_NOTFOUND);
	ck_assert_int_lt(mlist_find(list_mailboxes(st), "Leaf"), 0);
	ck_assert_int_eq(ops->mailbox_delete(st, "Leaf"), KURIR_E_NOTFOUND);
	/* Re-created: a new UIDVALIDITY, no old mail. */
	ck_assert_int_eq(ops->mailbox_create(st, "Leaf", 0), KURIR_OK);
	s = status_of(st, "Leaf");
	ck_assert_uint_ne(s.uidvalidity, v1);
	ck_assert_uint_eq(s.messages, 0);
	/* A parent with children stays as \Noselect. */
	ck_assert_int_eq(ops->mailbox_create(st, "Par/Kid", 0), KURIR_OK);
	append_ok(st, "Par", 3, 10);
	ck_assert_int_eq(ops->mailbox_delete(st, "Par"), KURIR_OK);
	l = list_mailboxes(st);
	ck_assert_int_ge(mlist_find(l, "Par"), 0);
	ck_assert(l->attrs[mlist_find(l, "Par")] & KURIR_MBX_NOSELECT);
	ck_assert_int_ge(mlist_find(l, "Par/Kid"), 0);
	ck_assert_uint_eq(status_of(st, "Par/Kid").messages, 0);
	ck_assert_int_eq(ops->mailbox_delete(st, "Par/Kid"), KURIR_OK);
	/* Usage counts no deleted mail. */
	{
		uint64_t b, m;

		ck_assert_int_eq(ops->quota_usage(st, &b, &m), KURIR_OK);
		ck_assert_uint_eq(m, 0);
		ck_assert_uint_eq(b, 0);
	}
	ops->store_close(st);
}
END_TEST

START_TEST(t_mailbox_rename)
{
	struct kurir_store *st = open_user("rename@conf.test");
	struct kurir_mailbox *mb;
	struct mlist *l;
	uint32_t uid, uid2;

	ck_assert_int_eq(ops->mailbox_create(st, "A/B", 0), KURIR_OK);
	uid = append_ok(st, "A/B", 4, 777);
	ck_assert_int_eq(ops->mailbox_rename(st, "A", "C é"), KURIR_OK);
	l = list_mailboxes(st);
	ck_assert_int_lt(mlist_find(l, "A"), 0);
	ck_assert_int_lt(mlist_find(l, "A/B"), 0);
	ck_assert_int_ge(mlist_find(l, "C é"), 0);
	ck_assert_int_ge(mlist_find(l, "C é/B"), 0);
	mb = open_mbox(st, "C é/B");
	check_msg(mb, uid, 4, 777, 100);
	ops->mailbox_close(mb);
	ck_assert_int_eq(ops->mailbox_create(st, "D", 0), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_rename(st, "D", "C é"),
	    KURIR_E_EXISTS);
	ck_assert_int_eq(ops->mailbox_rename(st, "Missing", "E"),
	    KURIR_E_NOTFOUND);
	/* Renaming INBOX moves its mail; INBOX stays, empty. */
	uid2 = append_ok(st, "INBOX", 5, 321);
	ck_assert_int_eq(ops->mailbox_rename(st, "INBOX", "Old Inbox"),
	    KURIR_OK);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 0);
	ck_assert_uint_eq(status_of(st, "Old Inbox").messages, 1);
	mb = open_mbox(st, "Old Inbox");
	ck_assert_uint_eq(list_all(mb)->n, 1);
	check_msg(mb, list_all(mb)->m[0].uid, 5, 321, 1000);
	ops->mailbox_close(mb);
	(void)uid2;
	ops->store_close(st);
}
END_TEST

START_TEST(t_subscribe)
{
	struct kurir_store *st = open_user("subs@conf.test");
	struct mlist *l;

	ck_assert_int_eq(ops->mailbox_create(st, "Lists/kurir", 0), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_subscribe(st, "Lists/kurir", 1),
	    KURIR_OK);
	l = list_mailboxes(st);
	ck_assert(l->attrs[mlist_find(l, "Lists/kurir")] &
	    KURIR_MBX_SUBSCRIBED);
	ck_assert(!(l->attrs[mlist_find(l, "Lists")] & KURIR_MBX_SUBSCRIBED));
	ck_assert_int_eq(ops->mailbox_subscribe(st, "Lists/kurir", 0),
	    KURIR_OK);
	l = list_mailboxes(st);
	ck_assert(!(l->attrs[mlist_find(l, "Lists/kurir")] &
	    KURIR_MBX_SUBSCRIBED));
	ops->store_close(st);
}
END_TEST

/* ---- messages ----------------------------------------------------- */

START_TEST(t_append_read)
{
	struct kurir_store *st = open_user("append@conf.test");
	struct kurir_mailbox_status s;
	struct kurir_mailbox *mb;
	const struct kurir_msg *m;
	struct seen *l;
	uint32_t uidv, uid;
	unsigned char buf[300], want[300];
	size_t n;
	const uint64_t size = 200003;	/* several 64 KiB chunks, odd end */

	ck_assert_int_eq(append_pat(st, "INBOX", 42, size, 1237,
	    KURIR_FLAG_FLAGGED, "$Work todo", &uidv, &uid), KURIR_OK);
	s = status_of(st, "INBOX");
	ck_assert_uint_eq(uidv, s.uidvalidity);
	ck_assert_uint_eq(s.messages, 1);
	ck_assert_uint_eq(s.unseen, 1);
	ck_assert_uint_eq(s.bytes, size);
	ck_assert_uint_gt(s.uidnext, uid);
	mb = open_mbox(st, "INBOX");
	l = list_all(mb);
	ck_assert_uint_eq(l->n, 1);
	m = &l->m[0];
	ck_assert_uint_eq(m->uid, uid);
	ck_assert_uint_eq(m->size, size);
	ck_assert_uint_eq(m->flags, KURIR_FLAG_FLAGGED);
	ck_assert_int_eq(m->internal_date, 1700000000);
	ck_assert_uint_ne(m->modseq, 0);
	ck_assert_uint_le(m->modseq, s.highestmodseq);
	ck_assert(has_word(m->keywords, "$Work"));
	ck_assert(has_word(m->keywords, "todo"));
	ck_assert_int_eq(count_words(m->keywords), 2);
	check_msg(mb, uid, 42, size, 65536);
	check_msg(mb, uid, 42, size, 1000);
	/* Ranges across a chunk boundary and at the end. */
	ck_assert_int_eq(ops->msg_read(mb, uid, 65436, buf, 300, &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 300);
	fill(42, 65436, want, 300);
	ck_assert(memcmp(buf, want, 300) == 0);
	ck_assert_int_eq(ops->msg_read(mb, uid, size - 10, buf, 300, &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 10);
	fill(42, size - 10, want, 10);
	ck_assert(memcmp(buf, want, 10) == 0);
	ck_assert_int_eq(ops->msg_read(mb, uid, size + 5, buf, 300, &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ops->msg_read(mb, uid + 1, 0, buf, 300, &n),
	    KURIR_E_NOTFOUND);
	ops->mailbox_close(mb);
	/* Appending to a missing mailbox says so. */
	ck_assert_int_eq(append_pat(st, "Nowhere", 1, 10, 10, 0, NULL, &uidv,
	    &uid), KURIR_E_NOTFOUND);
	ops->store_close(st);
}
END_TEST

START_TEST(t_zero_byte)
{
	struct kurir_store *st = open_user("zero@conf.test");
	struct kurir_mailbox *mb;
	struct kurir_append *ap;
	uint32_t uidv, uid;
	char buf[8];
	size_t n = 5;

	ck_assert_int_eq(ops->append_begin(st, "INBOX", 0, NULL, 0, &ap),
	    KURIR_OK);
	ck_assert_int_eq(ops->append_commit(ap, &uidv, &uid), KURIR_OK);
	mb = open_mbox(st, "INBOX");
	ck_assert_uint_eq(list_all(mb)->n, 1);
	ck_assert_uint_eq(list_all(mb)->m[0].size, 0);
	ck_assert_int_eq(ops->msg_read(mb, uid, 0, buf, sizeof(buf), &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 0);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_big_64m)
{
	struct kurir_store *st = open_user("big@conf.test");
	struct kurir_mailbox *mb;
	uint32_t uidv, uid;
	const uint64_t size = 64ull << 20;
	unsigned char buf[1000], want[1000];
	size_t n;

	long before, after;

	before = peak_rss_kib(1);
	ck_assert_int_eq(append_pat(st, "INBOX", 64, size, 1 << 20, 0, NULL,
	    &uidv, &uid), KURIR_OK);
	after = peak_rss_kib(0);
	/* Streamed: the peak grew by far less than the message (the test's
	 * own 1 MiB write buffer included).  Not for an in-memory example
	 * backend (KURIR_CONFORMANCE_LOCAL), nor under ASan, whose
	 * quarantine keeps freed memory resident. */
	if (before > 0 && after > 0 && !SANITIZED &&
	    getenv("KURIR_CONFORMANCE_LOCAL") == NULL)
		ck_assert_msg(after - before < 16 * 1024,
		    "64 MiB append raised peak RSS by %ld KiB",
		    after - before);
	mb = open_mbox(st, "INBOX");
	ck_assert_uint_eq(list_all(mb)->m[0].size, size);
	check_msg(mb, uid, 64, size, 1 << 20);
	ck_assert_int_eq(ops->msg_read(mb, uid, 33554000, buf, 1000, &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 1000);
	fill(64, 33554000, want, 1000);
	ck_assert(memcmp(buf, want, 1000) == 0);
	/* And it goes away again. */
	{
		struct kurir_uid_range r = { uid, uid };
		uint64_t b, m;

		ck_assert_int_eq(ops->msg_expunge(mb, &r, 1), KURIR_OK);
		ck_assert_int_eq(ops->quota_usage(st, &b, &m), KURIR_OK);
		ck_assert_uint_eq(b, 0);
	}
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_append_abort)
{
	struct kurir_store *st = open_user("abort@conf.test");
	struct kurir_mailbox *mb;
	struct kurir_append *ap;
	char junk[5000];

	memset(junk, 'x', sizeof(junk));
	ck_assert_int_eq(ops->append_begin(st, "INBOX", 0, NULL, 0, &ap),
	    KURIR_OK);
	ck_assert_int_eq(ops->append_write(ap, junk, sizeof(junk)), KURIR_OK);
	ops->append_abort(ap);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 0);
	mb = open_mbox(st, "INBOX");
	ck_assert_uint_eq(list_all(mb)->n, 0);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_uid_not_reused)
{
	struct kurir_store *st = open_user("uids@conf.test");
	struct kurir_mailbox *mb;
	struct kurir_uid_range all = { 1, UINT32_MAX };
	uint32_t u1, u2, u3, u4, u5, v;

	v = status_of(st, "INBOX").uidvalidity;
	u1 = append_ok(st, "INBOX", 1, 10);
	u2 = append_ok(st, "INBOX", 2, 10);
	u3 = append_ok(st, "INBOX", 3, 10);
	ck_assert(u1 < u2 && u2 < u3);
	mb = open_mbox(st, "INBOX");
	ck_assert_int_eq(ops->msg_expunge(mb, &all, 1), KURIR_OK);
	ops->mailbox_close(mb);
	u4 = append_ok(st, "INBOX", 4, 10);
	ck_assert_uint_gt(u4, u3);
	ops->store_close(st);
	/* After reopening too. */
	st = open_user("uids@conf.test");
	mb = open_mbox(st, "INBOX");
	ck_assert_int_eq(ops->msg_expunge(mb, &all, 1), KURIR_OK);
	ops->mailbox_close(mb);
	ops->store_close(st);
	st = open_user("uids@conf.test");
	u5 = append_ok(st, "INBOX", 5, 10);
	ck_assert_uint_gt(u5, u4);
	ck_assert_uint_eq(status_of(st, "INBOX").uidvalidity, v);
	ck_assert_uint_gt(status_of(st, "INBOX").uidnext, u5);
	ops->store_close(st);
}
END_TEST

START_TEST(t_flags)
{
	struct kurir_store *st = open_user("flags@conf.test");
	struct kurir_mailbox *mb;
	struct kurir_mailbox_status s;
	struct kurir_uid_range r1 = { 1, 1 }, all = { 1, UINT32_MAX };
	const struct kurir_msg *m1, *m2;
	struct seen failed, *l;
	uint64_t ms1, ms2, hms;
	uint32_t u1, u2;

	u1 = append_ok(st, "INBOX", 1, 10);
	u2 = append_ok(st, "INBOX", 2, 10);
	r1.first = r1.last = u1;
	mb = open_mbox(st, "INBOX");
	ck_assert_uint_eq(status_of(st, "INBOX").unseen, 2);
	/* add, remove, set; keywords too */
	ck_assert_int_eq(ops->msg_flags(mb, &r1, 1, KURIR_FLAGS_ADD,
	    KURIR_FLAG_SEEN | KURIR_FLAG_ANSWERED, "$Label1 Junk", 0, NULL,
	    NULL), KURIR_OK);
	ck_assert_uint_eq(status_of(st, "INBOX").unseen, 1);
	l = list_all(mb);
	m1 = find_msg(l, u1);
	ck_assert_uint_eq(m1->flags, KURIR_FLAG_SEEN | KURIR_FLAG_ANSWERED);
	ck_assert(has_word(m1->keywords, "$Label1"));
	ck_assert(has_word(m1->keywords, "Junk"));
	ck_assert_int_eq(ops->msg_flags(mb, &r1, 1, KURIR_FLAGS_ADD, 0,
	    "junk $Label2", 0, NULL, NULL), KURIR_OK);
	l = list_all(mb);
	m1 = find_msg(l, u1);
	ck_assert_int_eq(count_words(m1->keywords), 3);
	ck_assert_int_eq(ops->msg_flags(mb, &r1, 1, KURIR_FLAGS_REMOVE,
	    KURIR_FLAG_ANSWERED, "$Label1", 0, NULL, NULL), KURIR_OK);
	l = list_all(mb);
	m1 = find_msg(l, u1);
	ck_assert_uint_eq(m1->flags, KURIR_FLAG_SEEN);
	ck_assert(!has_word(m1->keywords, "$Label1"));
	ck_assert(has_word(m1->keywords, "$Label2"));
	ck_assert_int_eq(ops->msg_flags(mb, &all, 1, KURIR_FLAGS_SET,
	    KURIR_FLAG_DRAFT | KURIR_FLAG_DELETED, "", 0, NULL, NULL),
	    KURIR_OK);
	l = list_all(mb);
	ck_assert_uint_eq(find_msg(l, u1)->flags,
	    KURIR_FLAG_DRAFT | KURIR_FLAG_DELETED);
	ck_assert_uint_eq(find_msg(l, u2)->flags,
	    KURIR_FLAG_DRAFT | KURIR_FLAG_DELETED);
	ck_assert_int_eq(count_words(find_msg(l, u1)->keywords), 0);
	ck_assert_uint_eq(status_of(st, "INBOX").unseen, 2);
	/* UNCHANGEDSINCE (RFC 7162): touch u2 so it is newer than u1. */
	{
		struct kurir_uid_range r2 = { u2, u2 };

		ck_assert_int_eq(ops->msg_flags(mb, &r2, 1, KURIR_FLAGS_ADD,
		    KURIR_FLAG_FLAGGED, NULL, 0, NULL, NULL), KURIR_OK);
	}
	l = list_all(mb);
	ms1 = find_msg(l, u1)->modseq;
	ms2 = find_msg(l, u2)->modseq;
	ck_assert_uint_gt(ms2, ms1);
	hms = status_of(st, "INBOX").highestmodseq;
	ck_assert_uint_ge(hms, ms2);
	memset(&failed, 0, sizeof(failed));
	ck_assert_int_eq(ops->msg_flags(mb, &all, 1, KURIR_FLAGS_ADD,
	    KURIR_FLAG_SEEN, NULL, ms1, seen_uid, &failed), KURIR_OK);
	ck_assert_uint_eq(failed.nexp, 1);
	ck_assert_uint_eq(failed.exp[0], u2);
	l = list_all(mb);
	m1 = find_msg(l, u1);
	m2 = find_msg(l, u2);
	ck_assert(m1->flags & KURIR_FLAG_SEEN);
	ck_assert(!(m2->flags & KURIR_FLAG_SEEN));
	ck_assert_uint_eq(m2->modseq, ms2);
	ck_assert_uint_gt(m1->modseq, hms);
	s = status_of(st, "INBOX");
	ck_assert_uint_eq(s.highestmodseq, m1->modseq);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_uint_eq(s.highestmodseq, m1->modseq);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_expunge_changes)
{
	struct kurir_store *st = open_user("changes@conf.test");
	struct kurir_mailbox *mb;
	struct kurir_uid_range ex[2], r5;
	uint32_t u[5];
	uint64_t hms;
	struct seen s;
	char buf[4];
	size_t i, n;

	for (i = 0; i < 5; i++)
		u[i] = append_ok(st, "INBOX", (uint32_t)i, 100 + i);
	mb = open_mbox(st, "INBOX");
	hms = status_of(st, "INBOX").highestmodseq;
	ex[0].first = ex[0].last = u[3];	/* unordered set */
	ex[1].first = ex[1].last = u[1];
	ck_assert_int_eq(ops->msg_expunge(mb, ex, 2), KURIR_OK);
	/* An expunge alone raises HIGHESTMODSEQ (RFC 7162 3.2.10). */
	ck_assert_uint_gt(status_of(st, "INBOX").highestmodseq, hms);
	r5.first = r5.last = u[4];
	ck_assert_int_eq(ops->msg_flags(mb, &r5, 1, KURIR_FLAGS_ADD,
	    KURIR_FLAG_SEEN, NULL, 0, NULL, NULL), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_sync(mb, NULL), KURIR_OK);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ops->changes_since(mb, hms, seen_msg, seen_uid, &s),
	    KURIR_OK);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.m[0].uid, u[4]);
	ck_assert_uint_eq(s.nexp, 2);
	ck_assert(s.exp[0] == u[1] || s.exp[1] == u[1]);
	ck_assert(s.exp[0] == u[3] || s.exp[1] == u[3]);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ops->changes_since(mb, 0, seen_msg, NULL, &s),
	    KURIR_OK);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(ops->msg_read(mb, u[1], 0, buf, 4, &n),
	    KURIR_E_NOTFOUND);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 3);
	ck_assert_uint_eq(status_of(st, "INBOX").bytes, 100 + 102 + 104);
	/* Still true after reopening. */
	ops->mailbox_close(mb);
	ops->store_close(st);
	st = open_user("changes@conf.test");
	mb = open_mbox(st, "INBOX");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ops->changes_since(mb, hms, NULL, seen_uid, &s),
	    KURIR_OK);
	ck_assert_uint_eq(s.nexp, 2);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

struct map {
	size_t	 n;
	uint32_t src[16], dst[16];
};

static int
map_cb(void *arg, uint32_t src, uint32_t dst)
{
	struct map *m = arg;

	ck_assert_uint_lt(m->n, 16);
	m->src[m->n] = src;
	m->dst[m->n++] = dst;
	return 0;
}

START_TEST(t_copy_move)
{
	struct kurir_store *st = open_user("copy@conf.test");
	struct kurir_mailbox *mb, *dm;
	struct kurir_uid_range set[2];
	struct map map;
	struct seen *l, s;
	uint32_t u[3], dv = 0;
	uint64_t hms;
	size_t i;

	for (i = 0; i < 3; i++) {
		uint32_t uidv;

		ck_assert_int_eq(append_pat(st, "INBOX", 10 + (uint32_t)i,
		    3000 + i, 999, KURIR_FLAG_FLAGGED, "$Keep", &uidv, &u[i]),
		    KURIR_OK);
	}
	ck_assert_int_eq(ops->mailbox_create(st, "Dest", 0), KURIR_OK);
	mb = open_mbox(st, "INBOX");
	set[0].first = set[0].last = u[2];
	set[1].first = set[1].last = u[0];
	memset(&map, 0, sizeof(map));
	ck_assert_int_eq(ops->msg_copy(mb, set, 2, "Dest", 0, &dv, map_cb,
	    &map), KURIR_OK);
	ck_assert_uint_eq(dv, status_of(st, "Dest").uidvalidity);
	ck_assert_uint_eq(map.n, 2);
	ck_assert_uint_eq(map.src[0], u[0]);	/* ascending */
	ck_assert_uint_eq(map.src[1], u[2]);
	ck_assert_uint_lt(map.dst[0], map.dst[1]);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 3);
	dm = open_mbox(st, "Dest");
	l = list_all(dm);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_uint_eq(find_msg(l, map.dst[0])->flags, KURIR_FLAG_FLAGGED);
	ck_assert(has_word(find_msg(l, map.dst[0])->keywords, "$Keep"));
	ck_assert_uint_eq(find_msg(l, map.dst[1])->size, 3002);
	check_msg(dm, map.dst[0], 10, 3000, 512);
	check_msg(dm, map.dst[1], 12, 3002, 4096);
	/* Move: gone from the source (an expunge there), present in Dest. */
	hms = status_of(st, "INBOX").highestmodseq;
	set[0].first = set[0].last = u[1];
	memset(&map, 0, sizeof(map));
	ck_assert_int_eq(ops->msg_copy(mb, set, 1, "Dest", 1, &dv, map_cb,
	    &map), KURIR_OK);
	ck_assert_uint_eq(map.n, 1);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 2);
	ck_assert_uint_eq(status_of(st, "Dest").messages, 3);
	ck_assert_int_eq(ops->mailbox_sync(dm, NULL), KURIR_OK);
	check_msg(dm, map.dst[0], 11, 3001, 4096);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ops->changes_since(mb, hms, NULL, seen_uid, &s),
	    KURIR_OK);
	ck_assert_uint_eq(s.nexp, 1);
	ck_assert_uint_eq(s.exp[0], u[1]);
	/* The source's bytes still read after the copy's source went. */
	set[0].first = u[0];
	set[0].last = u[2];
	ck_assert_int_eq(ops->msg_expunge(mb, set, 1), KURIR_OK);
	check_msg(dm, list_all(dm)->m[0].uid, 10, 3000, 4096);
	ck_assert_int_eq(ops->msg_copy(mb, set, 1, "No such", 0, &dv, NULL,
	    NULL), KURIR_E_NOTFOUND);
	/* COPY 1:* into the mailbox itself copies each message once. */
	set[0].first = 1;
	set[0].last = UINT32_MAX;
	memset(&map, 0, sizeof(map));
	ck_assert_int_eq(ops->msg_copy(dm, set, 1, "Dest", 0, &dv, map_cb,
	    &map), KURIR_OK);
	ck_assert_uint_eq(map.n, 3);
	ck_assert_uint_eq(status_of(st, "Dest").messages, 6);
	ops->mailbox_close(dm);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

START_TEST(t_cache)
{
	struct kurir_store *st = open_user("cache@conf.test");
	struct kurir_mailbox *mb;
	struct kurir_uid_range r;
	char buf[64];
	size_t len = 0;
	uint32_t uid;

	uid = append_ok(st, "INBOX", 1, 50);
	mb = open_mbox(st, "INBOX");
	ck_assert_int_eq(ops->cache_get(mb, uid, buf, sizeof(buf), &len),
	    KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->cache_set(mb, uid, "ENVELOPE(...)", 13),
	    KURIR_OK);
	ck_assert_int_eq(ops->cache_get(mb, uid, buf, 5, &len),
	    KURIR_E_TOOBIG);
	ck_assert_uint_eq(len, 13);
	ck_assert_int_eq(ops->cache_get(mb, uid, buf, sizeof(buf), &len),
	    KURIR_OK);
	ck_assert_uint_eq(len, 13);
	ck_assert(memcmp(buf, "ENVELOPE(...)", 13) == 0);
	ck_assert_int_eq(ops->cache_set(mb, uid, "v2", 2), KURIR_OK);
	ck_assert_int_eq(ops->cache_get(mb, uid, buf, sizeof(buf), &len),
	    KURIR_OK);
	ck_assert_uint_eq(len, 2);
	/* Kept after the mailbox is closed and opened again. */
	ops->mailbox_close(mb);
	mb = open_mbox(st, "INBOX");
	ck_assert_int_eq(ops->cache_get(mb, uid, buf, sizeof(buf), &len),
	    KURIR_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert(memcmp(buf, "v2", 2) == 0);
	r.first = r.last = uid;
	ck_assert_int_eq(ops->msg_expunge(mb, &r, 1), KURIR_OK);
	ck_assert_int_eq(ops->cache_get(mb, uid, buf, sizeof(buf), &len),
	    KURIR_E_NOTFOUND);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* ---- quota and delivery ------------------------------------------- */

START_TEST(t_quota)
{
	struct kurir_store *st;
	struct kurir_mailbox *mb;
	struct kurir_uid_range all = { 1, UINT32_MAX };
	uint32_t uidv, uid;
	uint64_t b, m;

	st = open_user_q("quota-n@conf.test", 0, 2);
	append_ok(st, "INBOX", 1, 100);
	append_ok(st, "INBOX", 2, 100);
	ck_assert_int_eq(append_pat(st, "INBOX", 3, 100, 100, 0, NULL, &uidv,
	    &uid), KURIR_E_OVERQUOTA);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 2);
	/* Copy counts against the quota; move does not. */
	ck_assert_int_eq(ops->mailbox_create(st, "Other", 0), KURIR_OK);
	mb = open_mbox(st, "INBOX");
	ck_assert_int_eq(ops->msg_copy(mb, &all, 1, "Other", 0, NULL, NULL,
	    NULL), KURIR_E_OVERQUOTA);
	ck_assert_uint_eq(status_of(st, "Other").messages, 0);
	ck_assert_int_eq(ops->msg_copy(mb, &all, 1, "Other", 1, NULL, NULL,
	    NULL), KURIR_OK);
	ck_assert_uint_eq(status_of(st, "Other").messages, 2);
	ops->mailbox_close(mb);
	ops->store_close(st);

	st = open_user_q("quota-b@conf.test", 1000, 0);
	append_ok(st, "INBOX", 1, 600);
	ck_assert_int_eq(append_pat(st, "INBOX", 2, 600, 100, 0, NULL, &uidv,
	    &uid), KURIR_E_OVERQUOTA);
	append_ok(st, "INBOX", 3, 400);
	ck_assert_int_eq(ops->quota_usage(st, &b, &m), KURIR_OK);
	ck_assert_uint_eq(b, 1000);
	ck_assert_uint_eq(m, 2);
	ops->store_close(st);
}
END_TEST

static int
deliver(const char *const *users, const uint64_t *qmsgs, size_t n,
    uint32_t seed, uint64_t size)
{
	struct kurir_user_params p[8];
	const struct kurir_user_params *pp[8];
	struct kurir_delivery *d;
	unsigned char buf[4096];
	uint64_t off;
	size_t i, k;
	int rc;

	for (i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].size = sizeof(p[i]);
		p[i].user = users[i];
		p[i].quota_messages = qmsgs != NULL ? qmsgs[i] : 0;
		pp[i] = &p[i];
	}
	if ((rc = ops->deliver_begin(pp, n, 1700000001, &d)) != KURIR_OK)
		return rc;
	for (off = 0; off < size; off += k) {
		k = size - off < sizeof(buf) ? (size_t)(size - off) :
		    sizeof(buf);
		fill(seed, off, buf, k);
		if ((rc = ops->deliver_write(d, buf, k)) != KURIR_OK) {
			ops->deliver_abort(d);
			return rc;
		}
	}
	return ops->deliver_commit(d);
}

START_TEST(t_deliver)
{
	const char *users[] = { "d1@conf.test", "d2@conf.test",
	    "d3@other.test" };
	uint64_t q[] = { 0, 1, 0 };
	struct kurir_store *st;
	struct kurir_mailbox *mb;
	size_t i;

	ck_assert_int_eq(deliver(users, NULL, 3, 77, 10000), KURIR_OK);
	for (i = 0; i < 3; i++) {
		st = open_user(users[i]);
		mb = open_mbox(st, "INBOX");
		ck_assert_uint_eq(list_all(mb)->n, 1);
		ck_assert_int_eq(list_all(mb)->m[0].internal_date,
		    1700000001);
		check_msg(mb, list_all(mb)->m[0].uid, 77, 10000, 4096);
		ops->mailbox_close(mb);
		ops->store_close(st);
	}
	/* d2 may hold one message: all-or-nothing, OVERQUOTA. */
	ck_assert_int_eq(deliver(users, q, 3, 78, 100), KURIR_E_OVERQUOTA);
	for (i = 0; i < 3; i++) {
		st = open_user(users[i]);
		ck_assert_uint_eq(status_of(st, "INBOX").messages, 1);
		ops->store_close(st);
	}
}
END_TEST

/* Threads of one process delivering to one user at once (a backend may
 * group them into one commit): every message lands, each once. */
struct thr_arg {
	int	 who;
	int	 rc;
};

static void *
thr_deliver(void *arg)
{
	struct thr_arg *a = arg;
	const char *users[] = { "threads@conf.test" };
	int i;

	for (i = 0; i < 20 && a->rc == KURIR_OK; i++)
		a->rc = deliver(users, NULL, 1, 2000 + (uint32_t)(a->who * 20 +
		    i), 900 + (uint64_t)(a->who * 20 + i));
	return NULL;
}

START_TEST(t_threads_deliver)
{
	struct kurir_store *st = open_user("threads@conf.test");
	struct kurir_mailbox *mb;
	struct thr_arg a[8];
	pthread_t th[8];
	struct seen *l;
	size_t i;

	for (i = 0; i < 8; i++) {
		a[i].who = (int)i;
		a[i].rc = KURIR_OK;
		ck_assert_int_eq(pthread_create(&th[i], NULL, thr_deliver,
		    &a[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(a[i].rc, KURIR_OK);
	}
	mb = open_mbox(st, "INBOX");
	l = list_all(mb);
	ck_assert_uint_eq(l->n, 160);
	for (i = 0; i < l->n; i++) {
		/* size 900 + k identifies message k, seed 2000 + k */
		uint64_t k = l->m[i].size - 900;

		ck_assert_uint_lt(k, 160);
		check_msg(mb, l->m[i].uid, 2000 + (uint32_t)k, l->m[i].size,
		    4096);
	}
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* ---- several processes -------------------------------------------- */

/* Each child appends n messages; seeds encode (child, index). */
static void
child_appender(const char *user, uint32_t who, int n, int fd)
{
	struct kurir_store *st;
	uint32_t uidv, uid;
	int i, rc;

	if (ops->store_open(&(struct kurir_user_params){ .size =
	    sizeof(struct kurir_user_params), .user = user }, &st) != 0)
		_exit(2);
	for (i = 0; i < n; i++) {
		rc = append_pat(st, "INBOX", who * 1000 + (uint32_t)i,
		    1000 + (uint64_t)i * 37, 512, 0, NULL, &uidv, &uid);
		if (rc != KURIR_OK)
			_exit(3);
		if (fd != -1 && write(fd, &uid, sizeof(uid)) != sizeof(uid))
			_exit(4);
	}
	ops->store_close(st);
	_exit(0);
}

START_TEST(t_two_processes)
{
	const char *user = "twoproc@conf.test";
	struct kurir_store *st = open_user(user);
	struct kurir_mailbox *mb;
	int p[2][2], c, i;
	uint32_t uids[2][40];
	pid_t pid[2];
	struct seen *l;

	for (c = 0; c < 2; c++) {
		ck_assert_int_eq(pipe(p[c]), 0);
		if ((pid[c] = fork()) == 0) {
			close(p[c][0]);
			child_appender(user, (uint32_t)c + 1, 40, p[c][1]);
		}
		close(p[c][1]);
	}
	for (c = 0; c < 2; c++) {
		read_full(p[c][0], uids[c], sizeof(uids[c]));
		wait_child_ok(pid[c]);
		close(p[c][0]);
	}
	mb = open_mbox(st, "INBOX");
	l = list_all(mb);
	ck_assert_uint_eq(l->n, 80);	/* all distinct and all there */
	for (c = 0; c < 2; c++)
		for (i = 0; i < 40; i++) {
			const struct kurir_msg *m = find_msg(l, uids[c][i]);

			ck_assert_ptr_nonnull(m);
			ck_assert_uint_eq(m->size, 1000 + (uint64_t)i * 37);
			check_msg(mb, uids[c][i], (uint32_t)(c + 1) * 1000 +
			    (uint32_t)i, m->size, 4096);
		}
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* Every listed message reads back whole with its own pattern; the
 * seed and size are recoverable from the uid-order of appends. */
static void
check_consistent(struct kurir_store *st, int expect_min)
{
	struct kurir_mailbox *mb = open_mbox(st, "INBOX");
	struct kurir_mailbox_status s;
	struct seen *l = list_all(mb);
	uint64_t b, m, sum = 0;
	size_t i;

	s = status_of(st, "INBOX");
	ck_assert_uint_eq(s.messages, l->n);
	ck_assert_int_ge((int)l->n, expect_min);
	for (i = 0; i < l->n; i++) {
		/* child_appender: message i has seed 1000+i, size 1000+37i */
		ck_assert_uint_eq(l->m[i].size, 1000 + (uint64_t)i * 37);
		check_msg(mb, l->m[i].uid, 1000 + (uint32_t)i, l->m[i].size,
		    4096);
		sum += l->m[i].size;
	}
	ck_assert_uint_eq(s.bytes, sum);
	ck_assert_int_eq(ops->quota_usage(st, &b, &m), KURIR_OK);
	ck_assert_uint_eq(m, l->n);
	ck_assert_uint_eq(b, sum);
	ops->mailbox_close(mb);
}

START_TEST(t_kill9_mid_append)
{
	const char *user = "kill9@conf.test";
	struct kurir_store *st;
	uint32_t uid, uidv, got;
	int p[2], status;
	pid_t pid;
	struct pollfd pfd;

	/* A child appending in a loop is killed at a random point. */
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		child_appender(user, 1, 200, p[1]);
	}
	close(p[1]);
	/* Wait for a few commits, then kill mid-stream. */
	ck_assert_int_eq(read(p[0], &got, sizeof(got)), sizeof(got));
	usleep(20000 + (useconds_t)(getpid() % 50) * 1000);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(p[0]);
	st = open_user(user);
	check_consistent(st, 1);
	ops->store_close(st);

	/* A child killed with a big append half written leaves nothing. */
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct kurir_store *cs;
		struct kurir_append *ap;
		char buf[65536];

		close(p[0]);
		memset(buf, 'z', sizeof(buf));
		if (ops->store_open(&(struct kurir_user_params){ .size =
		    sizeof(struct kurir_user_params), .user = user },
		    &cs) != 0 ||
		    ops->append_begin(cs, "INBOX", 0, NULL, 0, &ap) != 0)
			_exit(2);
		for (int i = 0; i < 64; i++)
			if (ops->append_write(ap, buf, sizeof(buf)) != 0)
				_exit(3);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(p[0]);
	st = open_user(user);
	check_consistent(st, 1);
	/* And the mailbox takes mail again. */
	ck_assert_int_eq(append_pat(st, "INBOX", 5, 10, 10, 0, NULL, &uidv,
	    &uid), KURIR_OK);
	ops->store_close(st);
}
END_TEST

/* kill -9 while a big message is being committed (a backend may store
 * it in steps): afterwards the message is there whole or not at all,
 * and the mailbox takes mail again. */
START_TEST(t_kill9_mid_commit)
{
	const char *user = "kill9c@conf.test";
	const uint64_t size = 12u << 20;
	struct kurir_store *st;
	struct kurir_mailbox *mb;
	struct seen *l;
	int round, p[2], status;
	char c;
	pid_t pid;

	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(pipe(p), 0);
		if ((pid = fork()) == 0) {
			struct kurir_store *cs;
			struct kurir_append *ap;
			unsigned char *buf = malloc(65536);
			uint32_t uidv, uid;
			uint64_t off;

			close(p[0]);
			if (buf == NULL || ops->store_open(
			    &(struct kurir_user_params){ .size =
			    sizeof(struct kurir_user_params), .user = user },
			    &cs) != 0 ||
			    ops->append_begin(cs, "INBOX", 0, NULL, 0,
			    &ap) != 0)
				_exit(2);
			for (off = 0; off < size; off += 65536) {
				fill(7, off, buf, 65536);
				if (ops->append_write(ap, buf, 65536) != 0)
					_exit(3);
			}
			(void)!write(p[1], "x", 1);
			(void)ops->append_commit(ap, &uidv, &uid);
			pause();
			_exit(0);
		}
		close(p[1]);
		ck_assert_int_eq(read(p[0], &c, 1), 1);
		usleep((useconds_t)(round * 40000 +
		    (getpid() % 20) * 1000));
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		close(p[0]);
	}
	st = open_user(user);
	mb = open_mbox(st, "INBOX");
	l = list_all(mb);
	ck_assert_uint_le(l->n, 3);
	for (round = 0; round < (int)l->n; round++) {
		ck_assert_uint_eq(l->m[round].size, size);
		check_msg(mb, l->m[round].uid, 7, size, 1 << 20);
	}
	ck_assert_uint_eq(status_of(st, "INBOX").messages, l->n);
	ops->mailbox_close(mb);
	append_ok(st, "INBOX", 1, 100);
	ops->store_close(st);
}
END_TEST

START_TEST(t_full_disk)
{
	const char *user = "fsize@conf.test";
	struct kurir_store *st;
	int status, p[2];
	int ok = 0;
	pid_t pid;

	st = open_user(user);	/* made without the limit */
	append_ok(st, "INBOX", 1000, 1000);
	ops->store_close(st);
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct rlimit rl = { 4 << 20, 4 << 20 };
		struct kurir_store *cs;
		uint32_t uidv, uid;
		int i, rc = KURIR_OK;

		close(p[0]);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(2);
		if (ops->store_open(&(struct kurir_user_params){ .size =
		    sizeof(struct kurir_user_params), .user = user },
		    &cs) != 0)
			_exit(3);
		/* One message bigger than any file may be. */
		rc = append_pat(cs, "INBOX", 9, 6 << 20, 65536, 0, NULL,
		    &uidv, &uid);
		if (rc != KURIR_E_NOSPACE && rc != KURIR_E_TEMPFAIL)
			_exit(10 + (rc < 0 ? -rc : 0));
		/* Then ~300 KiB messages until the store is full. */
		for (i = 0; i < 40; i++) {
			rc = append_pat(cs, "INBOX", 50 + (uint32_t)i,
			    300 << 10, 65536, 0, NULL, &uidv, &uid);
			if (rc != KURIR_OK)
				break;
			(void)!write(p[1], &i, sizeof(i));
		}
		/* (A backend with one file per message may never fill.) */
		if (rc != KURIR_OK && rc != KURIR_E_NOSPACE &&
		    rc != KURIR_E_TEMPFAIL)
			_exit(40 + (rc < 0 ? -rc : 0));
		ops->store_close(cs);
		_exit(0);
	}
	close(p[1]);
	while (read(p[0], &status, sizeof(status)) == sizeof(status))
		ok++;
	close(p[0]);
	wait_child_ok(pid);
	/* Without the limit: consistent, the committed ones intact. */
	st = open_user(user);
	{
		struct kurir_mailbox *mb = open_mbox(st, "INBOX");
		struct seen *l = list_all(mb);
		size_t i;

		ck_assert_uint_eq(l->n, 1 + (size_t)ok);
		check_msg(mb, l->m[0].uid, 1000, 1000, 4096);
		for (i = 1; i < l->n; i++)
			check_msg(mb, l->m[i].uid, 50 + (uint32_t)i - 1,
			    300 << 10, 65536);
		ops->mailbox_close(mb);
	}
	append_ok(st, "INBOX", 1, 100);
	ops->store_close(st);
}
END_TEST

START_TEST(t_reader_during_writer)
{
	const char *user = "rw@conf.test";
	struct kurir_store *st = open_user(user);
	struct kurir_mailbox *mb;
	uint64_t deadline;
	struct timespec ts;
	int rounds = 0, status;
	pid_t pid;

	append_ok(st, "INBOX", 1000, 1000);
	if ((pid = fork()) == 0)
		child_appender(user, 1, 60, -1);
	/* List index i >= 1 is the child's message i - 1. */
	mb = open_mbox(st, "INBOX");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 20000;
	for (;;) {
		struct seen *l;
		size_t i;

		ck_assert_int_eq(ops->mailbox_sync(mb, NULL), KURIR_OK);
		l = list_all(mb);
		for (i = 1; i < l->n; i++)
			check_msg(mb, l->m[i].uid, 1000 + (uint32_t)i - 1,
			    1000 + (uint64_t)(i - 1) * 37, 4096);
		rounds++;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ck_assert_uint_lt((uint64_t)ts.tv_sec * 1000 +
		    ts.tv_nsec / 1000000, deadline);
	}
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_gt(rounds, 1);
	ck_assert_uint_eq(status_of(st, "INBOX").messages, 61);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* notify_fd() and notify_set() are served by the core's path watches
 * (api->watch_path) on the event loop: run it while waiting, as a
 * protocol module's loop would. */
static int
notify_wait(struct pollfd *pfd, int ms)
{
	uint64_t end = ev_now_ms() + (uint64_t)ms;

	do {
		ev_run_once(ev_default(), 10);
		pfd->revents = 0;
		if (poll(pfd, 1, 0) == 1)
			return 1;
	} while (ev_now_ms() < end);
	return 0;
}

static void
notify_count(void *arg)
{
	(*(int *)arg)++;
}

START_TEST(t_snapshot_and_notify)
{
	const char *user = "notify@conf.test";
	struct kurir_store *st = open_user(user);
	struct kurir_mailbox *mb = open_mbox(st, "INBOX");
	struct kurir_mailbox_status s;
	struct pollfd pfd;
	struct timespec t0, t1;
	pid_t pid;
	int fd, round, woken = 0, has_set;

	fd = ops->notify_fd(mb);
	ck_assert_int_ge(fd, 0);
	has_set = KURIR_HAS(ops, notify_set) && ops->notify_set != NULL;
	if (has_set)
		ck_assert_int_eq(ops->notify_set(mb, notify_count, &woken),
		    KURIR_OK);
	ops->notify_clear(mb);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == 0)
		child_appender(user, 1, 1, -1);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ck_assert_msg(notify_wait(&pfd, 1000) == 1,
	    "notify_fd silent 1 s after another process appended");
	ck_assert(!has_set || woken > 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wait_child_ok(pid);
	ops->notify_clear(mb);
	/* The snapshot: new mail shows only after mailbox_sync. */
	ck_assert_uint_eq(list_all(mb)->n, 0);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_uint_eq(s.messages, 1);
	ck_assert_uint_eq(list_all(mb)->n, 1);
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);	/* cleared */
	/* Flag changes, then an expunge, by another process wake it too. */
	for (round = 0; round < 2; round++) {
		if ((pid = fork()) == 0) {
			struct kurir_uid_range all = { 1, UINT32_MAX };
			struct kurir_store *cs;
			struct kurir_mailbox *cm;

			if (ops->store_open(&(struct kurir_user_params){
			    .size = sizeof(struct kurir_user_params),
			    .user = user }, &cs) != 0 ||
			    ops->mailbox_open(cs, "INBOX", &cm) != 0)
				_exit(2);
			if (round == 0 ? ops->msg_flags(cm, &all, 1,
			    KURIR_FLAGS_ADD, KURIR_FLAG_SEEN, NULL, 0, NULL,
			    NULL) != 0 : ops->msg_expunge(cm, &all, 1) != 0)
				_exit(3);
			ops->mailbox_close(cm);
			ops->store_close(cs);
			_exit(0);
		}
		woken = 0;
		ck_assert_msg(notify_wait(&pfd, 1000) == 1, "notify_fd silent 1 s "
		    "after another process %s", round == 0 ? "set flags" :
		    "expunged");
		ck_assert(!has_set || woken > 0);
		wait_child_ok(pid);
		ops->notify_clear(mb);
		ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
		ck_assert_uint_eq(s.unseen, 0);
		ck_assert_uint_eq(s.messages, round == 0 ? 1 : 0);
	}
	if (has_set)
		ck_assert_int_eq(ops->notify_set(mb, NULL, NULL), KURIR_OK);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* ---- \Recent (recent_claim, recent_count) ------------------------- */

static int
has_recent(void)
{
	return KURIR_HAS(ops, recent_count) && ops->recent_claim != NULL &&
	    ops->recent_count != NULL;
}

static uint32_t
recent_of(struct kurir_store *st, const char *name)
{
	uint32_t n = 12345;

	ck_assert_int_eq(ops->recent_count(st, name, &n), KURIR_OK);
	return n;
}

/* Claim up to the snapshot's UIDNEXT after a sync: the number of UIDs
 * claimed (first..uidnext-1), 0 when another claim came first. */
static uint32_t
claim(struct kurir_mailbox *mb, int sync, uint32_t *uidnext_r)
{
	static struct kurir_mailbox_status s;
	uint32_t first = 0;

	if (sync)
		ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_int_eq(ops->recent_claim(mb, s.uidnext, &first), KURIR_OK);
	ck_assert_uint_ge(first, 1);
	if (uidnext_r != NULL)
		*uidnext_r = s.uidnext;
	return first >= s.uidnext ? 0 : s.uidnext - first;
}

START_TEST(t_recent)
{
	const char *user = "recent@conf.test";
	struct kurir_store *st;
	struct kurir_mailbox *mb1, *mb2;
	uint32_t u1, u4, next, n;

	if (!has_recent())
		return;		/* optional ops: not offered */
	st = open_user(user);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 0);
	u1 = append_ok(st, "INBOX", 1, 100);
	(void)append_ok(st, "INBOX", 2, 100);
	(void)append_ok(st, "INBOX", 3, 100);
	/* counting does not claim */
	ck_assert_uint_eq(recent_of(st, "inbox"), 3);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 3);
	ck_assert_int_ne(ops->recent_count(st, "NoSuch", &n), KURIR_OK);

	/* uidnext 0 reads without claiming (EXAMINE) */
	mb1 = open_mbox(st, "INBOX");
	ck_assert_int_eq(ops->recent_claim(mb1, 0, &n), KURIR_OK);
	ck_assert_uint_le(n, u1);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 3);

	/* the first claim gets all three, the next one nothing */
	n = claim(mb1, 1, &next);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(next - n, u1);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 0);
	ck_assert_uint_eq(claim(mb1, 1, NULL), 0);
	mb2 = open_mbox(st, "INBOX");
	ck_assert_uint_eq(claim(mb2, 1, NULL), 0);

	/* new mail: claimed once, by whoever syncs first; a claim with an
	 * old snapshot's UIDNEXT gets none of it */
	u4 = append_ok(st, "INBOX", 4, 100);
	(void)append_ok(st, "INBOX", 5, 100);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 2);
	ck_assert_uint_eq(claim(mb1, 0, NULL), 0);
	n = claim(mb2, 1, &next);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(next - n, u4);
	ck_assert_uint_eq(claim(mb1, 1, NULL), 0);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 0);

	/* expunged unclaimed mail is not counted */
	(void)append_ok(st, "INBOX", 6, 100);
	n = append_ok(st, "INBOX", 7, 100);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 2);
	ck_assert_int_eq(ops->msg_expunge(mb1, &(struct kurir_uid_range){
	    n, n }, 1), KURIR_OK);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 1);
	ops->mailbox_close(mb1);
	ops->mailbox_close(mb2);

	/* per mailbox, and a re-created mailbox starts unclaimed */
	ck_assert_int_eq(ops->mailbox_create(st, "Work", 0), KURIR_OK);
	(void)append_ok(st, "Work", 8, 100);
	ck_assert_uint_eq(recent_of(st, "Work"), 1);
	mb1 = open_mbox(st, "Work");
	ck_assert_uint_eq(claim(mb1, 1, NULL), 1);
	ops->mailbox_close(mb1);
	ck_assert_uint_eq(recent_of(st, "Work"), 0);
	ck_assert_int_eq(ops->mailbox_delete(st, "Work"), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_create(st, "Work", 0), KURIR_OK);
	ck_assert_uint_eq(recent_of(st, "Work"), 0);
	(void)append_ok(st, "Work", 9, 100);
	ck_assert_uint_eq(recent_of(st, "Work"), 1);
	ops->store_close(st);

	/* durable: a new store handle sees the same state */
	st = open_user(user);
	ck_assert_uint_eq(recent_of(st, "INBOX"), 1);
	ck_assert_uint_eq(recent_of(st, "Work"), 1);
	mb1 = open_mbox(st, "INBOX");
	/* the range claimed holds seeds 6 and 7 (7 expunged) */
	ck_assert_uint_eq(claim(mb1, 1, NULL), 2);
	ck_assert_uint_eq(claim(mb1, 1, NULL), 0);
	ops->mailbox_close(mb1);
	ops->store_close(st);
}
END_TEST

/* Sessions in several processes claim at once: each new message goes to
 * exactly one of them. */
START_TEST(t_recent_processes)
{
	const char *user = "recentproc@conf.test";
	struct kurir_store *st;
	uint32_t total = 0, got;
	int p[4][2], c, round;
	pid_t pid[4];

	if (!has_recent())
		return;
	st = open_user(user);
	for (round = 0; round < 5; round++) {
		(void)append_ok(st, "INBOX", (uint32_t)round, 200);
		(void)append_ok(st, "INBOX", (uint32_t)round + 100, 200);
		for (c = 0; c < 4; c++) {
			ck_assert_int_eq(pipe(p[c]), 0);
			if ((pid[c] = fork()) == 0) {
				struct kurir_store *cst;
				struct kurir_mailbox *mb;
				struct kurir_mailbox_status s;
				uint32_t first, n = 0;

				close(p[c][0]);
				if (ops->store_open(&(struct kurir_user_params){
				    .size = sizeof(struct kurir_user_params),
				    .user = user }, &cst) != KURIR_OK ||
				    ops->mailbox_open(cst, "INBOX", &mb) !=
				    KURIR_OK ||
				    ops->mailbox_sync(mb, &s) != KURIR_OK ||
				    ops->recent_claim(mb, s.uidnext, &first) !=
				    KURIR_OK)
					_exit(2);
				if (first < s.uidnext)
					n = s.uidnext - first;
				if (write(p[c][1], &n, sizeof(n)) !=
				    sizeof(n))
					_exit(3);
				ops->mailbox_close(mb);
				ops->store_close(cst);
				_exit(0);
			}
			close(p[c][1]);
		}
		for (c = 0; c < 4; c++) {
			read_full(p[c][0], &got, sizeof(got));
			wait_child_ok(pid[c]);
			close(p[c][0]);
			ck_assert_msg(got == 0 || got == 2,
			    "a claim got %u of 2 new messages", got);
			total += got;
		}
		ck_assert_uint_eq(total, 2 * ((uint32_t)round + 1));
	}
	ck_assert_uint_eq(recent_of(st, "INBOX"), 0);
	ops->store_close(st);
}
END_TEST

/* ---- suite -------------------------------------------------------- */

static Suite *
conformance_suite(void)
{
	Suite *s = suite_create(backend);
	TCase *tc;

	tc = tcase_create("mailboxes");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_store_open);
	tcase_add_test(tc, t_empty_mailbox);
	tcase_add_test(tc, t_mailbox_create_list);
	tcase_add_test(tc, t_bad_names);
	tcase_add_test(tc, t_inbox_case);
	tcase_add_test(tc, t_mailbox_delete);
	tcase_add_test(tc, t_mailbox_rename);
	tcase_add_test(tc, t_subscribe);
	suite_add_tcase(s, tc);

	tc = tcase_create("messages");
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, t_append_read);
	tcase_add_test(tc, t_zero_byte);
	tcase_add_test(tc, t_big_64m);
	tcase_add_test(tc, t_append_abort);
	tcase_add_test(tc, t_uid_not_reused);
	tcase_add_test(tc, t_flags);
	tcase_add_test(tc, t_expunge_changes);
	tcase_add_test(tc, t_copy_move);
	tcase_add_test(tc, t_cache);
	tcase_add_test(tc, t_recent);
	suite_add_tcase(s, tc);

	tc = tcase_create("quota-delivery");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_quota);
	tcase_add_test(tc, t_deliver);
	tcase_add_test(tc, t_threads_deliver);
	suite_add_tcase(s, tc);

	/* A process-local backend (the memstore example) cannot share
	 * mail with other processes: it skips these. */
	if (getenv("KURIR_CONFORMANCE_LOCAL") != NULL)
		return s;
	tc = tcase_create("processes");
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, t_two_processes);
	tcase_add_test(tc, t_kill9_mid_append);
	tcase_add_test(tc, t_kill9_mid_commit);
	tcase_add_test(tc, t_full_disk);
	tcase_add_test(tc, t_reader_during_writer);
	tcase_add_test(tc, t_snapshot_and_notify);
	tcase_add_test(tc, t_recent_processes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *dir, *state;
	char err[1024];
	SRunner *sr;
	int failed;

	backend = getenv("KURIR_STORAGE");
	dir = getenv("KURIR_MODULE_DIR");
	state = getenv("KURIR_STATE_DIR");
	if (backend == NULL || dir == NULL || state == NULL) {
		fprintf(stderr, "conformance: set KURIR_STORAGE, "
		    "KURIR_MODULE_DIR and KURIR_STATE_DIR\n");
		return 2;
	}
	if ((ops = conformance_load(dir, backend, state, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "conformance: %s\n", err);
		return 1;
	}
	sr = srunner_create(conformance_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
