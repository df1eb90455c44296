/*
 * check_config.c -- the configuration parser: good files, every error with
 * its line number, -o overrides, and the typed values.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const struct kurir_conf_key test_keys[] = {
	{ "name", KURIR_CONF_STRING, "kurir", NULL, "a string" },
	{ "count", KURIR_CONF_INT, "3", NULL, "an int" },
	{ "limit", KURIR_CONF_SIZE, "50M", NULL, "a size" },
	{ "wait", KURIR_CONF_DURATION, "5m", NULL, "a duration" },
	{ "flag", KURIR_CONF_BOOL, "no", NULL, "a bool" },
	{ "mode", KURIR_CONF_ENUM, "expunge", "expunge|trash", "an enum" },
	{ "words", KURIR_CONF_LIST, "a b", NULL, "a list" },
	{ NULL, 0, NULL, NULL, NULL }
};

static char tmpl[64];

static const char *
write_file(const char *text)
{
	FILE	*fp;
	int	 fd;

	snprintf(tmpl, sizeof(tmpl), "/tmp/kurir-conf-XXXXXX");
	fd = mkstemp(tmpl);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	return tmpl;
}

/* Parses and validates text (+ overrides); returns the config or NULL
 * with the error in err. */
static struct config *
load(const char *text, char *const *ov, size_t nov, char *err, size_t len)
{
	struct config	*cf;
	const char	*path = text != NULL ? write_file(text) : NULL;

	cf = config_parse(path, ov, nov, err, len);
	if (path != NULL)
		unlink(path);
	if (cf == NULL)
		return NULL;
	ck_assert_int_eq(config_add_keys(cf, test_keys, "test"), 0);
	if (config_validate(cf, err, len) == -1) {
		config_free(cf);
		return NULL;
	}
	config_set_current(cf);
	return cf;
}

START_TEST(defaults_only)
{
	struct config	*cf;
	char		 err[256];

	cf = load(NULL, NULL, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(cf);
	ck_assert_str_eq(config_str("name"), "kurir");
	ck_assert_int_eq(config_num("count"), 3);
	ck_assert_int_eq(config_num("limit"), 50 * 1024 * 1024);
	ck_assert_int_eq(config_num("wait"), 300);
	ck_assert_int_eq(config_num("flag"), 0);
	ck_assert_ptr_null(config_str("nope"));
	ck_assert_int_eq(config_num("nope"), -1);
	ck_assert_str_eq(config_origin("name"), "default");
	config_free(cf);
}
END_TEST

START_TEST(good_file)
{
	struct config	*cf;
	char		 err[256];

	cf = load("# comment\n\n  name = \"my server\"  \ncount=7\n"
	    "limit = 64k\nwait = 2h\nflag = yes\nmode = trash\n"
	    "words = x, y z\n", NULL, 0, err, sizeof(err));
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_str_eq(config_str("name"), "my server");
	ck_assert_int_eq(config_num("count"), 7);
	ck_assert_int_eq(config_num("limit"), 65536);
	ck_assert_int_eq(config_num("wait"), 7200);
	ck_assert_int_eq(config_num("flag"), 1);
	ck_assert_str_eq(config_str("mode"), "trash");
	ck_assert_str_eq(config_str("words"), "x, y z");
	ck_assert_ptr_nonnull(strstr(config_origin("count"), ":4"));
	config_free(cf);
}
END_TEST

START_TEST(overrides_win)
{
	struct config	*cf;
	char		*ov[] = { "count=9", "name = other", "flag=on" };
	char		 err[256];

	cf = load("count = 7\n", ov, 3, err, sizeof(err));
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_int_eq(config_num("count"), 9);
	ck_assert_str_eq(config_str("name"), "other");
	ck_assert_int_eq(config_num("flag"), 1);
	ck_assert_str_eq(config_origin("count"), "-o count");
	config_free(cf);
}
END_TEST

/* Each bad file and the line its error must name. */
static const struct {
	const char	*text;
	int		 line;
	const char	*words;
} bad_files[] = {
	{ "name = a\nbogus = 1\n", 2, "unknown key 'bogus'" },
	{ "name = a\n\ncount = seven\n", 3, "count: bad value 'seven'" },
	{ "limit = 10Q\n", 1, "limit: bad value" },
	{ "wait = 5 minutes\n", 1, "wait: bad value" },
	{ "# x\nflag = maybe\n", 2, "flag: bad value" },
	{ "mode = shred\n", 1, "one of expunge|trash" },
	{ "name = a\njust words\n", 2, "expected 'key = value'" },
	{ "Name = a\n", 1, "bad key name" },
	{ "count = 1\ncount = 2\n", 2, "duplicate key 'count'" },
	{ "count = 99999999999999999999999\n", 1, "count: bad value" },
	{ "limit = 9999999999999G\n", 1, "limit: bad value" },
};

START_TEST(bad_file_names_line)
{
	char	 err[256], want[64];

	ck_assert_ptr_null(load(bad_files[_i].text, NULL, 0, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), ":%d: ", bad_files[_i].line);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err,
	    want);
	ck_assert_msg(strstr(err, bad_files[_i].words) != NULL,
	    "'%s' lacks '%s'", err, bad_files[_i].words);
}
END_TEST

START_TEST(bad_override)
{
	char	*ov1[] = { "nokey" };
	char	*ov2[] = { "count=x" };
	char	*ov3[] = { "nope=1" };
	char	 err[256];

	ck_assert_ptr_null(load(NULL, ov1, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "-o nokey"));
	ck_assert_ptr_null(load(NULL, ov2, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "-o count: count: bad value"));
	ck_assert_ptr_null(load(NULL, ov3, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown key 'nope'"));
}
END_TEST

START_TEST(missing_file)
{
	char	err[256];

	ck_assert_ptr_null(config_parse("/nonexistent/kurir.conf", NULL, 0,
	    err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/kurir.conf"));
}
END_TEST

START_TEST(value_parsers)
{
	int64_t	v;

	ck_assert_int_eq(config_parse_size("1G", &v), 0);
	ck_assert_int_eq(v, 1073741824);
	ck_assert_int_eq(config_parse_size("512kb", &v), 0);
	ck_assert_int_eq(v, 524288);
	ck_assert_int_eq(config_parse_size("-1", &v), -1);
	ck_assert_int_eq(config_parse_size("", &v), -1);
	ck_assert_int_eq(config_parse_duration("5d", &v), 0);
	ck_assert_int_eq(v, 432000);
	ck_assert_int_eq(config_parse_duration("30s", &v), 0);
	ck_assert_int_eq(v, 30);
	ck_assert_int_eq(config_parse_duration("1mm", &v), -1);
	ck_assert_int_eq(config_parse_bool("OFF", &v), 0);
	ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(print_effective)
{
	struct config	*cf;
	char		*ov[] = { "count=4" };
	char		 err[256], *buf = NULL;
	size_t		 len = 0;
	FILE		*fp;

	cf = load(NULL, ov, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(cf);
	fp = open_memstream(&buf, &len);
	config_print(cf, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(buf, "\ncount = 4\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nlimit = 50M\n"));
	free(buf);
	config_free(cf);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("parse");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, defaults_only);
	tcase_add_test(tc, good_file);
	tcase_add_test(tc, overrides_win);
	tcase_add_loop_test(tc, bad_file_names_line, 0,
	    sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, bad_override);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, value_parsers);
	tcase_add_test(tc, print_effective);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
