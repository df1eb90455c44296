/*
 * check_smtp_parse.c -- table tests for the SMTP module's pure parsers:
 * verbs, RFC 5321 paths (with SMTPUTF8), MAIL and RCPT parameters,
 * xtext, BDAT arguments, HELO names, and the DATA line filter with
 * dot-unstuffing and the SMTP smuggling cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "smtp.h"

static const struct {
	const char	*line;
	enum smtp_cmd	 cmd;
	const char	*args;
} verb_cases[] = {
	{ "EHLO mx.example", SMTP_CMD_EHLO, "mx.example" },
	{ "ehlo mx.example", SMTP_CMD_EHLO, "mx.example" },
	{ "HELO x", SMTP_CMD_HELO, "x" },
	{ "MAIL FROM:<a@b>", SMTP_CMD_MAIL, "FROM:<a@b>" },
	{ "mail  from:<a@b>", SMTP_CMD_MAIL, "from:<a@b>" },
	{ "RCPT TO:<a@b>", SMTP_CMD_RCPT, "TO:<a@b>" },
	{ "DATA", SMTP_CMD_DATA, "" },
	{ "BDAT 10 LAST", SMTP_CMD_BDAT, "10 LAST" },
	{ "RSET", SMTP_CMD_RSET, "" },
	{ "NOOP", SMTP_CMD_NOOP, "" },
	{ "QUIT", SMTP_CMD_QUIT, "" },
	{ "VRFY x", SMTP_CMD_VRFY, "x" },
	{ "EXPN x", SMTP_CMD_EXPN, "x" },
	{ "HELP", SMTP_CMD_HELP, "" },
	{ "StartTLS", SMTP_CMD_STARTTLS, "" },
	{ "AUTH PLAIN AGFsaWNl", SMTP_CMD_AUTH, "PLAIN AGFsaWNl" },
	{ "TURN", SMTP_CMD_NOTIMPL, "" },
	{ "ETRN x", SMTP_CMD_NOTIMPL, "x" },
	{ "GET / HTTP/1.1", SMTP_CMD_HTTP, "/ HTTP/1.1" },
	{ "DATAX", SMTP_CMD_UNKNOWN, NULL },
	{ "MAIL:FROM", SMTP_CMD_UNKNOWN, NULL },
	{ "", SMTP_CMD_UNKNOWN, NULL },
	{ " EHLO x", SMTP_CMD_UNKNOWN, NULL },
	{ "XYZZY", SMTP_CMD_UNKNOWN, NULL },
	{ "1234", SMTP_CMD_UNKNOWN, NULL },
};

START_TEST(test_verb)
{
	const char *args;
	enum smtp_cmd c;

	c = smtp_parse_verb(verb_cases[_i].line, strlen(verb_cases[_i].line),
	    &args);
	ck_assert_int_eq(c, verb_cases[_i].cmd);
	if (verb_cases[_i].args != NULL)
		ck_assert_str_eq(args, verb_cases[_i].args);
}
END_TEST

static const struct {
	const char	*in;
	const char	*prefix;
	int		 null_ok, utf8;
	int		 r;
	const char	*out;
	const char	*rest;
} path_cases[] = {
	{ "FROM:<a@b.example>", "FROM:", 1, 0, 0, "a@b.example", "" },
	{ "from:<a@B.Example> SIZE=10", "FROM:", 1, 0, 0, "a@b.example",
	    " SIZE=10" },
	{ "FROM: <a@b>", "FROM:", 1, 0, 0, "a@b", "" },
	{ "FROM:<>", "FROM:", 1, 0, 0, "", "" },
	{ "TO:<>", "TO:", 0, 0, SMTP_PE_SYNTAX, NULL, NULL },
	{ "TO:<Postmaster>", "TO:", 0, 0, 0, "postmaster", "" },
	{ "FROM:<postmaster>", "FROM:", 1, 0, SMTP_PE_SYNTAX, NULL, NULL },
	{ "TO:<@relay.example,@r2.example:joe@x.example>", "TO:", 0, 0, 0,
	    "joe@x.example", "" },
	{ "TO:<@relay.example:joe@x.example>", "TO:", 0, 0, 0,
	    "joe@x.example", "" },
	{ "TO:<@relay.example joe@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<\"joe\"@x.example>", "TO:", 0, 0, 0, "joe@x.example", "" },
	{ "TO:<\"joe doe\"@x.example>", "TO:", 0, 0, 0,
	    "\"joe doe\"@x.example", "" },
	{ "TO:<\"a\\\"b\"@x>", "TO:", 0, 0, 0, "\"a\\\"b\"@x", "" },
	{ "TO:<\"unterminated@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a.b.c+tag@x.example>", "TO:", 0, 0, 0, "a.b.c+tag@x.example",
	    "" },
	{ "TO:<a..b@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<.a@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a.@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@[192.0.2.1]>", "TO:", 0, 0, 0, "a@[192.0.2.1]", "" },
	{ "TO:<a@[IPv6:2001:db8::1]>", "TO:", 0, 0, 0,
	    "a@[ipv6:2001:db8::1]", "" },
	{ "TO:<a@[300.1.1.1]>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@-x.example>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@x-.example>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@x..example>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@x.example.>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@x_y.example>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:a@x", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@x", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO <a@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "FROM:<a@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a b@x>", "TO:", 0, 0, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<a@x>junk", "TO:", 0, 0, 0, "a@x", "junk" },
	{ "TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", "TO:", 0, 0,
	    SMTP_PE_UTF8, 0, 0 },
	{ "TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", "TO:", 0, 1, 0,
	    "j\xc3\xb6rg@b\xc3\xbc" "cher.example", "" },
	{ "TO:<j\xc3rg@x.example>", "TO:", 0, 1, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<j\xc0\xafrg@x.example>", "TO:", 0, 1, SMTP_PE_SYNTAX, 0, 0 },
	{ "TO:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x>",
	    "TO:", 0, 0, SMTP_PE_TOOLONG, 0, 0 },
	{ "TO:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x>",
	    "TO:", 0, 0, 0,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x",
	    "" },
};

START_TEST(test_path)
{
	char out[SMTP_PATH_MAX + 1];
	const char *rest = NULL;
	int r;

	r = smtp_parse_path(path_cases[_i].in, path_cases[_i].prefix,
	    path_cases[_i].null_ok, path_cases[_i].utf8, out, sizeof(out),
	    &rest);
	ck_assert_msg(r == path_cases[_i].r, "%s: %d", path_cases[_i].in, r);
	if (r == 0) {
		ck_assert_str_eq(out, path_cases[_i].out);
		ck_assert_str_eq(rest, path_cases[_i].rest);
	}
}
END_TEST

START_TEST(test_path_long_domain)
{
	char in[700], out[SMTP_PATH_MAX + 1];
	const char *rest;
	size_t i, n;

	/* 63-character labels until the domain passes 255 octets */
	n = (size_t)snprintf(in, sizeof(in), "TO:<a@");
	for (i = 0; i < 5; i++) {
		memset(in + n, 'a', 63);
		n += 63;
		in[n++] = '.';
	}
	memcpy(in + n, "com>", 5);
	ck_assert_int_eq(smtp_parse_path(in, "TO:", 0, 0, out, sizeof(out),
	    &rest), SMTP_PE_TOOLONG);
	/* a 64-character label is not a domain */
	n = (size_t)snprintf(in, sizeof(in), "TO:<a@");
	memset(in + n, 'b', 64);
	memcpy(in + n + 64, ".com>", 6);
	ck_assert_int_eq(smtp_parse_path(in, "TO:", 0, 0, out, sizeof(out),
	    &rest), SMTP_PE_SYNTAX);
}
END_TEST

static const struct {
	const char	*in;
	int		 r;
	uint64_t	 size;
	uint32_t	 body, utf8, ret;
	const char	*envid;
} mail_cases[] = {
	{ "", 0, 0, 0, 0, 0, "" },
	{ " SIZE=1000", 0, 1000, 0, 0, 0, "" },
	{ " size=1000 BODY=8BITMIME", 0, 1000, SMTP_BODY_8BITMIME, 0, 0, "" },
	{ " BODY=7bit", 0, 0, SMTP_BODY_7BIT, 0, 0, "" },
	{ " BODY=BINARYMIME", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " SMTPUTF8", 0, 0, 0, 1, 0, "" },
	{ " SMTPUTF8=yes", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " RET=HDRS ENVID=QQ314159", 0, 0, 0, 0, SMTP_RET_HDRS, "QQ314159" },
	{ " RET=FULL", 0, 0, 0, 0, SMTP_RET_FULL, "" },
	{ " RET=ALL", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " ENVID=a+2Bb", 0, 0, 0, 0, 0, "a+2Bb" },
	{ " ENVID=a+2bb", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " ENVID=a+2", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " AUTH=<>", 0, 0, 0, 0, 0, "" },
	{ " AUTH=joe+40x.example", 0, 0, 0, 0, 0, "" },
	{ " SIZE=", SMTP_PE_SYNTAX, 0, 0, 0, 0, 0 },
	{ " SIZE=12x", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " SIZE=99999999999999999999", SMTP_PE_PARAMVAL, 0, 0, 0, 0, 0 },
	{ " SIZE=1 SIZE=2", SMTP_PE_DUPPARAM, 0, 0, 0, 0, 0 },
	{ " X-FOO=bar", SMTP_PE_PARAM, 0, 0, 0, 0, 0 },
	{ " =x", SMTP_PE_SYNTAX, 0, 0, 0, 0, 0 },
	{ "SIZE=1", SMTP_PE_SYNTAX, 0, 0, 0, 0, 0 },
	{ " SIZE=1   ", 0, 1, 0, 0, 0, "" },
	{ " SIZE=1=2", SMTP_PE_SYNTAX, 0, 0, 0, 0, 0 },
	{ " SIZE=\x01", SMTP_PE_SYNTAX, 0, 0, 0, 0, 0 },
};

START_TEST(test_mail_params)
{
	struct smtp_mail_params p;
	int r;

	r = smtp_parse_mail_params(mail_cases[_i].in, &p);
	ck_assert_msg(r == mail_cases[_i].r, "%s: %d", mail_cases[_i].in, r);
	if (r != 0)
		return;
	ck_assert_uint_eq(p.size, mail_cases[_i].size);
	ck_assert_uint_eq(p.body, mail_cases[_i].body);
	ck_assert_uint_eq(p.smtputf8, mail_cases[_i].utf8);
	ck_assert_uint_eq(p.ret, mail_cases[_i].ret);
	ck_assert_str_eq(p.envid, mail_cases[_i].envid);
}
END_TEST

static const struct {
	const char	*in;
	int		 r;
	uint32_t	 notify;
	const char	*orcpt;
} rcpt_cases[] = {
	{ "", 0, 0, "" },
	{ " NOTIFY=SUCCESS,FAILURE", 0,
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, "" },
	{ " NOTIFY=never", 0, SMTP_NOTIFY_NEVER, "" },
	{ " NOTIFY=NEVER,DELAY", SMTP_PE_PARAMVAL, 0, 0 },
	{ " NOTIFY=SUCCESS,SUCCESS", SMTP_PE_PARAMVAL, 0, 0 },
	{ " NOTIFY=", SMTP_PE_SYNTAX, 0, 0 },
	{ " NOTIFY=SOMETIMES", SMTP_PE_PARAMVAL, 0, 0 },
	{ " ORCPT=rfc822;joe+40x.example", 0, 0, "rfc822;joe+40x.example" },
	{ " ORCPT=rfc822;", SMTP_PE_PARAMVAL, 0, 0 },
	{ " ORCPT=;joe", SMTP_PE_PARAMVAL, 0, 0 },
	{ " ORCPT=joe", SMTP_PE_PARAMVAL, 0, 0 },
	{ " ORCPT=rfc822;a ORCPT=rfc822;b", SMTP_PE_DUPPARAM, 0, 0 },
	{ " SIZE=10", SMTP_PE_PARAM, 0, 0 },
};

START_TEST(test_rcpt_params)
{
	struct smtp_rcpt_params p;
	int r;

	r = smtp_parse_rcpt_params(rcpt_cases[_i].in, &p);
	ck_assert_msg(r == rcpt_cases[_i].r, "%s: %d", rcpt_cases[_i].in, r);
	if (r != 0)
		return;
	ck_assert_uint_eq(p.notify, rcpt_cases[_i].notify);
	ck_assert_str_eq(p.orcpt, rcpt_cases[_i].orcpt);
}
END_TEST

START_TEST(test_bdat)
{
	uint64_t size;
	int last;

	ck_assert_int_eq(smtp_parse_bdat("100", &size, &last), 0);
	ck_assert_uint_eq(size, 100);
	ck_assert_int_eq(last, 0);
	ck_assert_int_eq(smtp_parse_bdat("0 LAST", &size, &last), 0);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(smtp_parse_bdat("7 last", &size, &last), 0);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(smtp_parse_bdat("", &size, &last), SMTP_PE_SYNTAX);
	ck_assert_int_eq(smtp_parse_bdat("-1", &size, &last), SMTP_PE_SYNTAX);
	ck_assert_int_eq(smtp_parse_bdat("1 FIRST", &size, &last),
	    SMTP_PE_SYNTAX);
	ck_assert_int_eq(smtp_parse_bdat("1 LASTX", &size, &last),
	    SMTP_PE_SYNTAX);
	ck_assert_int_eq(smtp_parse_bdat("99999999999999999999", &size,
	    &last), SMTP_PE_SYNTAX);
	ck_assert_int_eq(smtp_parse_bdat("12a", &size, &last),
	    SMTP_PE_SYNTAX);
}
END_TEST

START_TEST(test_helo)
{
	char out[SMTP_DOMAIN_MAX + 3];

	ck_assert_int_eq(smtp_parse_helo("mx.example", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "mx.example");
	ck_assert_int_eq(smtp_parse_helo("[192.0.2.1] extra", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "[192.0.2.1]");
	ck_assert_int_eq(smtp_parse_helo("", out, sizeof(out)), -1);
	ck_assert_int_eq(smtp_parse_helo("a\x01" "b", out, sizeof(out)), -1);
	ck_assert_int_eq(smtp_parse_helo("\xc3\xa9", out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_xtext)
{
	ck_assert_int_eq(smtp_xtext_valid("abc", 3), 1);
	ck_assert_int_eq(smtp_xtext_valid("a+20b", 5), 1);
	ck_assert_int_eq(smtp_xtext_valid("a+2", 3), 0);
	ck_assert_int_eq(smtp_xtext_valid("a+", 2), 0);
	ck_assert_int_eq(smtp_xtext_valid("a+zz", 4), 0);
	ck_assert_int_eq(smtp_xtext_valid("a=b", 3), 0);
	ck_assert_int_eq(smtp_xtext_valid("a b", 3), 0);
}
END_TEST

/* ---- the DATA filter --------------------------------------------------- */

/* Run raw DATA bytes (after the 354) through a line splitter like the
 * core's and the filter; returns the stored text, sets *end_r to the
 * offset just past the end-of-data mark or -1. */
static char *
dot_run(const char *in, size_t len, struct smtp_dot *d, long *end_r)
{
	char *store = calloc(1, len * 2 + 3);
	size_t n = 0, pos = 0, l;
	const char *lf, *out;
	size_t outlen;
	uint32_t flags;

	smtp_dot_init(d);
	*end_r = -1;
	while (pos < len && (lf = memchr(in + pos, '\n', len - pos)) != NULL) {
		l = lf - (in + pos);
		flags = KURIR_LINE_LF;
		if (l > 0 && in[pos + l - 1] == '\r') {
			l--;
			flags = KURIR_LINE_CRLF;
		}
		if (smtp_dot_line(d, in + pos, l, flags, &out, &outlen)) {
			*end_r = lf - in + 1;
			break;
		}
		memcpy(store + n, out, outlen);
		n += outlen;
		memcpy(store + n, "\r\n", 2);
		n += 2;
		pos = lf - in + 1;
	}
	store[n] = '\0';
	return (store);
}

static const struct {
	const char	*in;
	long		 end;		/* -1: no end of data */
	const char	*stored;	/* up to the end (or all) */
	int		 bare;
} dot_cases[] = {
	{ "a\r\n.\r\n", 6, "a\r\n", 0 },
	{ ".\r\n", 3, "", 0 },
	{ "..\r\n.\r\n", 7, ".\r\n", 0 },
	{ "..x\r\n...\r\n.\r\n", 13, ".x\r\n..\r\n", 0 },
	{ ".x\r\n.\r\n", 7, "x\r\n", 0 },
	/* smuggling: none of these end the message */
	{ "a\r\n.\nMAIL FROM:<x@y>\r\n", -1,
	    "a\r\n\r\nMAIL FROM:<x@y>\r\n", 1 },
	{ "a\n.\r\nRCPT TO:<x@y>\r\n", -1, "a\r\n\r\nRCPT TO:<x@y>\r\n", 1 },
	{ "a\n.\nx\r\n", -1, "a\r\n\r\nx\r\n", 1 },
	{ "a\r.\r\r\n", -1, "a\r.\r\r\n", 1 },
	{ "a\r\n.\r\r\n", -1, "a\r\n\r\r\n", 1 },
	{ "a\r\n .\r\n", -1, "a\r\n .\r\n", 0 },
	/* ...but after a bare-LF line, CR LF "." CR LF still ends it */
	{ "a\nb\r\n.\r\n", 8, "a\r\nb\r\n", 1 },
	{ "a\r\n.\r\n.\r\n", 6, "a\r\n", 0 },
};

START_TEST(test_dot)
{
	struct smtp_dot d;
	char *s;
	long end;

	s = dot_run(dot_cases[_i].in, strlen(dot_cases[_i].in), &d, &end);
	ck_assert_msg(end == dot_cases[_i].end, "case %d: end %ld", _i, end);
	ck_assert_str_eq(s, dot_cases[_i].stored);
	ck_assert_int_eq(d.bare, dot_cases[_i].bare);
	free(s);
}
END_TEST

START_TEST(test_dot_toolong)
{
	struct smtp_dot d;
	const char *out;
	size_t outlen;

	smtp_dot_init(&d);
	ck_assert_int_eq(smtp_dot_line(&d, "x", 1, KURIR_LINE_CRLF |
	    KURIR_LINE_TOOLONG, &out, &outlen), 0);
	ck_assert_int_eq(d.toolong, 1);
	/* a truncated line that starts with "." is not the end either */
	ck_assert_int_eq(smtp_dot_line(&d, ".", 1, KURIR_LINE_CRLF |
	    KURIR_LINE_TOOLONG, &out, &outlen), 0);
	ck_assert_int_eq(smtp_dot_line(&d, ".", 1, KURIR_LINE_CRLF, &out,
	    &outlen), 1);
	/* the core's cut line carries no ending: "." after it still ends */
	smtp_dot_init(&d);
	ck_assert_int_eq(smtp_dot_line(&d, "xxxx", 4, KURIR_LINE_TOOLONG,
	    &out, &outlen), 0);
	ck_assert_int_eq(smtp_dot_line(&d, ".", 1, KURIR_LINE_CRLF, &out,
	    &outlen), 1);
	ck_assert_int_eq(d.toolong, 1);
}
END_TEST

static Suite *
smtp_parse_suite(void)
{
	Suite *s = suite_create("smtp_parse");
	TCase *tc;

	tc = tcase_create("verb");
	tcase_add_loop_test(tc, test_verb, 0,
	    sizeof(verb_cases) / sizeof(verb_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("path");
	tcase_add_loop_test(tc, test_path, 0,
	    sizeof(path_cases) / sizeof(path_cases[0]));
	tcase_add_test(tc, test_path_long_domain);
	suite_add_tcase(s, tc);
	tc = tcase_create("params");
	tcase_add_loop_test(tc, test_mail_params, 0,
	    sizeof(mail_cases) / sizeof(mail_cases[0]));
	tcase_add_loop_test(tc, test_rcpt_params, 0,
	    sizeof(rcpt_cases) / sizeof(rcpt_cases[0]));
	tcase_add_test(tc, test_bdat);
	tcase_add_test(tc, test_helo);
	tcase_add_test(tc, test_xtext);
	suite_add_tcase(s, tc);
	tc = tcase_create("dot");
	tcase_add_loop_test(tc, test_dot, 0,
	    sizeof(dot_cases) / sizeof(dot_cases[0]));
	tcase_add_test(tc, test_dot_toolong);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}
