/*
 * check_imap_session.c -- the IMAP module end to end against a mock core
 * (imap_mock.c) and the real storage modules: login and SASL-IR,
 * special-use mailboxes, APPEND (synchronizing and LITERAL+) with
 * APPENDUID, FETCH (BODY[] byte-exact, sections, partials, ENVELOPE and
 * BODYSTRUCTURE against tests/data/imap), STORE, SEARCH, COPY/MOVE with
 * COPYUID, EXPUNGE, mailbox commands, two sessions with IDLE, literal
 * limits, bad-command BYE, pipelining and FETCH under back-pressure.
 * Runs once per storage backend that is built.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mock.h"

static const char *backend = "lmdb";

static char *
slurp(const char *name, size_t *len_r)
{
	char path[1024];
	const char *src = getenv("KURIR_SRCDIR");
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/data/imap/%s",
	    src != NULL ? src : ".", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && len_r == NULL && (buf[n - 1] == '\n'))
		buf[--n] = '\0';
	if (len_r != NULL)
		*len_r = (size_t)n;
	return buf;
}

#define has(out, s)	ck_assert_msg(strstr((out), (s)) != NULL, \
	"missing <%s> in:\n%s", (s), (out))
#define hasnt(out, s)	ck_assert_msg(strstr((out), (s)) == NULL, \
	"unexpected <%s> in:\n%s", (s), (out))

static void
setup(void)
{
	int rc = mock_setup(backend);

	ck_assert_msg(rc == 0, "mock_setup(%s) = %d", backend, rc);
}

static void
teardown(void)
{
	mock_teardown();
}

static struct kurir_conn *
login(void)
{
	struct kurir_conn *c = mock_connect();

	ck_assert_ptr_nonnull(c);
	has(mock_sends(c, "l1 LOGIN alice@localhost secret\r\n"), "l1 OK");
	return c;
}

static const char *
append(struct kurir_conn *c, const char *tag, const char *mbox,
    const char *extra, const char *data, size_t len)
{
	char hdr[512];
	size_t n;
	char *buf;
	const char *out;

	n = (size_t)snprintf(hdr, sizeof(hdr), "%s APPEND %s%s {%zu}\r\n",
	    tag, mbox, extra, len);
	buf = malloc(n + len + 2);
	memcpy(buf, hdr, n);
	memcpy(buf + n, data, len);
	memcpy(buf + n + len, "\r\n", 2);
	out = mock_send(c, buf, n + len + 2);
	free(buf);
	return out;
}

static void
small_message(struct kurir_conn *c, int i)
{
	char msg[512], tag[16];
	const char *out;

	snprintf(msg, sizeof(msg), "From: sender%d@example.org\r\n"
	    "To: alice@localhost\r\nSubject: note %d\r\n"
	    "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\n"
	    "body text number %d with keyword%s\r\n", i, i, i,
	    i == 3 ? " needle" : "");
	snprintf(tag, sizeof(tag), "s%d", i);
	out = append(c, tag, "INBOX", "", msg, strlen(msg));
	has(out, "OK [APPENDUID");
}

START_TEST(test_login)
{
	struct kurir_conn *c = mock_connect();
	const char *out;

	ck_assert_ptr_nonnull(c);
	has(c->out, "* OK [CAPABILITY IMAP4rev1");
	has(c->out, "AUTH=PLAIN");
	out = mock_sends(c, "a0 SELECT INBOX\r\n");
	has(out, "a0 BAD");
	out = mock_sends(c, "a1 LOGIN alice@localhost wrong\r\n");
	has(out, "a1 NO [AUTHENTICATIONFAILED]");
	out = mock_sends(c, "a2 LOGIN \"alice@localhost\" {6}\r\nsecret\r\n");
	has(out, "+ ");
	has(out, "a2 OK [CAPABILITY IMAP4rev1");
	hasnt(out, "AUTH=");
	out = mock_sends(c, "a3 LOGIN x y\r\n");
	has(out, "a3 BAD");
	out = mock_sends(c, "a4 LIST \"\" *\r\n");
	has(out, "\"INBOX\"");
	has(out, "\\Sent) \"/\" \"Sent\"");
	has(out, "\\Drafts) \"/\" \"Drafts\"");
	has(out, "\\Trash) \"/\" \"Trash\"");
	has(out, "\\Junk) \"/\" \"Junk\"");
	has(out, "\\Archive) \"/\" \"Archive\"");
	has(out, "a4 OK");
	out = mock_sends(c, "a5 NAMESPACE\r\na6 ID NIL\r\na7 ENABLE X\r\n");
	has(out, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	has(out, "* ID (\"name\" \"kurir\"");
	has(out, "a7 OK");
	out = mock_sends(c, "a8 LOGOUT\r\n");
	has(out, "* BYE");
	has(out, "a8 OK");
	ck_assert(c->closed);
	mock_disconnect(c);
	/* SASL-IR, then a continuation exchange */
	c = mock_connect();
	out = mock_sends(c, "b1 AUTHENTICATE PLAIN "
	    "AGFsaWNlQGxvY2FsaG9zdABzZWNyZXQ=\r\n");
	has(out, "b1 OK");
	mock_disconnect(c);
	c = mock_connect();
	out = mock_sends(c, "b2 AUTHENTICATE PLAIN\r\n");
	has(out, "+ ");
	out = mock_sends(c, "AGFsaWNlQGxvY2FsaG9zdABzZWNyZXQ=\r\n");
	has(out, "b2 OK");
	mock_disconnect(c);
	c = mock_connect();
	out = mock_sends(c, "b3 AUTHENTICATE PLAIN\r\n*\r\nb4 NOOP\r\n");
	has(out, "b3 BAD");
	has(out, "b4 OK");
	mock_disconnect(c);
}
END_TEST

START_TEST(test_append_fetch)
{
	struct kurir_conn *c = login();
	char *msg, *bs, *env, want[4096];
	const char *out;
	size_t len;

	msg = slurp("nested.eml", &len);
	out = append(c, "a1", "INBOX", "", msg, len);
	has(out, "+ Ready");
	has(out, "a1 OK [APPENDUID ");
	/* LITERAL+, flags and a date */
	out = mock_sends(c, "a2 APPEND INBOX (\\Flagged $Work) "
	    "\"02-Mar-2026 10:11:12 +0100\" {14+}\r\nSubject: x\r\n\r\n\r\n");
	hasnt(out, "+ Ready");
	has(out, "a2 OK [APPENDUID ");
	out = mock_sends(c, "a3 APPEND Nowhere {3+}\r\nabc\r\n");
	has(out, "a3 NO [TRYCREATE]");
	out = mock_sends(c, "a4 APPEND Nowhere {3}\r\n");
	has(out, "a4 NO [TRYCREATE]");
	hasnt(out, "+ Ready");
	out = mock_sends(c, "a5 SELECT INBOX\r\n");
	has(out, "* 2 EXISTS");
	has(out, "* OK [UIDVALIDITY ");
	has(out, "* OK [UIDNEXT ");
	has(out, "$Work");
	has(out, "a5 OK [READ-WRITE]");
	/* BODY[] byte-exact */
	out = mock_sends(c, "f1 FETCH 1 BODY.PEEK[]\r\n");
	snprintf(want, sizeof(want), "* 1 FETCH (BODY[] {%zu}\r\n", len);
	has(out, want);
	ck_assert(memcmp(strstr(out, want) + strlen(want), msg, len) == 0);
	hasnt(out, "\\Seen");
	bs = slurp("nested.bodystructure", NULL);
	env = slurp("nested.envelope", NULL);
	out = mock_sends(c, "f2 UID FETCH 1 (BODYSTRUCTURE ENVELOPE)\r\n");
	snprintf(want, sizeof(want), "BODYSTRUCTURE %s", bs);
	has(out, want);
	snprintf(want, sizeof(want), "ENVELOPE %s", env);
	has(out, want);
	has(out, "* 1 FETCH (UID 1 ");
	out = mock_sends(c, "f3 FETCH 1 (BODY.PEEK[2.1] BODY.PEEK[1] "
	    "BODY.PEEK[2.HEADER.FIELDS (Subject)] BODY.PEEK[2.2.MIME] "
	    "BODY.PEEK[HEADER.FIELDS.NOT (From Content-Type)] "
	    "BODY.PEEK[]<6.11> BODY.PEEK[9] RFC822.SIZE)\r\n");
	has(out, "BODY[2.1] {8}\r\nin plain");
	has(out, "BODY[1] {9}\r\nsee below");
	has(out, "BODY[2.HEADER.FIELDS (Subject)] {18}\r\nSubject: inner\r\n"
	    "\r\n");
	has(out, "BODY[2.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n");
	has(out, "BODY[HEADER.FIELDS.NOT (From Content-Type)] {16}\r\n"
	    "Subject: fwd\r\n\r\n");
	has(out, "BODY[]<6> {11}\r\nouter@x.org");
	has(out, "BODY[9] NIL");
	snprintf(want, sizeof(want), "RFC822.SIZE %zu", len);
	has(out, want);
	/* non-peek sets \Seen and reports it */
	out = mock_sends(c, "f4 FETCH 1 BODY[1]\r\n");
	has(out, "FLAGS (\\Seen \\Recent)");
	out = mock_sends(c, "f5 FETCH 2 (FLAGS INTERNALDATE RFC822.HEADER "
	    "RFC822.TEXT)\r\n");
	has(out, "FLAGS (\\Seen \\Flagged \\Recent $Work)");
	has(out, "INTERNALDATE \"02-Mar-2026 09:11:12 +0000\"");
	has(out, "RFC822.HEADER {14}\r\nSubject: x\r\n\r\n");
	has(out, "RFC822.TEXT {0}\r\n");
	out = mock_sends(c, "f6 FETCH 1:2 FAST\r\nf7 FETCH 3 FLAGS\r\n"
	    "f8 FETCH 1 (BODY[HEADER.FIELDS ()])\r\nf9 FETCH 1 FOO\r\n");
	has(out, "* 2 FETCH (FLAGS (\\Seen \\Flagged \\Recent $Work) "
	    "INTERNALDATE ");
	has(out, "f6 OK");
	has(out, "f7 BAD");
	has(out, "f8 BAD");
	has(out, "f9 BAD");
	free(msg);
	free(bs);
	free(env);
	mock_disconnect(c);
}
END_TEST

START_TEST(test_store_search_copy)
{
	struct kurir_conn *c = login();
	const char *out;
	int i;

	for (i = 1; i <= 5; i++)
		small_message(c, i);
	out = mock_sends(c, "t1 SELECT INBOX\r\n");
	has(out, "* 5 EXISTS");
	has(out, "* OK [UNSEEN 1]");
	out = mock_sends(c, "t2 STORE 2 +FLAGS (\\Deleted)\r\n");
	has(out, "* 2 FETCH (FLAGS (\\Deleted \\Recent))");
	out = mock_sends(c, "t3 UID STORE 4 +FLAGS.SILENT (\\Seen $Hot)\r\n");
	hasnt(out, "FETCH");
	has(out, "t3 OK");
	out = mock_sends(c, "t4 SEARCH DELETED\r\n");
	has(out, "* SEARCH 2\r\n");
	out = mock_sends(c, "t5 SEARCH SUBJECT \"note 3\"\r\n");
	has(out, "* SEARCH 3\r\n");
	out = mock_sends(c, "t6 SEARCH CHARSET UTF-8 TEXT NEEDLE\r\n");
	has(out, "* SEARCH 3\r\n");
	out = mock_sends(c, "t7 SEARCH BODY needle NOT FROM sender1\r\n");
	has(out, "* SEARCH 3\r\n");
	out = mock_sends(c, "t8 SEARCH OR SEEN DELETED\r\n");
	has(out, "* SEARCH 2 4\r\n");
	out = mock_sends(c, "t9 UID SEARCH UID 2:4 UNSEEN\r\n");
	has(out, "* SEARCH 2 3\r\n");
	out = mock_sends(c, "u1 SEARCH KEYWORD $Hot\r\nu2 SEARCH LARGER 1 "
	    "SMALLER 100000 SENTON 2-Mar-2026 (FROM sender5)\r\n"
	    "u3 SEARCH HEADER To alice SINCE 1-Jan-2000 5\r\n"
	    "u4 SEARCH CHARSET KOI8-R ALL\r\nu5 SEARCH BOGUS\r\n"
	    "u6 SEARCH SENTBEFORE 1-Jan-2000\r\n");
	has(out, "* SEARCH 4\r\nu1 OK");
	has(out, "* SEARCH 5\r\nu2 OK");
	has(out, "* SEARCH 5\r\nu3 OK");
	has(out, "u4 NO [BADCHARSET");
	has(out, "u5 BAD");
	has(out, "* SEARCH\r\nu6 OK");
	out = mock_sends(c, "c1 COPY 1:2 Archive\r\n");
	has(out, "c1 OK [COPYUID ");
	has(out, " 1:2 1:2]");
	out = mock_sends(c, "c2 COPY 1 Nowhere\r\n");
	has(out, "c2 NO [TRYCREATE]");
	out = mock_sends(c, "c3 MOVE 3 Trash\r\n");
	has(out, "* OK [COPYUID ");
	has(out, "* 3 EXPUNGE\r\n");
	has(out, "c3 OK");
	out = mock_sends(c, "c4 EXPUNGE\r\n");
	has(out, "* 2 EXPUNGE\r\nc4 OK");
	out = mock_sends(c, "c5 UID STORE 5 +FLAGS (\\Deleted)\r\n"
	    "c6 UID EXPUNGE 1:4\r\nc7 UID EXPUNGE 5\r\n");
	has(out, "* 3 FETCH (UID 5 FLAGS (\\Deleted \\Recent))");
	has(out, "c6 OK");
	has(out, "* 3 EXPUNGE\r\nc7 OK");
	out = mock_sends(c, "c8 STATUS Archive (MESSAGES UIDNEXT UNSEEN)\r\n");
	has(out, "* STATUS \"Archive\" (MESSAGES 2 UIDNEXT 3 UNSEEN 2)");
	out = mock_sends(c, "c9 UID FETCH 1:* UID\r\nd0 FETCH 1:* UID\r\n");
	has(out, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 4)\r\nc9 OK");
	out = mock_sends(c, "d1 FETCH 7 UID\r\nd2 STORE 1 FLAGS (\\Recent)\r\n");
	has(out, "d1 BAD");
	has(out, "d2 BAD");
	out = mock_sends(c, "d3 CLOSE\r\nd4 FETCH 1 UID\r\n");
	has(out, "d3 OK");
	has(out, "d4 BAD");
	out = mock_sends(c, "d5 EXAMINE Archive\r\n");
	has(out, "d5 OK [READ-ONLY]");
	out = mock_sends(c, "d6 STORE 1 +FLAGS (\\Seen)\r\nd7 UNSELECT\r\n");
	has(out, "d6 NO");
	has(out, "d7 OK");
	mock_disconnect(c);
}
END_TEST

START_TEST(test_mailboxes)
{
	struct kurir_conn *c = login();
	const char *out;

	out = mock_sends(c, "m1 CREATE Projekte/Entw&APw-rfe\r\n");
	has(out, "m1 OK");
	out = mock_sends(c, "m2 LIST \"\" Projekte/%\r\n");
	has(out, "\"Projekte/Entw&APw-rfe\"");
	out = mock_sends(c, "m3 LIST \"\" %\r\n");
	has(out, "\\HasChildren) \"/\" \"Projekte\"");
	hasnt(out, "Entw");
	out = mock_sends(c, "m4 CREATE Projekte/Entw&APw-rfe\r\n"
	    "m5 CREATE INBOX\r\nm6 CREATE &Jjo\r\n");
	has(out, "m4 NO");
	has(out, "m5 NO");
	has(out, "m6 BAD");
	out = mock_sends(c, "m7 RENAME Projekte Work\r\n"
	    "m8 LIST Work *\r\n");
	has(out, "m7 OK");
	has(out, "\"Work/Entw&APw-rfe\"");
	out = mock_sends(c, "m9 SUBSCRIBE Work\r\nn1 LSUB \"\" W*\r\n");
	has(out, "* LSUB () \"/\" \"Work\"");
	out = mock_sends(c, "n2 UNSUBSCRIBE Work\r\nn3 LSUB \"\" W*\r\n");
	hasnt(out, "* LSUB () \"/\" \"Work\"");
	out = mock_sends(c, "n4 DELETE Work/Entw&APw-rfe\r\nn5 DELETE INBOX\r\n"
	    "n6 LIST \"\" \"\"\r\nn7 STATUS Nowhere (MESSAGES)\r\n"
	    "n8 select inbox\r\n");
	has(out, "n4 OK");
	has(out, "n5 NO");
	has(out, "* LIST (\\Noselect) \"/\" \"\"");
	has(out, "n7 NO");
	has(out, "n8 OK");
	mock_disconnect(c);
}
END_TEST

START_TEST(test_two_sessions)
{
	struct kurir_conn *a = login(), *b = login();
	const char *out;
	size_t mark;
	int i;

	for (i = 1; i <= 3; i++)
		small_message(a, i);
	has(mock_sends(a, "a1 SELECT INBOX\r\n"), "* 3 EXISTS");
	has(mock_sends(b, "b1 SELECT INBOX\r\n"), "* 3 EXISTS");
	out = mock_sends(b, "b2 IDLE\r\n");
	has(out, "+ idling");
	/* new mail */
	mark = mock_mark(b);
	small_message(a, 4);
	mock_poll_watches(1000);
	has(mock_since(b, mark), "* 4 EXISTS");
	/* flags from the other session */
	mark = mock_mark(b);
	has(mock_sends(a, "a2 STORE 2 +FLAGS (\\Flagged)\r\n"), "a2 OK");
	mock_poll_watches(1000);
	has(mock_since(b, mark), "* 2 FETCH (UID 2 FLAGS (\\Flagged))");
	/* expunge */
	mark = mock_mark(b);
	has(mock_sends(a, "a3 STORE 1 +FLAGS (\\Deleted)\r\na4 EXPUNGE\r\n"),
	    "* 1 EXPUNGE");
	mock_poll_watches(1000);
	has(mock_since(b, mark), "* 1 EXPUNGE");
	out = mock_sends(b, "DONE\r\n");
	has(out, "b2 OK");
	/* no EXPUNGE during FETCH, but at the next NOOP */
	has(mock_sends(a, "a5 STORE 1 +FLAGS (\\Deleted)\r\na6 EXPUNGE\r\n"),
	    "a6 OK");
	out = mock_sends(b, "b3 FETCH 1:* FLAGS\r\n");
	hasnt(out, "EXPUNGE");
	has(out, "b3 OK");
	out = mock_sends(b, "b4 NOOP\r\n");
	has(out, "* 1 EXPUNGE\r\n");
	has(out, "b4 OK");
	out = mock_sends(b, "b5 FETCH 1:* UID\r\n");
	has(out, "* 1 FETCH (UID 3)\r\n* 2 FETCH (UID 4)\r\nb5 OK");
	mock_disconnect(a);
	mock_disconnect(b);
}
END_TEST

START_TEST(test_limits)
{
	struct kurir_conn *c;
	const char *out;

	mock_teardown();
	mock_conf_set("imap_max_literal_size", 100);
	mock_conf_set("imap_max_bad_commands", 3);
	mock_conf_set("max_message_size", 1000);
	setup();
	c = login();
	out = mock_sends(c, "x1 LOGIN {200}\r\n");
	has(out, "x1 NO [TOOBIG]");
	hasnt(out, "+ Ready");
	out = mock_sends(c, "x2 NOOP\r\n");
	has(out, "x2 OK");
	out = mock_sends(c, "x3 APPEND INBOX {2000}\r\n");
	has(out, "x3 NO [TOOBIG]");
	out = mock_sends(c, "x4 NOOP\r\nx5 (\r\nx6 FOO\r\nx7 NOOP\r\n");
	has(out, "x4 OK");
	has(out, "x5 BAD");
	has(out, "x6 BAD");
	has(out, "x7 OK");
	out = mock_sends(c, "y1 FOO\r\ny2 FOO\r\ny3 FOO\r\n");
	has(out, "* BYE Too many invalid commands");
	ck_assert(c->closed);
	mock_disconnect(c);
	c = login();
	out = mock_sends(c, "x8 LOGIN {200+}\r\n");
	has(out, "* BYE");
	ck_assert(c->closed);
	mock_disconnect(c);
	c = login();
	out = mock_sends(c, "x9 APPEND INBOX {2000+}\r\n");
	has(out, "* BYE");
	ck_assert(c->closed);
	mock_disconnect(c);
}
END_TEST

/* Every RFC 3501 SEARCH key, once each, against six messages with known
 * flags, dates and headers. */
static const struct {
	const char	*prog;
	const char	*want;		/* the SEARCH line */
} search_cases[] = {
	{ "ALL", "* SEARCH 1 2 3 4 5 6" },
	{ "ANSWERED", "* SEARCH 1" },
	{ "UNANSWERED", "* SEARCH 2 3 4 5 6" },
	{ "DRAFT", "* SEARCH 2" },
	{ "UNDRAFT", "* SEARCH 1 3 4 5 6" },
	{ "FLAGGED", "* SEARCH 3" },
	{ "UNFLAGGED", "* SEARCH 1 2 4 5 6" },
	{ "SEEN", "* SEARCH 4" },
	{ "UNSEEN", "* SEARCH 1 2 3 5 6" },
	{ "DELETED", "* SEARCH 5" },
	{ "UNDELETED", "* SEARCH 1 2 3 4 6" },
	{ "KEYWORD $Hot", "* SEARCH 4" },
	{ "UNKEYWORD $hot", "* SEARCH 1 2 3 5 6" },
	/* this session claimed all six as \Recent at SELECT */
	{ "NEW", "* SEARCH 1 2 3 5 6" },
	{ "RECENT", "* SEARCH 1 2 3 4 5 6" },
	{ "OLD", "* SEARCH" },
	{ "NOT RECENT", "* SEARCH" },
	{ "BCC hidden", "* SEARCH 6" },
	{ "CC \"copy@EXAMPLE\"", "* SEARCH 6" },
	{ "FROM sender2", "* SEARCH 2" },
	{ "TO alice", "* SEARCH 1 2 3 4 5 6" },
	{ "SUBJECT \"note 4\"", "* SEARCH 4" },
	{ "HEADER Message-ID six", "* SEARCH 6" },
	{ "HEADER X-Nothing \"\"", "* SEARCH" },
	{ "HEADER Cc \"\"", "* SEARCH 6" },
	{ "BODY needle", "* SEARCH 3" },
	{ "BODY sender5", "* SEARCH" },
	{ "TEXT sender5", "* SEARCH 5" },
	{ "TEXT {6}\r\nNEEDLE", "* SEARCH 3" },
	{ "BEFORE 1-Jan-2000", "* SEARCH" },
	{ "SINCE 1-Jan-2000", "* SEARCH 1 2 3 4 5 6" },
	{ "ON 1-Jan-2000", "* SEARCH" },
	{ "SENTBEFORE 1-Mar-2026", "* SEARCH 6" },
	{ "SENTON 1-Jan-2020", "* SEARCH 6" },
	{ "SENTSINCE 2-Mar-2026", "* SEARCH 1 2 3 4 5" },
	{ "LARGER 100000", "* SEARCH" },
	{ "SMALLER 10", "* SEARCH" },
	{ "UID 2:3", "* SEARCH 2 3" },
	{ "2,4:5", "* SEARCH 2 4 5" },
	{ "*", "* SEARCH 6" },
	{ "NOT 1:5", "* SEARCH 6" },
	{ "OR FROM sender1 SUBJECT \"note 2\"", "* SEARCH 1 2" },
	{ "(FLAGGED SEEN)", "* SEARCH" },
	{ "(OR FLAGGED SEEN)", "* SEARCH 3 4" },
	{ "NOT (OR 1 2) UNDELETED", "* SEARCH 3 4 6" },
	{ "CHARSET US-ASCII OR OR 1 2 3", "* SEARCH 1 2 3" },
};

START_TEST(test_search_keys)
{
	static const char six[] = "From: six@example.org\r\n"
	    "To: alice@localhost\r\nCc: Copy <copy@example.net>\r\n"
	    "Bcc: hidden@example.net\r\nMessage-ID: <six@example.org>\r\n"
	    "Date: Wed, 1 Jan 2020 12:00:00 +0000\r\nSubject: six\r\n\r\n"
	    "sixth\r\n";
	struct kurir_conn *c = login();
	char cmd[256], want[128];
	const char *out;
	size_t i;

	for (i = 1; i <= 5; i++)
		small_message(c, (int)i);
	has(append(c, "a6", "INBOX", "", six, strlen(six)), "a6 OK");
	has(mock_sends(c, "s1 SELECT INBOX\r\n"), "* 6 EXISTS");
	has(mock_sends(c, "s2 STORE 1 +FLAGS.SILENT (\\Answered)\r\n"
	    "s3 STORE 2 +FLAGS.SILENT (\\Draft)\r\n"
	    "s4 STORE 3 +FLAGS.SILENT (\\Flagged)\r\n"
	    "s5 STORE 4 +FLAGS.SILENT (\\Seen $Hot)\r\n"
	    "s6 STORE 5 +FLAGS.SILENT (\\Deleted)\r\n"), "s6 OK");
	for (i = 0; i < sizeof(search_cases) / sizeof(search_cases[0]); i++) {
		snprintf(cmd, sizeof(cmd), "k%zu SEARCH %s\r\n", i,
		    search_cases[i].prog);
		if (strchr(cmd, '{') != NULL) {
			/* a synchronizing literal: the continuation, then
			 * the rest */
			char *lit = strstr(cmd, "\r\n") + 2;

			out = mock_send(c, cmd, (size_t)(lit - cmd));
			has(out, "+ ");
			out = mock_sends(c, lit);
		} else
			out = mock_sends(c, cmd);
		snprintf(want, sizeof(want), "%s\r\nk%zu OK",
		    search_cases[i].want, i);
		ck_assert_msg(strstr(out, want) != NULL,
		    "SEARCH %s: wanted <%s>, got:\n%s", search_cases[i].prog,
		    search_cases[i].want, out);
	}
	/* and the UID form answers UIDs */
	has(mock_sends(c, "u1 UID SEARCH 5:6 UNDELETED\r\n"),
	    "* SEARCH 6\r\nu1 OK");
	/* malformed programs are BAD, and the session goes on */
	out = mock_sends(c, "b1 SEARCH OR FLAGGED\r\nb2 SEARCH BEFORE "
	    "32-Foo-2000\r\nb3 SEARCH (SEEN\r\nb4 SEARCH LARGER x\r\n"
	    "b5 SEARCH HEADER Subject\r\nb6 SEARCH 1:*:2\r\nb7 NOOP\r\n");
	has(out, "b1 BAD");
	has(out, "b2 BAD");
	has(out, "b3 BAD");
	has(out, "b4 BAD");
	has(out, "b5 BAD");
	has(out, "b6 BAD");
	has(out, "b7 OK");
	mock_disconnect(c);
}
END_TEST

/* SEARCH compares decoded text: encoded words in headers, each body
 * part's transfer encoding and charset, embedded messages' headers, all
 * case-folded (a client searching for "münchen" must find it however
 * the message spells it). */
static const char *const decoded_msgs[] = {
	"From: a@example.org\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe_aus?=\r\n"
	"  =?ISO-8859-1?Q?_M=FCnchen?=\r\n\r\nnothing here\r\n",

	"From: b@example.org\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"XX\"\r\n\r\n"
	"--XX\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"Sch=C3=B6ne Gr=C3=BC=\r\nsse\r\n"
	"--XX\r\nContent-Type: text/html\r\n"
	"Content-Transfer-Encoding: BASE64\r\n\r\n"
	"PHA+WmVicmEg\r\nU3RyaXBlczwvcD4=\r\n--XX--\r\n",

	"From: c@example.org\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
	"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	"--b1\r\nContent-Type: message/rfc822\r\n\r\n"
	"From: d@example.org\r\n"
	"Subject: =?UTF-8?B?w5xiZXJyYXNjaHVuZw==?=\r\n\r\n"
	"inner body\r\n--b1--\r\n",

	"From: e@example.org\r\nSubject: ordinary\r\n\r\n"
	"Caf\xc3\xa9 ordinary text\r\n",
};

static const struct {
	const char	*prog;
	const char	*want;
} decoded_cases[] = {
	{ "SUBJECT {8+}\r\nm\xc3\xbcnchen", "* SEARCH 1" },
	{ "SUBJECT {15+}\r\nGR\xc3\x9c\xc3\x9f" "e aus m\xc3\x9c", "* SEARCH 1" },
	{ "SUBJECT {9+}\r\nS=FCnchen", "* SEARCH" },
	{ "BODY {12+}\r\nsch\xc3\xb6ne gr\xc3\xbc", "* SEARCH 2" },
	{ "BODY {15+}\r\nSCH\xc3\x96NE GR\xc3\x9cSSE", "* SEARCH 2" },
	{ "BODY \"zebra stripes\"", "* SEARCH 2" },
	{ "BODY {13+}\r\n\xc3\xbc" "berraschung", "* SEARCH 3" },
	{ "TEXT {13+}\r\n\xc3\x9c" "BERRASCHUNG", "* SEARCH 3" },
	{ "SUBJECT {13+}\r\n\xc3\xbc" "berraschung", "* SEARCH" },
	{ "BODY \"inner body\"", "* SEARCH 3" },
	{ "TEXT {5+}\r\nCAF\xc3\x89", "* SEARCH 4" },
	{ "TEXT \"see attached\"", "* SEARCH 3" },
	{ "BODY fwd", "* SEARCH" },
	{ "TEXT fwd", "* SEARCH 3" },
};

START_TEST(test_search_decoded)
{
	struct kurir_conn *c = login();
	char cmd[256], want[128], tag[8];
	const char *out;
	size_t i;

	for (i = 0; i < sizeof(decoded_msgs) / sizeof(decoded_msgs[0]);
	    i++) {
		snprintf(tag, sizeof(tag), "a%zu", i);
		has(append(c, tag, "INBOX", "", decoded_msgs[i],
		    strlen(decoded_msgs[i])), "OK [APPENDUID");
	}
	has(mock_sends(c, "s1 SELECT INBOX\r\n"), "* 4 EXISTS");
	for (i = 0; i < sizeof(decoded_cases) / sizeof(decoded_cases[0]);
	    i++) {
		snprintf(cmd, sizeof(cmd), "k%zu SEARCH CHARSET UTF-8 %s\r\n",
		    i, decoded_cases[i].prog);
		out = mock_sends(c, cmd);
		snprintf(want, sizeof(want), "%s\r\nk%zu OK",
		    decoded_cases[i].want, i);
		ck_assert_msg(strstr(out, want) != NULL,
		    "SEARCH %s: wanted <%s>, got:\n%s", decoded_cases[i].prog,
		    decoded_cases[i].want, out);
	}
	mock_disconnect(c);
}
END_TEST

/* RFC 3501 7.4.1: an expunge by another session is not reported during
 * FETCH, STORE or SEARCH (numbers must not shift under the client), but
 * at NOOP and after UID commands. */
START_TEST(test_no_expunge_during)
{
	struct kurir_conn *a = login(), *b = login();
	const char *out;
	int i;

	for (i = 1; i <= 4; i++)
		small_message(a, i);
	has(mock_sends(a, "a1 SELECT INBOX\r\n"), "* 4 EXISTS");
	has(mock_sends(b, "b1 SELECT INBOX\r\n"), "* 4 EXISTS");
	has(mock_sends(a, "a2 STORE 1 +FLAGS (\\Deleted)\r\na3 EXPUNGE\r\n"),
	    "* 1 EXPUNGE");
	out = mock_sends(b, "b2 FETCH 1:* (UID)\r\n");
	hasnt(out, "EXPUNGE");
	/* RFC 2180 4.1: what the view knows is still answered ... */
	has(out, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n");
	has(out, "b2 OK");
	/* ... what needs the message is not, and the FETCH says NO */
	out = mock_sends(b, "b21 FETCH 1:2 (UID BODY.PEEK[])\r\n");
	hasnt(out, "* 1 EXPUNGE");
	hasnt(out, "* 1 FETCH");
	has(out, "* 2 FETCH (UID 2 BODY[] {");
	has(out, "b21 NO [EXPUNGEISSUED]");
	out = mock_sends(b, "b3 STORE 2 +FLAGS (\\Flagged)\r\n");
	hasnt(out, "EXPUNGE");
	has(out, "* 2 FETCH (FLAGS (\\Flagged))\r\nb3 OK");
	out = mock_sends(b, "b4 SEARCH FLAGGED\r\n");
	hasnt(out, "EXPUNGE");
	has(out, "* SEARCH 2\r\nb4 OK");
	out = mock_sends(b, "b5 SEARCH UID 1\r\n");
	hasnt(out, "EXPUNGE");
	/* sequence numbers still count the expunged message */
	has(out, "* SEARCH\r\nb5 OK");
	out = mock_sends(b, "b6 NOOP\r\n");
	has(out, "* 1 EXPUNGE\r\nb6 OK");
	/* a UID command may report it */
	has(mock_sends(a, "a4 STORE 1 +FLAGS (\\Deleted)\r\na5 EXPUNGE\r\n"),
	    "* 1 EXPUNGE");
	out = mock_sends(b, "b7 UID FETCH 1:* (FLAGS)\r\n");
	has(out, "* 1 EXPUNGE\r\nb7 OK");
	out = mock_sends(b, "b8 FETCH 1:* (UID)\r\n");
	has(out, "* 1 FETCH (UID 3)\r\n* 2 FETCH (UID 4)\r\nb8 OK");
	/* CHECK also reports pending changes */
	has(mock_sends(a, "a6 STORE 1 +FLAGS (\\Deleted)\r\na7 EXPUNGE\r\n"),
	    "* 1 EXPUNGE");
	has(mock_sends(b, "b9 CHECK\r\n"), "* 1 EXPUNGE\r\nb9 OK");
	mock_disconnect(a);
	mock_disconnect(b);
}
END_TEST

/* The small extensions: ENABLE, ID, NAMESPACE, UNSELECT (no expunge,
 * unlike CLOSE), CHILDREN attributes, and the special-use folders that
 * exist from the first login on. */
START_TEST(test_extensions)
{
	struct kurir_conn *c = login();
	const char *out;

	out = mock_sends(c, "e1 CAPABILITY\r\n");
	has(out, "LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE "
	    "UNSELECT CHILDREN SPECIAL-USE");
	out = mock_sends(c, "e2 ENABLE CONDSTORE UTF8=ACCEPT\r\n");
	has(out, "* ENABLED\r\ne2 OK");
	has(mock_sends(c, "e3 ENABLE\r\n"), "e3 BAD");
	has(mock_sends(c, "e4 ID NIL\r\n"), "* ID (\"name\" \"kurir\"");
	has(mock_sends(c, "e5 ID (\"name\" \"x\")\r\n"), "e5 OK");
	has(mock_sends(c, "e6 ID foo\r\n"), "e6 BAD");
	has(mock_sends(c, "e7 NAMESPACE\r\n"),
	    "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\ne7 OK");
	out = mock_sends(c, "e8 LIST \"\" *\r\n");
	has(out, "\\Drafts) \"/\" \"Drafts\"");
	has(out, "\\Sent) \"/\" \"Sent\"");
	has(out, "\\Trash) \"/\" \"Trash\"");
	has(out, "\\Junk) \"/\" \"Junk\"");
	has(out, "\\Archive) \"/\" \"Archive\"");
	has(out, "\\HasNoChildren) \"/\" \"INBOX\"");
	has(mock_sends(c, "e9 CREATE Trash/Old\r\n"), "e9 OK");
	out = mock_sends(c, "f1 LIST \"\" Trash*\r\n");
	has(out, "(\\HasChildren \\Trash) \"/\" \"Trash\"");
	has(out, "(\\HasNoChildren) \"/\" \"Trash/Old\"");
	small_message(c, 1);
	has(mock_sends(c, "f2 SELECT INBOX\r\n"), "* 1 EXISTS");
	has(mock_sends(c, "f3 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n"
	    "f4 UNSELECT\r\n"), "f4 OK");
	has(mock_sends(c, "f5 FETCH 1 UID\r\n"), "f5 BAD");
	out = mock_sends(c, "f6 SELECT INBOX\r\n");
	has(out, "* 1 EXISTS");
	has(mock_sends(c, "f7 CLOSE\r\n"), "f7 OK");
	has(mock_sends(c, "f8 STATUS INBOX (MESSAGES)\r\n"),
	    "* STATUS \"INBOX\" (MESSAGES 0)");
	has(mock_sends(c, "f9 UNSELECT\r\n"), "f9 BAD");
	mock_disconnect(c);
}
END_TEST

START_TEST(test_big_fetch)
{
	struct kurir_conn *c = login();
	char *msg, want[128];
	const char *out, *p;
	size_t len = 0, i;

	msg = malloc(1 << 21);
	len += (size_t)sprintf(msg, "Subject: big\r\n\r\n");
	for (i = 0; len < (1 << 20); i++)
		len += (size_t)sprintf(msg + len, "line %zu of a long body "
		    "that keeps going\r\n", i);
	has(append(c, "a1", "INBOX", "", msg, len), "a1 OK");
	has(mock_sends(c, "a2 SELECT INBOX\r\n"), "a2 OK");
	mock_set_high_water(16384);
	out = mock_sends(c, "a3 FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT]<5.10>)"
	    "\r\na4 NOOP\r\n");
	snprintf(want, sizeof(want), "* 1 FETCH (BODY[] {%zu}\r\n", len);
	has(out, want);
	p = strstr(out, want) + strlen(want);
	ck_assert(memcmp(p, msg, len) == 0);
	has(p + len, " BODY[TEXT]<5> {10}\r\n0 of a lon)\r\na3 OK");
	has(out, "a4 OK");
	mock_set_high_water(0);
	free(msg);
	mock_disconnect(c);
}
END_TEST

START_TEST(test_pipelining)
{
	struct kurir_conn *c = login();
	const char *out, *p1, *p2, *p3;

	out = mock_sends(c, "p1 NOOP\r\np2 CAPABILITY\r\np3 LIST \"\" INBOX\r\n"
	    "p4 SELECT INBOX\r\np5 FETCH 1:* FLAGS\r\n");
	p1 = strstr(out, "p1 OK");
	p2 = strstr(out, "p2 OK");
	p3 = strstr(out, "p3 OK");
	ck_assert(p1 != NULL && p2 != NULL && p3 != NULL);
	ck_assert(p1 < p2 && p2 < p3);
	has(out, "p5 BAD");
	mock_disconnect(c);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite *s = suite_create("imap_session");
	TCase *tc = tcase_create(backend);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_login);
	tcase_add_test(tc, test_append_fetch);
	tcase_add_test(tc, test_store_search_copy);
	tcase_add_test(tc, test_mailboxes);
	tcase_add_test(tc, test_two_sessions);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_big_fetch);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_search_keys);
	tcase_add_test(tc, test_search_decoded);
	tcase_add_test(tc, test_no_expunge_during);
	tcase_add_test(tc, test_extensions);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	static const char *const backends[] = { "lmdb", "maildir" };
	size_t i;
	int failed = 0, ran = 0;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		SRunner *sr;
		int rc;

		if (argc > 1 && strcmp(argv[1], backends[i]) != 0)
			continue;
		backend = backends[i];
		rc = mock_setup(backend);
		mock_teardown();
		if (rc == 77) {
			printf("%s: storage module not built, skipped\n",
			    backend);
			continue;
		}
		sr = srunner_create(session_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
		ran++;
	}
	if (ran == 0)
		return 77;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
