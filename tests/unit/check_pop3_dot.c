/*
 * check_pop3_dot.c -- the RETR/TOP encoder: CRLF line ends, dot-stuffing,
 * the TOP cut and the terminator, for a table of cases fed whole, split
 * at every point, a byte at a time, and for random messages checked
 * against a line-by-line reference written independently here.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_dot.h"

struct dot_case {
	const char	*in;
	int64_t		 top;		/* -1: RETR */
	const char	*out;
};

static const struct dot_case dot_cases[] = {
	{ "", -1, ".\r\n" },
	{ "a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n" },
	{ "a\nb\n", -1, "a\r\nb\r\n.\r\n" },
	{ "a", -1, "a\r\n.\r\n" },
	{ "a\r\nb", -1, "a\r\nb\r\n.\r\n" },
	{ ".\r\n", -1, "..\r\n.\r\n" },
	{ ".", -1, "..\r\n.\r\n" },
	{ "a\r\n.b\r\n..\r\n", -1, "a\r\n..b\r\n...\r\n.\r\n" },
	{ "a\n.\n.\n", -1, "a\r\n..\r\n..\r\n.\r\n" },
	{ "a.\r\n b.\r\n", -1, "a.\r\n b.\r\n.\r\n" },
	{ "x\r", -1, "x\r\n.\r\n" },
	{ "a\rb\n", -1, "a\rb\r\n.\r\n" },
	{ "\r\n\r\n", -1, "\r\n\r\n.\r\n" },
	{ "\n\n", -1, "\r\n\r\n.\r\n" },
	{ "a\r\r\n", -1, "a\r\r\n.\r\n" },
	{ "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", 0,
	    "H: 1\r\nH: 2\r\n\r\n.\r\n" },
	{ "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", 2,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", 3,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n" },
	{ "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", 9,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n" },
	{ "H: 1\n\nb1\nb2\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n" },
	{ "H: 1\r\nH: 2", 0, "H: 1\r\nH: 2\r\n.\r\n" },
	{ "H\r\n\r\n.x\r\n.y\r\n", 1, "H\r\n\r\n..x\r\n.\r\n" },
	{ "H\r\n\r\n\r\n\r\nz\r\n", 2, "H\r\n\r\n\r\n\r\n.\r\n" },
	{ "\r\nbody\r\n", 0, "\r\n.\r\n" },
	{ "H\r\n\r\nno end", 5, "H\r\n\r\nno end\r\n.\r\n" },
	{ "H\r\n\r\nb\r", 1, "H\r\n\r\nb\r\n.\r\n" },
};

/* Encode `in` in pieces of the given sizes (cycled); checks the output
 * bound of every call.  Returns a malloc'ed string. */
static char *
encode_pieces(const char *in, size_t len, int64_t top, const size_t *sizes,
    size_t nsizes, size_t *outlen_r)
{
	struct pop3_dot d;
	char *out, *o;
	size_t off = 0, k = 0, n, w;

	out = malloc(POP3_DOT_OUT_MAX(len) + POP3_DOT_FINISH_MAX + 1);
	ck_assert_ptr_nonnull(out);
	o = out;
	pop3_dot_init(&d, top);
	while (off < len && !d.done) {
		n = sizes[k++ % nsizes];
		if (n > len - off)
			n = len - off;
		w = pop3_dot_encode(&d, in + off, n, o);
		ck_assert_uint_le(w, POP3_DOT_OUT_MAX(n));
		o += w;
		off += n;
	}
	w = pop3_dot_finish(&d, o);
	ck_assert_uint_le(w, POP3_DOT_FINISH_MAX);
	o += w;
	*o = '\0';
	*outlen_r = (size_t)(o - out);
	return out;
}

START_TEST(test_dot_table)
{
	const struct dot_case *dc = &dot_cases[_i];
	size_t len = strlen(dc->in), whole = len > 0 ? len : 1, outlen;
	char *out;

	out = encode_pieces(dc->in, len, dc->top, &whole, 1, &outlen);
	ck_assert_uint_eq(outlen, strlen(dc->out));
	ck_assert_msg(memcmp(out, dc->out, outlen) == 0,
	    "case %d: got \"%s\"", _i, out);
	free(out);
}
END_TEST

/* Split once at every point, then a byte at a time. */
START_TEST(test_dot_splits)
{
	const struct dot_case *dc = &dot_cases[_i];
	size_t len = strlen(dc->in), i, outlen, sizes[2], one = 1;
	char *out;

	for (i = 0; i <= len; i++) {
		sizes[0] = i;
		sizes[1] = len - i > 0 ? len - i : 1;
		if (sizes[0] == 0)
			sizes[0] = len > 0 ? len : 1;
		out = encode_pieces(dc->in, len, dc->top, sizes, 2, &outlen);
		ck_assert_msg(outlen == strlen(dc->out) &&
		    memcmp(out, dc->out, outlen) == 0,
		    "case %d split at %zu: got \"%s\"", _i, i, out);
		free(out);
	}
	out = encode_pieces(dc->in, len, dc->top, &one, 1, &outlen);
	ck_assert_str_eq(out, dc->out);
	free(out);
}
END_TEST

/*
 * The reference: cut the message into lines at LF; a line's text is
 * what precedes the LF minus one CR before it; every line goes out as
 * text + CRLF with a '.' in front of a leading '.'; the headers end at
 * the first empty line; the last unterminated piece (if any) is closed.
 */
static char *
reference(const char *in, size_t len, int64_t top, size_t *outlen_r)
{
	char *out = malloc(2 * len + 8), *o = out;
	size_t i = 0, j, tl;
	int in_body = 0, done = 0;
	int64_t left = top;

	ck_assert_ptr_nonnull(out);
	while (i < len && !done) {
		for (j = i; j < len && in[j] != '\n'; j++)
			;
		tl = j - i;
		if (j < len && tl > 0 && in[j - 1] == '\r')
			tl--;
		if (j == len && tl > 0 && in[j - 1] == '\r')
			tl--;	/* a final bare CR closes like CRLF */
		if (tl > 0 && in[i] == '.')
			*o++ = '.';
		else if (tl == 0 && j - i > 0 && in[i] == '.')
			*o++ = '.';
		memcpy(o, in + i, tl);
		o += tl;
		*o++ = '\r';
		*o++ = '\n';
		if (top >= 0 && j < len) {
			if (!in_body) {
				if (tl == 0) {
					in_body = 1;
					done = left == 0;
				}
			} else if (--left == 0)
				done = 1;
		}
		i = j + 1;
	}
	memcpy(o, ".\r\n", 3);
	o += 3;
	*outlen_r = (size_t)(o - out);
	return out;
}

START_TEST(test_dot_random)
{
	static const char alphabet[] = "..\r\r\n\n\nab c:-";
	size_t len, i, outlen, reflen, sizes[3];
	char *in, *out, *ref;
	int64_t top;

	srandom(1000 + (unsigned)_i);
	len = (size_t)(random() % 70000);
	in = malloc(len + 1);
	ck_assert_ptr_nonnull(in);
	for (i = 0; i < len; i++)
		in[i] = alphabet[random() % (sizeof(alphabet) - 1)];
	in[len] = '\0';
	top = _i % 3 == 0 ? -1 : (int64_t)(random() % 50);
	ref = reference(in, len, top, &reflen);
	for (i = 0; i < 4; i++) {
		sizes[0] = 1 + (size_t)(random() % (i == 0 ? 3 : 20000));
		sizes[1] = 1 + (size_t)(random() % 16384);
		sizes[2] = 16384;
		out = encode_pieces(in, len, top, sizes, 3, &outlen);
		ck_assert_uint_eq(outlen, reflen);
		ck_assert(memcmp(out, ref, outlen) == 0);
		free(out);
	}
	free(ref);
	free(in);
}
END_TEST

/* The output never carries a line that starts with a lone "." before
 * the terminator, and every line ends in CRLF: what a client relies on. */
START_TEST(test_dot_wire_invariants)
{
	static const char alphabet[] = ".\r\n.x\n";
	size_t len = 5000, i, outlen, one = 16384;
	char in[5000], *out;

	srandom(7);
	for (i = 0; i < len; i++)
		in[i] = alphabet[random() % (sizeof(alphabet) - 1)];
	out = encode_pieces(in, len, -1, &one, 1, &outlen);
	ck_assert_uint_ge(outlen, 3);
	ck_assert(memcmp(out + outlen - 3, ".\r\n", 3) == 0);
	for (i = 0; i + 3 < outlen; i++) {
		if (out[i] == '\n')
			ck_assert_msg(i > 0 && out[i - 1] == '\r',
			    "bare LF at %zu", i);
		if ((i == 0 || out[i - 1] == '\n') && i + 3 < outlen &&
		    out[i] == '.')
			ck_assert_msg(out[i + 1] == '.',
			    "unstuffed dot at %zu", i);
	}
	free(out);
}
END_TEST

static Suite *
pop3_dot_suite(void)
{
	Suite *s = suite_create("pop3_dot");
	TCase *tc;
	int n = (int)(sizeof(dot_cases) / sizeof(dot_cases[0]));

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_dot_table, 0, n);
	tcase_add_loop_test(tc, test_dot_splits, 0, n);
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_dot_random, 0, 12);
	tcase_add_test(tc, test_dot_wire_invariants);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_dot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
