/*
 * check_pop3_parse.c -- the POP3 command parser: keywords, argument
 * counts, PASS byte fidelity, bad bytes, and strict message numbers.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_parse.h"

struct parse_case {
	const char	*line;
	size_t		 len;		/* 0: strlen(line) */
	int		 result;
	int		 id;
	size_t		 nargs;
	const char	*arg0;
	const char	*arg1;
};

static const struct parse_case parse_cases[] = {
	{ "STAT", 0, POP3_PARSE_OK, POP3_CMD_STAT, 0, NULL, NULL },
	{ "stat", 0, POP3_PARSE_OK, POP3_CMD_STAT, 0, NULL, NULL },
	{ "StAt   ", 0, POP3_PARSE_OK, POP3_CMD_STAT, 0, NULL, NULL },
	{ "  NOOP", 0, POP3_PARSE_OK, POP3_CMD_NOOP, 0, NULL, NULL },
	{ "STAT 1", 0, POP3_PARSE_SYNTAX, POP3_CMD_STAT, 0, NULL, NULL },
	{ "LIST", 0, POP3_PARSE_OK, POP3_CMD_LIST, 0, NULL, NULL },
	{ "LIST 12", 0, POP3_PARSE_OK, POP3_CMD_LIST, 1, "12", NULL },
	{ "list   3  ", 0, POP3_PARSE_OK, POP3_CMD_LIST, 1, "3", NULL },
	{ "LIST 1 2", 0, POP3_PARSE_SYNTAX, POP3_CMD_LIST, 1, NULL, NULL },
	{ "RETR", 0, POP3_PARSE_SYNTAX, POP3_CMD_RETR, 0, NULL, NULL },
	{ "RETR 5", 0, POP3_PARSE_OK, POP3_CMD_RETR, 1, "5", NULL },
	{ "DELE 1", 0, POP3_PARSE_OK, POP3_CMD_DELE, 1, "1", NULL },
	{ "TOP 1 10", 0, POP3_PARSE_OK, POP3_CMD_TOP, 2, "1", "10" },
	{ "TOP 1", 0, POP3_PARSE_SYNTAX, POP3_CMD_TOP, 1, NULL, NULL },
	{ "TOP 1 2 3", 0, POP3_PARSE_SYNTAX, POP3_CMD_TOP, 2, NULL, NULL },
	{ "UIDL", 0, POP3_PARSE_OK, POP3_CMD_UIDL, 0, NULL, NULL },
	{ "UIDL 7", 0, POP3_PARSE_OK, POP3_CMD_UIDL, 1, "7", NULL },
	{ "RSET", 0, POP3_PARSE_OK, POP3_CMD_RSET, 0, NULL, NULL },
	{ "QUIT", 0, POP3_PARSE_OK, POP3_CMD_QUIT, 0, NULL, NULL },
	{ "CAPA", 0, POP3_PARSE_OK, POP3_CMD_CAPA, 0, NULL, NULL },
	{ "STLS", 0, POP3_PARSE_OK, POP3_CMD_STLS, 0, NULL, NULL },
	{ "USER alice@example.org", 0, POP3_PARSE_OK, POP3_CMD_USER, 1,
	    "alice@example.org", NULL },
	{ "USER a b  ", 0, POP3_PARSE_OK, POP3_CMD_USER, 1, "a b", NULL },
	{ "USER", 0, POP3_PARSE_SYNTAX, POP3_CMD_USER, 0, NULL, NULL },
	{ "USER   ", 0, POP3_PARSE_SYNTAX, POP3_CMD_USER, 0, NULL, NULL },
	{ "PASS sec ret ", 0, POP3_PARSE_OK, POP3_CMD_PASS, 1, "sec ret ",
	    NULL },
	{ "PASS  lead", 0, POP3_PARSE_OK, POP3_CMD_PASS, 1, " lead", NULL },
	{ "PASS a\tb", 0, POP3_PARSE_OK, POP3_CMD_PASS, 1, "a\tb", NULL },
	{ "PASS", 0, POP3_PARSE_SYNTAX, POP3_CMD_PASS, 0, NULL, NULL },
	{ "PASS ", 0, POP3_PARSE_SYNTAX, POP3_CMD_PASS, 0, NULL, NULL },
	{ "AUTH", 0, POP3_PARSE_OK, POP3_CMD_AUTH, 0, NULL, NULL },
	{ "AUTH PLAIN", 0, POP3_PARSE_OK, POP3_CMD_AUTH, 1, "PLAIN", NULL },
	{ "AUTH PLAIN =", 0, POP3_PARSE_OK, POP3_CMD_AUTH, 2, "PLAIN", "=" },
	{ "AUTH PLAIN a b", 0, POP3_PARSE_SYNTAX, POP3_CMD_AUTH, 2, NULL,
	    NULL },
	{ "", 0, POP3_PARSE_EMPTY, 0, 0, NULL, NULL },
	{ "    ", 0, POP3_PARSE_EMPTY, 0, 0, NULL, NULL },
	{ "XYZZY", 0, POP3_PARSE_UNKNOWN, 0, 0, NULL, NULL },
	{ "STATS", 0, POP3_PARSE_UNKNOWN, 0, 0, NULL, NULL },
	{ "STA", 0, POP3_PARSE_UNKNOWN, 0, 0, NULL, NULL },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fb", 0,
	    POP3_PARSE_UNKNOWN, 0, 0, NULL, NULL },
	{ "LIST\t1", 0, POP3_PARSE_UNKNOWN, 0, 0, NULL, NULL },
	{ "ST\0AT", 5, POP3_PARSE_BADCHAR, 0, 0, NULL, NULL },
	{ "STAT\x01", 0, POP3_PARSE_BADCHAR, 0, 0, NULL, NULL },
	{ "PASS a\rb", 0, POP3_PARSE_BADCHAR, 0, 0, NULL, NULL },
	{ "RETR 1\x7f", 0, POP3_PARSE_BADCHAR, 0, 0, NULL, NULL },
	{ "\xff\xfe", 0, POP3_PARSE_UNKNOWN, 0, 0, NULL, NULL },
};

START_TEST(test_parse_table)
{
	const struct parse_case *pc = &parse_cases[_i];
	struct pop3_cmd cmd;
	size_t len = pc->len != 0 ? pc->len : strlen(pc->line);
	char *buf;
	int r;

	/* The core hands lines NUL-terminated at line[len]. */
	buf = malloc(len + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, pc->line, len);
	buf[len] = '\0';
	r = pop3_parse(buf, len, &cmd);
	ck_assert_msg(r == pc->result, "\"%s\": result %d, want %d",
	    pc->line, r, pc->result);
	if (r == POP3_PARSE_OK || r == POP3_PARSE_SYNTAX)
		ck_assert_int_eq(cmd.id, pc->id);
	if (r == POP3_PARSE_OK) {
		ck_assert_uint_eq(cmd.nargs, pc->nargs);
		if (pc->arg0 != NULL)
			ck_assert_str_eq(cmd.args[0], pc->arg0);
		if (pc->arg1 != NULL)
			ck_assert_str_eq(cmd.args[1], pc->arg1);
	}
	free(buf);
}
END_TEST

/* Every prefix of every case parses without reading past the end. */
START_TEST(test_parse_prefixes)
{
	const struct parse_case *pc = &parse_cases[_i];
	size_t len = pc->len != 0 ? pc->len : strlen(pc->line), n;
	struct pop3_cmd cmd;
	char *buf;

	for (n = 0; n <= len; n++) {
		buf = malloc(n + 1);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, pc->line, n);
		buf[n] = '\0';
		(void)pop3_parse(buf, n, &cmd);
		free(buf);
	}
}
END_TEST

struct num_case {
	const char	*s;
	int		 ok;
	uint32_t	 v;
};

static const struct num_case num_cases[] = {
	{ "1", 1, 1 }, { "0", 1, 0 }, { "007", 1, 7 },
	{ "4294967295", 1, 4294967295u }, { "4294967296", 0, 0 },
	{ "12345678901", 0, 0 }, { "00000000001", 0, 0 }, { "", 0, 0 },
	{ "-1", 0, 0 }, { "+1", 0, 0 }, { "1a", 0, 0 }, { " 1", 0, 0 },
	{ "1 ", 0, 0 }, { "0x10", 0, 0 },
};

START_TEST(test_parse_num)
{
	const struct num_case *nc = &num_cases[_i];
	uint32_t v = 12345;
	int r;

	r = pop3_parse_num(nc->s, &v);
	ck_assert_msg((r == 0) == nc->ok, "\"%s\": %d", nc->s, r);
	if (nc->ok)
		ck_assert_uint_eq(v, nc->v);
	else
		ck_assert_uint_eq(v, 12345);
}
END_TEST

static Suite *
pop3_parse_suite(void)
{
	Suite *s = suite_create("pop3_parse");
	TCase *tc;

	tc = tcase_create("commands");
	tcase_add_loop_test(tc, test_parse_table, 0,
	    sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_loop_test(tc, test_parse_prefixes, 0,
	    sizeof(parse_cases) / sizeof(parse_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("numbers");
	tcase_add_loop_test(tc, test_parse_num, 0,
	    sizeof(num_cases) / sizeof(num_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
