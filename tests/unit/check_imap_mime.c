/*
 * check_imap_mime.c -- the MIME parser against hand-written ENVELOPE,
 * BODY and BODYSTRUCTURE of the samples in tests/data/imap, fed whole,
 * in odd chunks and one byte at a time; the cache blob round trip and
 * the BODY[section] part walk; limits on hostile input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"
#include "imap_msginfo.h"

static const char *const samples[] = {
	"plain", "alternative", "attachment", "nested", "malformed",
};

static const struct imap_mime_limits lim = {
	.max_parts = 100, .max_depth = 20, .max_header_value = 8192,
	.max_values = 65536,
};

static char *
slurp(const char *name, const char *ext, size_t *len_r)
{
	char path[1024];
	const char *src = getenv("KURIR_SRCDIR");
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/data/imap/%s%s",
	    src != NULL ? src : ".", name, ext);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len_r = (size_t)n;
	return buf;
}

static char *
expected(const char *name, const char *ext)
{
	size_t len;
	char *s = slurp(name, ext, &len);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

static void
parse(struct imap_mime *m, const char *msg, size_t len, size_t chunk)
{
	size_t off;

	ck_assert_int_eq(imap_mime_init(m, &lim), 0);
	for (off = 0; off < len; off += chunk)
		imap_mime_feed(m, msg + off, len - off < chunk ? len - off :
		    chunk);
	imap_mime_finish(m);
}

static const size_t chunks[] = { 1, 2, 3, 7, 64, 1 << 20 };

START_TEST(test_samples)
{
	const char *name = samples[_i];
	char *msg, *bs, *body, *env;
	size_t len, c;

	msg = slurp(name, ".eml", &len);
	bs = expected(name, ".bodystructure");
	body = expected(name, ".body");
	env = expected(name, ".envelope");
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct imap_mime m;
		struct imap_str out;

		parse(&m, msg, len, chunks[c]);
		imap_str_init(&out, 1 << 20);
		imap_mime_bodystructure(&m, 0, 1, &out);
		ck_assert_msg(strcmp(out.s, bs) == 0,
		    "%s chunk %zu BODYSTRUCTURE\n got %s\nwant %s", name,
		    chunks[c], out.s, bs);
		imap_str_free(&out);
		imap_str_init(&out, 1 << 20);
		imap_mime_bodystructure(&m, 0, 0, &out);
		ck_assert_msg(strcmp(out.s, body) == 0,
		    "%s BODY\n got %s\nwant %s", name, out.s, body);
		imap_str_free(&out);
		imap_str_init(&out, 1 << 20);
		imap_mime_envelope(&m, 0, &out);
		ck_assert_msg(strcmp(out.s, env) == 0,
		    "%s ENVELOPE\n got %s\nwant %s", name, out.s, env);
		imap_str_free(&out);
		imap_mime_free(&m);
	}
	free(msg);
	free(bs);
	free(body);
	free(env);
}
END_TEST

static int
section(const struct imap_msginfo *mi, const char *spec)
{
	uint32_t path[8];
	size_t n = 0;
	char *end;

	while (*spec != '\0' && n < 8) {
		path[n++] = (uint32_t)strtoul(spec, &end, 10);
		spec = *end == '.' ? end + 1 : end;
	}
	return imap_msginfo_part(mi, path, n);
}

static void
assert_region(const char *msg, uint64_t off, uint64_t len, const char *want)
{
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_msg(memcmp(msg + off, want, (size_t)len) == 0,
	    "region %.*s != %s", (int)len, msg + off, want);
}

START_TEST(test_blob_and_sections)
{
	struct imap_mime m;
	struct imap_msginfo mi;
	struct imap_str out;
	char *msg, *blob;
	size_t len;
	int p, e;

	msg = slurp("nested", ".eml", &len);
	parse(&m, msg, len, 5);
	imap_str_init(&out, 1 << 20);
	ck_assert_int_eq(imap_mime_serialize(&m, &out, 1 << 20), 0);
	blob = malloc(out.len);
	memcpy(blob, out.s, out.len);
	ck_assert_int_eq(imap_msginfo_load(&mi, blob, out.len), 0);
	ck_assert_uint_eq(mi.nparts, 6);
	p = section(&mi, "1");
	assert_region(msg, mi.parts[p].body_off, mi.parts[p].body_len,
	    "see below");
	assert_region(msg, mi.parts[p].hdr_off, mi.parts[p].hdr_len,
	    "Content-Type: text/plain\r\n\r\n");
	p = section(&mi, "2");
	ck_assert_uint_eq(mi.parts[p].body_len, 197);
	e = imap_msginfo_message(&mi, p);
	ck_assert_int_ge(e, 0);
	assert_region(msg, mi.parts[e].hdr_off, mi.parts[e].hdr_len,
	    "From: inner@y.org\r\nSubject: inner\r\nContent-Type: "
	    "multipart/alternative; boundary=\"inner\"\r\n\r\n");
	p = section(&mi, "2.1");
	assert_region(msg, mi.parts[p].body_off, mi.parts[p].body_len,
	    "in plain");
	p = section(&mi, "2.2");
	assert_region(msg, mi.parts[p].body_off, mi.parts[p].body_len,
	    "<b>in</b>");
	ck_assert_int_eq(section(&mi, "3"), -1);
	ck_assert_int_eq(section(&mi, "1.1"), -1);
	ck_assert_int_eq(section(&mi, "2.3"), -1);
	ck_assert_int_eq(section(&mi, "0"), -1);
	ck_assert_int_eq(imap_msginfo_message(&mi, section(&mi, "1")), -1);
	imap_msginfo_free(&mi);
	/* a damaged blob is refused */
	blob = malloc(out.len);
	memcpy(blob, out.s, out.len);
	blob[30] ^= 0x55;
	blob[out.len - 1] = 'x';
	ck_assert_int_eq(imap_msginfo_load(&mi, blob, out.len - 1), -1);
	imap_msginfo_free(&mi);
	imap_str_free(&out);
	imap_mime_free(&m);
	free(msg);
}
END_TEST

START_TEST(test_single_part_sections)
{
	struct imap_mime m;
	struct imap_msginfo mi;
	struct imap_str out;
	char *msg, *blob;
	size_t len;
	uint32_t one = 1;
	int p;

	msg = slurp("plain", ".eml", &len);
	parse(&m, msg, len, 3);
	imap_str_init(&out, 1 << 20);
	ck_assert_int_eq(imap_mime_serialize(&m, &out, 1 << 20), 0);
	blob = malloc(out.len);
	memcpy(blob, out.s, out.len);
	ck_assert_int_eq(imap_msginfo_load(&mi, blob, out.len), 0);
	p = imap_msginfo_part(&mi, &one, 1);
	ck_assert_int_eq(p, 0);
	assert_region(msg, mi.parts[0].body_off, mi.parts[0].body_len,
	    "Hi Bob,\r\nsee you.\r\n");
	ck_assert_uint_eq(mi.parts[0].hdr_off + mi.parts[0].hdr_len,
	    mi.parts[0].body_off);
	ck_assert_uint_eq(mi.parts[0].body_off + mi.parts[0].body_len, len);
	imap_msginfo_free(&mi);
	imap_str_free(&out);
	imap_mime_free(&m);
	free(msg);
}
END_TEST

struct edge {
	const char	*msg;
	const char	*bs;
};

static const struct edge edges[] = {
	/* header only, no blank line, no final newline */
	{ "Subject: x", "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL "
	    "NIL \"7BIT\" 0 0 NIL NIL NIL NIL)" },
	/* empty message */
	{ "", "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL "
	    "\"7BIT\" 0 0 NIL NIL NIL NIL)" },
	/* body without final newline, bare LF */
	{ "\nab\ncd", "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL "
	    "NIL \"7BIT\" 5 2 NIL NIL NIL NIL)" },
	/* multipart with no parts at all */
	{ "Content-Type: multipart/mixed; boundary=q\r\n\r\nnothing\r\n",
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" "
	    "0 0) \"MIXED\" (\"BOUNDARY\" \"q\") NIL NIL NIL)" },
	/* folded header, quoted parameter with escapes, padding after
	 * the boundary, part with a header but no body */
	{ "Content-Type: multipart/mixed;\r\n\tboundary=\"a b\"\r\n\r\n"
	    "--a b  \r\nContent-Type: text/x; name=\"q\\\"x\"\r\n--a b--\r\n",
	    "((\"TEXT\" \"X\" (\"NAME\" \"q\\\"x\") NIL NIL \"7BIT\" 0 0 NIL NIL "
	    "NIL NIL) \"MIXED\" (\"BOUNDARY\" \"a b\") NIL NIL NIL)" },
	/* base64 message/rfc822 is not descended into */
	{ "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\nQQ==\r\n", "(\"APPLICATION\" \"OCTET-STREAM\" NIL "
	    "NIL NIL \"BASE64\" 6 NIL NIL NIL NIL)" },
	/* digest: parts default to message/rfc822 */
	{ "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
	    "Subject: s\r\n\r\nb\r\n--d--\r\n",
	    "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 15 (NIL \"s\" NIL "
	    "NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL) 3 NIL NIL NIL "
	    "NIL) \"DIGEST\" (\"BOUNDARY\" \"d\") NIL NIL NIL)" },
	/* 8-bit in a value is sent as a literal */
	{ "Content-Type: text/plain; name=\"caf\xc3\xa9\"\r\n\r\n",
	    "(\"TEXT\" \"PLAIN\" (\"NAME\" {5}\r\ncaf\xc3\xa9) NIL NIL \"7BIT\" 0 "
	    "0 NIL NIL NIL NIL)" },
};

START_TEST(test_edges)
{
	const struct edge *t = &edges[_i];
	size_t c;

	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct imap_mime m;
		struct imap_str out;

		parse(&m, t->msg, strlen(t->msg), chunks[c]);
		imap_str_init(&out, 1 << 20);
		imap_mime_bodystructure(&m, 0, 1, &out);
		ck_assert_msg(strcmp(out.s, t->bs) == 0,
		    "edge %d chunk %zu\n got %s\nwant %s", _i, chunks[c],
		    out.s, t->bs);
		imap_str_free(&out);
		imap_mime_free(&m);
	}
}
END_TEST

START_TEST(test_limits)
{
	struct imap_mime m;
	struct imap_mime_limits small = lim;
	struct imap_str out;
	char buf[256];
	int i;

	/* Nested multiparts deeper than max_depth, more parts than
	 * max_parts: parsing ends with bounded tables. */
	small.max_parts = 10;
	small.max_depth = 4;
	ck_assert_int_eq(imap_mime_init(&m, &small), 0);
	for (i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "Content-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		imap_mime_feed(&m, buf, strlen(buf));
	}
	for (i = 0; i < 1000; i++)
		imap_mime_feed(&m, "--b3\r\n\r\nx\r\n", 11);
	imap_mime_finish(&m);
	ck_assert_uint_le(m.nparts, 10);
	imap_str_init(&out, 1 << 20);
	ck_assert_int_eq(imap_mime_serialize(&m, &out, 1 << 20), 0);
	imap_str_free(&out);
	/* A blob cap that is too small fails cleanly. */
	imap_str_init(&out, 64);
	ck_assert_int_eq(imap_mime_serialize(&m, &out, 64), -1);
	imap_str_free(&out);
	imap_mime_free(&m);
	/* A huge header value is cut at max_header_value. */
	small = lim;
	small.max_header_value = 100;
	ck_assert_int_eq(imap_mime_init(&m, &small), 0);
	imap_mime_feed(&m, "Subject: ", 9);
	for (i = 0; i < 10000; i++)
		imap_mime_feed(&m, "abcdefghij", 10);
	imap_mime_feed(&m, "\r\n\r\n", 4);
	imap_mime_finish(&m);
	{
		size_t len;
		const char *v = imap_mime_value(&m, 0, MIME_F_SUBJECT, &len);

		ck_assert_ptr_nonnull(v);
		ck_assert_uint_le(len, 100);
	}
	imap_mime_free(&m);
}
END_TEST

static Suite *
mime_suite(void)
{
	Suite *s = suite_create("imap_mime");
	TCase *tc = tcase_create("mime");

	tcase_add_loop_test(tc, test_samples, 0,
	    (int)(sizeof(samples) / sizeof(samples[0])));
	tcase_add_test(tc, test_blob_and_sections);
	tcase_add_test(tc, test_single_part_sections);
	tcase_add_loop_test(tc, test_edges, 0,
	    (int)(sizeof(edges) / sizeof(edges[0])));
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
