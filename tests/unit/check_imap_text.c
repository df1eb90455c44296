/*
 * check_imap_text.c -- SEARCH's text decoding: case folding, RFC 2047
 * encoded words, and the streaming matcher over quoted-printable,
 * base64 and charsets, fed in pieces of every size.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "imap_textsearch.h"

START_TEST(test_fold)
{
	char s[] = "M\xc3\x9cLLER \xce\xa9mega \xd0\x94\xd0\x9e\xd0\x9c "
	    "\xc5\x81\xc3\xb3" "d\xc5\xba \xc3\x97";

	imap_text_fold(s, strlen(s));
	/* müller ωmega дом łódź, and × (not a letter) stays */
	ck_assert_str_eq(s, "m\xc3\xbcller \xcf\x89mega \xd0\xb4\xd0\xbe"
	    "\xd0\xbc \xc5\x82\xc3\xb3" "d\xc5\xba \xc3\x97");
}
END_TEST

static const struct {
	const char	*in;
	const char	*out;
} words[] = {
	{ "=?ISO-8859-1?Q?M=FCller?=", "M\xc3\xbcller" },
	{ "=?UTF-8?B?w5xiZXI=?=", "\xc3\x9c" "ber" },
	{ "Re: =?utf-8?q?hello_world?=", "Re: hello world" },
	{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?=\r\n =?utf-8?q?b?= c", "ab c" },
	{ "=?utf-8?q?a?= x", "a x" },
	{ "plain\r\n text", "plain text" },
	{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "=?utf-8?q?abc", "=?utf-8?q?abc" },
	{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
	{ "=??q?abc?=", "=??q?abc?=" },
	{ "=?x-no-such-charset?q?abc?=", "abc" },
	{ "=?utf-8*en?q?lang?=", "lang" },
	{ "=?", "=?" },
};

START_TEST(test_hdr_decode)
{
	struct imap_str out;

	imap_str_init(&out, 4096);
	imap_text_hdr_decode(words[_i].in, strlen(words[_i].in), &out);
	imap_str_addc(&out, '\0');
	ck_assert_msg(strcmp(out.s, words[_i].out) == 0, "%s -> <%s>",
	    words[_i].in, out.s);
	imap_str_free(&out);
}
END_TEST

/* Feed text to a scan in pieces of `step` bytes. */
static int
scan(const char *needle, const char *cte, const char *cs, const char *text,
    size_t len, size_t step)
{
	struct imap_textscan *ts = imap_textscan_new(needle, strlen(needle));
	size_t off, n;
	int hit = 0;

	ck_assert_ptr_nonnull(ts);
	imap_textscan_part(ts, cte, cte != NULL ? strlen(cte) : 0, cs,
	    cs != NULL ? strlen(cs) : 0);
	for (off = 0; off < len && !hit; off += n) {
		n = len - off < step ? len - off : step;
		hit = imap_textscan_feed(ts, text + off, n);
	}
	if (!hit)
		hit = imap_textscan_end(ts);
	imap_textscan_free(ts);
	return hit;
}

static const struct {
	const char	*needle;
	const char	*cte;
	const char	*charset;
	const char	*text;
	int		 hit;
} bodies[] = {
	{ "gr\xc3\xbcsse", "quoted-printable", "utf-8",
	    "Viele Gr=C3=9C=\r\nSSE\r\n", 1 },
	{ "gr\xc3\xbcsse", NULL, NULL, "Viele Gr=C3=9C=\r\nSSE\r\n", 0 },
	{ "w\xc3\xb6rld", "base64", NULL, "SGVsbG8g\r\nV8OWUkxE\r\n", 1 },
	{ "m\xc3\xbcller", "Quoted-Printable", "iso-8859-1",
	    "Herr M=FCller\r\n", 1 },
	{ "m\xc3\xbcller", "8bit", "ISO-8859-1", "Herr M\xdcLLER\r\n", 1 },
	{ "hi", NULL, "UTF-16LE", "h\0i\0", 1 },
	{ "\xc3\xbc" "ber", NULL, NULL, "\xc3\x9c" "BER", 1 },
	{ "a=b", "quoted-printable", NULL, "a=3Db", 1 },
	{ "x=zz", "quoted-printable", NULL, "x=zz", 1 },
	{ "tail=", "quoted-printable", NULL, "tail=", 1 },
	{ "absent", "base64", NULL, "!!!!", 0 },
	{ "", NULL, NULL, "", 1 },
};

START_TEST(test_body_scan)
{
	size_t len = strlen(bodies[_i].text), step;

	if (bodies[_i].charset != NULL &&
	    strcmp(bodies[_i].charset, "UTF-16LE") == 0)
		len = 4;
	for (step = 1; step <= len + 1; step++)
		ck_assert_msg(scan(bodies[_i].needle, bodies[_i].cte,
		    bodies[_i].charset, bodies[_i].text, len, step) ==
		    bodies[_i].hit, "case %d, pieces of %zu", _i, step);
}
END_TEST

/* A match far into a long part, across the window's slides, and none
 * across two parts. */
START_TEST(test_long_and_parts)
{
	struct imap_textscan *ts;
	size_t n = 100000, i;
	char *big = malloc(n + 7);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	memcpy(big + n, "NeeDle", 7);
	for (i = 1; i < 70000; i = i * 3 + 1)
		ck_assert(scan("needle", NULL, NULL, big, n + 6, i));
	ck_assert(!scan("needlex", NULL, NULL, big, n + 6, 4096));
	free(big);

	ts = imap_textscan_new("needle", 6);
	imap_textscan_part(ts, NULL, 0, NULL, 0);
	ck_assert(!imap_textscan_feed(ts, "nee", 3));
	ck_assert(!imap_textscan_end(ts));
	imap_textscan_part(ts, NULL, 0, NULL, 0);
	ck_assert(!imap_textscan_feed(ts, "dle", 3));
	ck_assert(!imap_textscan_end(ts));
	imap_textscan_free(ts);

	big = calloc(1, 5000);
	ck_assert_ptr_null(imap_textscan_new(big, 5000));
	free(big);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("imap_text");
	TCase *tc = tcase_create("text");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_fold);
	tcase_add_loop_test(tc, test_hdr_decode, 0,
	    (int)(sizeof(words) / sizeof(words[0])));
	tcase_add_loop_test(tc, test_body_scan, 0,
	    (int)(sizeof(bodies) / sizeof(bodies[0])));
	tcase_add_test(tc, test_long_and_parts);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
