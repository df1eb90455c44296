/*
 * check_imap_parse.c -- the IMAP command parser, the command assembler
 * (lines + literals, fed at every split point) and sequence sets.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_cmdbuf.h"
#include "imap_parse.h"
#include "imap_utf7.h"

/* Render an argument tree compactly: atoms as is, quoted as "..",
 * literals as {..}, NIL, lists as (..). */
static void
render(const struct imap_arg *a, char *out, size_t cap)
{
	size_t len = strlen(out);

	for (; a != NULL; a = a->next) {
		if (len + 4 >= cap)
			return;
		if (out[0] != '\0' && out[len - 1] != '(')
			out[len++] = ' ';
		out[len] = '\0';
		switch (a->type) {
		case IMAP_ARG_ATOM:
			snprintf(out + len, cap - len, "%s", a->str);
			break;
		case IMAP_ARG_NIL:
			snprintf(out + len, cap - len, "NIL");
			break;
		case IMAP_ARG_QUOTED:
			snprintf(out + len, cap - len, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
			snprintf(out + len, cap - len, "{%s}", a->str);
			break;
		case IMAP_ARG_LIST:
			snprintf(out + len, cap - len, "(");
			render(a->child, out, cap);
			len = strlen(out);
			snprintf(out + len, cap - len, ")");
			break;
		}
		len = strlen(out);
	}
}

struct ptest {
	const char	*in;
	int		 rc;
	const char	*tag;
	const char	*name;
	const char	*args;
};

static const struct ptest ptests[] = {
	{ "a1 NOOP", IMAP_PARSE_OK, "a1", "NOOP", "" },
	{ "a1 noop", IMAP_PARSE_OK, "a1", "NOOP", "" },
	{ "A001 LOGIN alice secret", IMAP_PARSE_OK, "A001", "LOGIN",
	    "alice secret" },
	{ "x LOGIN \"al ice\" \"a\\\"b\\\\c\"", IMAP_PARSE_OK, "x", "LOGIN",
	    "\"al ice\" \"a\"b\\c\"" },
	{ "x LOGIN {5}\r\nalice {3+}\r\nabc", IMAP_PARSE_OK, "x", "LOGIN",
	    "{alice} {abc}" },
	{ "t FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)",
	    IMAP_PARSE_OK, "t", "FETCH",
	    "1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)" },
	{ "t UID FETCH 1,3:5 (UID)", IMAP_PARSE_OK, "t", "UID",
	    "FETCH 1,3:5 (UID)" },
	{ "t STORE 1 +FLAGS.SILENT (\\Seen \\Deleted $Label1)",
	    IMAP_PARSE_OK, "t", "STORE",
	    "1 +FLAGS.SILENT (\\Seen \\Deleted $Label1)" },
	{ "t LIST \"\" %/*", IMAP_PARSE_OK, "t", "LIST", "\"\" %/*" },
	{ "t APPEND INBOX () NIL", IMAP_PARSE_OK, "t", "APPEND",
	    "INBOX () NIL" },
	{ "t SEARCH (OR FROM a (TO b)) NOT SEEN", IMAP_PARSE_OK, "t",
	    "SEARCH", "(OR FROM a (TO b)) NOT SEEN" },
	{ "t ID (\"name\" \"x\")", IMAP_PARSE_OK, "t", "ID",
	    "(\"name\" \"x\")" },
	{ "t X {0}\r\n", IMAP_PARSE_OK, "t", "X", "{}" },
	/* errors */
	{ "", IMAP_PARSE_NOTAG, "", "", NULL },
	{ "NOOP", IMAP_PARSE_NOTAG, "", "", NULL },
	{ "+x NOOP", IMAP_PARSE_NOTAG, "", "", NULL },
	{ "a* NOOP", IMAP_PARSE_NOTAG, "", "", NULL },
	{ "a1 ", IMAP_PARSE_BAD, "a1", "", NULL },
	{ "a1 LOGIN \"abc", IMAP_PARSE_BAD, "a1", "LOGIN", NULL },
	{ "a1 LOGIN \"a\\bc\"", IMAP_PARSE_BAD, "a1", "LOGIN", NULL },
	{ "a1 X (a b", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X a b)", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X {5}\r\nabc", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X {5}abcde", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X a  b", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X a ", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X \"a\"b", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X BODY[HEADER", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X \x01", IMAP_PARSE_BAD, "a1", "X", NULL },
	{ "a1 X ((((((((((((((((((((((((((((((((((a)))))))))))))))))))))"
	    "))))))))))))", IMAP_PARSE_BAD, "a1", "X", NULL },
};

START_TEST(test_parse_table)
{
	const struct ptest *t = &ptests[_i];
	struct imap_cmd cmd;
	const char *err;
	char out[512] = "";
	int rc;

	rc = imap_parse_command(t->in, strlen(t->in), 1000, &cmd, &err);
	ck_assert_msg(rc == t->rc, "%s: rc %d, want %d (%s)", t->in, rc,
	    t->rc, err);
	if (rc != IMAP_PARSE_NOTAG)
		ck_assert_str_eq(cmd.tag, t->tag);
	if (rc == IMAP_PARSE_OK) {
		ck_assert_str_eq(cmd.name, t->name);
		render(cmd.args, out, sizeof(out));
		ck_assert_str_eq(out, t->args);
	}
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_parse_nil_and_literal_nul)
{
	static const char in[] = "t X nil {3}\r\na\0b";
	struct imap_cmd cmd;
	const char *err;

	ck_assert_int_eq(imap_parse_command(in, sizeof(in) - 1, 10, &cmd,
	    &err), IMAP_PARSE_OK);
	ck_assert_uint_eq(cmd.args->type, IMAP_ARG_NIL);
	ck_assert_uint_eq(cmd.args->next->type, IMAP_ARG_LITERAL);
	ck_assert_uint_eq(cmd.args->next->len, 3);
	ck_assert(memcmp(cmd.args->next->str, "a\0b", 3) == 0);
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_parse_max_args)
{
	struct imap_cmd cmd;
	const char *err;
	const char *in = "t X a b c d e f";

	ck_assert_int_eq(imap_parse_command(in, strlen(in), 5, &cmd, &err),
	    IMAP_PARSE_BAD);
	imap_cmd_free(&cmd);
	ck_assert_int_eq(imap_parse_command(in, strlen(in), 6, &cmd, &err),
	    IMAP_PARSE_OK);
	ck_assert_uint_eq(imap_arg_count(cmd.args), 6);
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_literal_tail)
{
	uint64_t n;
	int sync;

	ck_assert_int_eq(imap_literal_tail("a {12}", 6, &n, &sync), 1);
	ck_assert_uint_eq(n, 12);
	ck_assert_int_eq(sync, 1);
	ck_assert_int_eq(imap_literal_tail("a {7+}", 6, &n, &sync), 1);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(sync, 0);
	ck_assert_int_eq(imap_literal_tail("a {}", 4, &n, &sync), 0);
	ck_assert_int_eq(imap_literal_tail("a 12}", 5, &n, &sync), 0);
	ck_assert_int_eq(imap_literal_tail("}", 1, &n, &sync), 0);
	ck_assert_int_eq(imap_literal_tail("{+}", 3, &n, &sync), 0);
	ck_assert_int_eq(imap_literal_tail("a {1234567890123456789}", 23,
	    &n, &sync), -1);
}
END_TEST

/*
 * A small stand-in for the core: split a byte stream into lines and
 * literal reads, delivering the literal in chunks of `chunk` bytes, and
 * return the assembled command.
 */
static int
assemble(const char *in, size_t inlen, size_t chunk, struct imap_cmdbuf *cb)
{
	size_t pos = 0;

	for (;;) {
		const char *nl = memchr(in + pos, '\n', inlen - pos);
		size_t len;
		uint64_t lit;
		int sync, rc;

		if (nl == NULL)
			return -1;
		len = (size_t)(nl - (in + pos));
		if (len > 0 && in[pos + len - 1] == '\r')
			len--;
		rc = imap_cmdbuf_line(cb, in + pos, len, &lit, &sync);
		pos = (size_t)(nl - in) + 1;
		if (rc == IMAP_CB_COMPLETE)
			return 0;
		if (rc != IMAP_CB_LITERAL)
			return rc;
		while (lit > 0) {
			size_t n = lit < chunk ? (size_t)lit : chunk;

			if (pos + n > inlen)
				return -1;
			imap_cmdbuf_data(cb, in + pos, n);
			pos += n;
			lit -= n;
		}
	}
}

START_TEST(test_cmdbuf_split)
{
	static const char in[] =
	    "a1 LOGIN {5}\r\nalice {11+}\r\nse\r\ncret\0xy\r\n";
	struct imap_cmdbuf cb;
	struct imap_cmd cmd;
	const char *err;
	size_t chunk;

	for (chunk = 1; chunk <= 12; chunk++) {
		imap_cmdbuf_init(&cb, 1024, 100);
		ck_assert_int_eq(assemble(in, sizeof(in) - 1, chunk, &cb), 0);
		ck_assert_int_eq(imap_parse_command(cb.buf, cb.len, 10, &cmd,
		    &err), IMAP_PARSE_OK);
		ck_assert_str_eq(cmd.name, "LOGIN");
		ck_assert_str_eq(cmd.args->str, "alice");
		ck_assert_uint_eq(cmd.args->next->len, 11);
		ck_assert(memcmp(cmd.args->next->str, "se\r\ncret\0xy", 11)
		    == 0);
		imap_cmd_free(&cmd);
		imap_cmdbuf_free(&cb);
	}
}
END_TEST

START_TEST(test_cmdbuf_limits)
{
	struct imap_cmdbuf cb;
	uint64_t lit;
	int sync;

	imap_cmdbuf_init(&cb, 64, 10);
	ck_assert_int_eq(imap_cmdbuf_line(&cb, "a X {11}", 8, &lit, &sync),
	    IMAP_CB_TOOBIG);
	imap_cmdbuf_reset(&cb);
	ck_assert_int_eq(imap_cmdbuf_line(&cb, "a X {11+}", 9, &lit, &sync),
	    IMAP_CB_TOOBIG_CLOSE);
	imap_cmdbuf_reset(&cb);
	ck_assert_int_eq(imap_cmdbuf_line(&cb, "a X {10}", 8, &lit, &sync),
	    IMAP_CB_LITERAL);
	ck_assert_uint_eq(lit, 10);
	ck_assert_int_eq(sync, 1);
	imap_cmdbuf_free(&cb);
	/* The literal must fit in what is left of the command buffer. */
	imap_cmdbuf_init(&cb, 20, 1000);
	ck_assert_int_eq(imap_cmdbuf_line(&cb, "a X {50}", 8, &lit, &sync),
	    IMAP_CB_TOOBIG);
	imap_cmdbuf_reset(&cb);
	ck_assert_int_eq(imap_cmdbuf_line(&cb,
	    "a X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 36, &lit, &sync),
	    IMAP_CB_TOOLONG);
	imap_cmdbuf_free(&cb);
}
END_TEST

START_TEST(test_seqset)
{
	struct imap_seq_range r[8];
	int n;

	n = imap_seqset_parse("1,3:5,9:*", r, 8);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(r[1].first, 3);
	ck_assert_uint_eq(r[1].last, 5);
	ck_assert_uint_eq(r[2].last, UINT32_MAX);
	imap_seqset_resolve(r, (size_t)n, 7);
	ck_assert_uint_eq(r[2].first, 7);
	ck_assert_uint_eq(r[2].last, 9);
	ck_assert(imap_seqset_contains(r, (size_t)n, 4));
	ck_assert(!imap_seqset_contains(r, (size_t)n, 6));
	n = imap_seqset_parse("5:2", r, 8);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(r[0].first, 2);
	ck_assert_int_eq(imap_seqset_parse("", r, 8), -1);
	ck_assert_int_eq(imap_seqset_parse("0", r, 8), -1);
	ck_assert_int_eq(imap_seqset_parse("1,", r, 8), -1);
	ck_assert_int_eq(imap_seqset_parse("1::2", r, 8), -1);
	ck_assert_int_eq(imap_seqset_parse("4294967296", r, 8), -1);
	ck_assert_int_eq(imap_seqset_parse("1,2,3", r, 2), -1);
	ck_assert_int_eq(imap_seqset_parse("a", r, 8), -1);
}
END_TEST

START_TEST(test_utf7)
{
	static const struct {
		const char	*wire;
		const char	*utf8;
	} ok[] = {
		{ "INBOX", "INBOX" },
		{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
		{ "A&-B", "A&B" },
		{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		{ "&2D3eAA-", "\xf0\x9f\x98\x80" },
	};
	static const char *const bad[] = {
		"&AGE-", "&U,B", "&Jjo", "&2D0-", "&3gA-", "a\x01b", "&U,BTF-",
		"caf\xc3\xa9",
	};
	char out[256], back[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(imap_utf7_decode(ok[i].wire,
		    strlen(ok[i].wire), out, sizeof(out)), 0);
		ck_assert_str_eq(out, ok[i].utf8);
		ck_assert_int_eq(imap_utf7_encode(out, back, sizeof(back)), 0);
		ck_assert_str_eq(back, ok[i].wire);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(imap_utf7_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out)) == -1, "accepted %s", bad[i]);
	ck_assert_int_eq(imap_mbox_from_wire("inbox/Sub", 9, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "INBOX/Sub");
	ck_assert_int_eq(imap_utf7_decode("abcdef", 6, out, 4), -1);
	ck_assert_int_eq(imap_utf7_encode("\xff", back, sizeof(back)), -1);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite *s = suite_create("imap_parse");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_table, 0,
	    (int)(sizeof(ptests) / sizeof(ptests[0])));
	tcase_add_test(tc, test_parse_nil_and_literal_nul);
	tcase_add_test(tc, test_parse_max_args);
	tcase_add_test(tc, test_literal_tail);
	suite_add_tcase(s, tc);
	tc = tcase_create("cmdbuf");
	tcase_add_test(tc, test_cmdbuf_split);
	tcase_add_test(tc, test_cmdbuf_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("seqset");
	tcase_add_test(tc, test_seqset);
	tcase_add_test(tc, test_utf7);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
