/*
 * check_passwd.c -- the passwd auth module: passwd and aliases parsing
 * (errors carry file and line and skip only that line), every hash
 * scheme, constant-work failures, and the whole module through its ops
 * with a fake core api: kurirctl-style edits, atomic rewrites keeping
 * comments, reload on change.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include <kurir/api.h>
#include <kurir/auth.h>
#include <kurir/module.h>

#include "passwd.h"

const struct kurir_module_desc *passwd_LTX_kurir_module_entry(void);

/* ---- collected parse errors ------------------------------------------ */

static char	errs[32][256];
static int	nerrs;

static void
collect(void *arg, const char *file, unsigned line, const char *msg)
{
	if (nerrs < 32)
		snprintf(errs[nerrs++], sizeof(errs[0]), "%s:%u: %s", file,
		    line, msg);
}

static FILE *
mem(const char *text)
{
	return fmemopen((void *)text, strlen(text), "r");
}

static int
has_err(const char *prefix)
{
	int	i;

	for (i = 0; i < nerrs; i++)
		if (strncmp(errs[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

#define SCRAM_KEYS	"4096,W22ZaJ0SNY7soEsUEjb6gQ==," \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=," \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

START_TEST(test_parse_users)
{
	static const char text[] =
	    "# users\n"
	    "\n"
	    "Alice@Example.ORG:{SCRAM-SHA-256}" SCRAM_KEYS "\n"
	    "bob@example.org:{SHA512-CRYPT}$6$abcdefgh$xyz:quota_bytes=1G "
	    "quota_messages=500 location=/var/mail/bob\n"
	    "nocolon\n"					/* 5 */
	    "carol@example.org:{MD5}abc\n"		/* 6 */
	    "dave@example.org:{YESCRYPT}$6$wrongprefix\n"	/* 7 */
	    "eve@example.org::disabled\n"
	    "frank@example.org:!:bogus=1\n"		/* 9 */
	    "no-at-sign:{SCRAM-SHA-256}" SCRAM_KEYS "\n"	/* 10 */
	    "  alice@example.org:*\n"			/* 11: duplicate */
	    "gina@example.org:$y$j9T$abcdefgh$ijklmnop:scram="
	    SCRAM_KEYS "\n"
	    "hank@example.org:{SCRAM-SHA-256}4096,abc\n"	/* 13 */
	    "ivan@example.org:{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu"
	    "abcdefghijklmnopqrstuvwxyz01234:quota_bytes=x\n";	/* 14 */
	struct pw_db		*db = pw_db_new();
	const struct pw_user	*u;
	FILE			*fp = mem(text);
	unsigned		 bad;

	nerrs = 0;
	bad = pw_db_read_users(db, fp, "passwd", collect, NULL);
	fclose(fp);
	bad += pw_db_index(db, "passwd", "aliases", collect, NULL);
	ck_assert_uint_eq(bad, 8);
	ck_assert_int_eq(nerrs, 8);
	ck_assert(has_err("passwd:5: missing ':'"));
	ck_assert(has_err("passwd:6: unknown password scheme"));
	ck_assert(has_err("passwd:7: malformed crypt hash"));
	ck_assert(has_err("passwd:9: unknown attribute"));
	ck_assert(has_err("passwd:10: bad address"));
	ck_assert(has_err("passwd:11: duplicate user"));
	ck_assert(has_err("passwd:13: bad SCRAM"));
	ck_assert(has_err("passwd:14: bad quota_bytes"));

	ck_assert_ptr_nonnull(u = pw_db_user(db, "ALICE@example.org"));
	ck_assert_str_eq(u->address, "alice@example.org");
	ck_assert_int_eq(u->scheme, PW_SCHEME_SCRAM);
	ck_assert_int_eq(u->has_scram, 1);
	ck_assert_uint_eq(u->scram.iterations, 4096);
	ck_assert_uint_eq(u->scram.salt_len, 16);
	ck_assert_uint_eq(u->line, 3);

	ck_assert_ptr_nonnull(u = pw_db_user(db, "bob@example.org"));
	ck_assert_int_eq(u->scheme, PW_SCHEME_SHA512);
	ck_assert_str_eq(u->hash, "$6$abcdefgh$xyz");
	ck_assert_uint_eq(u->quota_bytes, 1024ULL * 1024 * 1024);
	ck_assert_uint_eq(u->quota_messages, 500);
	ck_assert_str_eq(u->location, "/var/mail/bob");

	ck_assert_ptr_nonnull(u = pw_db_user(db, "eve@example.org"));
	ck_assert_int_eq(u->scheme, PW_SCHEME_NONE);
	ck_assert_int_eq(u->disabled, 1);

	ck_assert_ptr_nonnull(u = pw_db_user(db, "gina@example.org"));
	ck_assert_int_eq(u->scheme, PW_SCHEME_YESCRYPT);
	ck_assert_int_eq(u->has_scram, 1);

	ck_assert_ptr_null(pw_db_user(db, "carol@example.org"));
	ck_assert_ptr_null(pw_db_user(db, "frank@example.org"));
	ck_assert_ptr_null(pw_db_user(db, "nobody@example.org"));
	pw_db_free(db);
}
END_TEST

START_TEST(test_long_line)
{
	struct pw_db	*db = pw_db_new();
	char		*text = malloc(PW_LINE_MAX * 2 + 100);
	FILE		*fp;

	strcpy(text, "a@b:");
	memset(text + 4, 'x', PW_LINE_MAX + 10);
	strcpy(text + 4 + PW_LINE_MAX + 10, "\nok@example.org:*\n");
	fp = mem(text);
	nerrs = 0;
	ck_assert_uint_eq(pw_db_read_users(db, fp, "p", collect, NULL), 1);
	fclose(fp);
	pw_db_index(db, "p", "a", collect, NULL);
	ck_assert(has_err("p:1: line too long"));
	ck_assert_ptr_nonnull(pw_db_user(db, "ok@example.org"));
	pw_db_free(db);
	free(text);
}
END_TEST

START_TEST(test_parse_aliases)
{
	static const char text[] =
	    "# aliases\n"
	    "postmaster@example.org: alice@example.org\n"
	    "team@Example.org: alice@example.org, bob@example.org,"
	    " ALICE@example.org  carol@other.net\n"
	    "@example.org: catchall@example.org\n"
	    "broken@example.org alice@example.org\n"	/* 5 */
	    "empty@example.org:\n"			/* 6 */
	    "bad@example.org: not-an-address\n"		/* 7 */
	    "postmaster@example.org: bob@example.org\n"	/* 8 */
	    "@: x@y\n";					/* 9 */
	struct pw_db		*db = pw_db_new();
	const struct pw_alias	*a;
	FILE			*fp = mem(text);
	unsigned		 bad;

	nerrs = 0;
	bad = pw_db_read_aliases(db, fp, "aliases", collect, NULL);
	fclose(fp);
	bad += pw_db_index(db, "passwd", "aliases", collect, NULL);
	ck_assert_uint_eq(bad, 5);
	ck_assert(has_err("aliases:5: missing ':'"));
	ck_assert(has_err("aliases:6: alias without targets"));
	ck_assert(has_err("aliases:7: bad target"));
	ck_assert(has_err("aliases:8: duplicate alias"));
	ck_assert(has_err("aliases:9: bad alias"));

	ck_assert_ptr_nonnull(a = pw_db_alias(db, "team@example.org"));
	ck_assert_uint_eq(a->ntargets, 3);	/* ALICE@ is a repeat */
	ck_assert_str_eq(a->joined,
	    "alice@example.org, bob@example.org, carol@other.net");
	ck_assert_ptr_nonnull(a = pw_db_alias(db, "postmaster@example.org"));
	ck_assert_str_eq(a->targets[0], "alice@example.org");
	ck_assert_ptr_nonnull(a = pw_db_alias(db, "@EXAMPLE.org"));
	ck_assert_str_eq(a->targets[0], "catchall@example.org");
	ck_assert_ptr_null(pw_db_alias(db, "broken@example.org"));
	pw_db_free(db);
}
END_TEST

/* ---- schemes ------------------------------------------------------------ */

static const int schemes[] = {
	PW_SCHEME_YESCRYPT, PW_SCHEME_SHA512, PW_SCHEME_BLF, PW_SCHEME_SCRAM
};

START_TEST(test_scheme_roundtrip)
{
	struct pw_user	u;
	char		field[PW_HASH_MAX], pfx[40];
	const char	*why;
	int		scheme = schemes[_i];

	ck_assert_int_eq(pw_hash_make(scheme, "correct horse", 13,
	    scheme == PW_SCHEME_BLF ? 4 : 0, 4096, field, sizeof(field)),
	    KURIR_OK);
	snprintf(pfx, sizeof(pfx), "{%s}", pw_scheme_name(scheme));
	ck_assert(strncmp(field, pfx, strlen(pfx)) == 0);
	memset(&u, 0, sizeof(u));
	ck_assert_int_eq(pw_parse_hash(field, &u, &why), 0);
	ck_assert_int_eq(u.scheme, scheme);
	ck_assert_int_eq(pw_verify(&u, "correct horse", 13), KURIR_OK);
	ck_assert_int_eq(pw_verify(&u, "correct horsf", 13), KURIR_E_AUTH);
	ck_assert_int_eq(pw_verify(&u, "", 0), KURIR_E_AUTH);
	ck_assert_int_eq(pw_verify(&u, "correct\0horse", 13), KURIR_E_AUTH);
	u.disabled = 1;
	ck_assert_int_eq(pw_verify(&u, "correct horse", 13), KURIR_E_AUTH);
	pw_user_clear(&u);
}
END_TEST

/* an explicit cost puts parameters into the hash ("$6$rounds=1000$")
 * that the parser must take back */
static const struct {
	int		scheme;
	unsigned long	cost;
} costs[] = {
	{ PW_SCHEME_SHA512, 1000 }, { PW_SCHEME_YESCRYPT, 3 },
	{ PW_SCHEME_BLF, 5 }
};

START_TEST(test_scheme_cost_roundtrip)
{
	struct pw_user	u;
	char		field[PW_HASH_MAX];
	const char	*why = NULL;

	ck_assert_int_eq(pw_hash_make(costs[_i].scheme, "battery", 7,
	    costs[_i].cost, 4096, field, sizeof(field)), KURIR_OK);
	memset(&u, 0, sizeof(u));
	ck_assert_msg(pw_parse_hash(field, &u, &why) == 0, "%s: %s", field,
	    why);
	ck_assert_int_eq(pw_verify(&u, "battery", 7), KURIR_OK);
	ck_assert_int_eq(pw_verify(&u, "batterz", 7), KURIR_E_AUTH);
	pw_user_clear(&u);
}
END_TEST

START_TEST(test_scram_keys_verify)
{
	struct pw_user	u;
	const char	*why;

	/* RFC 7677's keys verify the password "pencil" */
	memset(&u, 0, sizeof(u));
	ck_assert_int_eq(pw_parse_hash("{SCRAM-SHA-256}" SCRAM_KEYS, &u,
	    &why), 0);
	ck_assert_int_eq(pw_verify(&u, "pencil", 6), KURIR_OK);
	ck_assert_int_eq(pw_verify(&u, "pencil2", 7), KURIR_E_AUTH);
	pw_user_clear(&u);
}
END_TEST

START_TEST(test_unknown_user)
{
	ck_assert_int_eq(pw_hash_make(99, "x", 1, 0, 4096, (char[64]){0}, 64),
	    KURIR_E_INVALID);
	pw_set_dummy_scheme(PW_SCHEME_SHA512, 0);
	ck_assert_int_eq(pw_verify(NULL, "anything", 8), KURIR_E_AUTH);
	ck_assert_int_eq(pw_scheme_id("yescrypt"), PW_SCHEME_YESCRYPT);
	ck_assert_int_eq(pw_scheme_id("md5"), -1);
}
END_TEST

/* ---- the module through its ops ------------------------------------------- */

static char	tmpdir[256];
static char	logbuf[8192];

static void
fake_log(struct kurir_module *mod, int level, const char *fmt, ...)
{
	va_list	ap;
	size_t	len = strlen(logbuf);

	va_start(ap, fmt);
	vsnprintf(logbuf + len, sizeof(logbuf) - len, fmt, ap);
	va_end(ap);
	len = strlen(logbuf);
	if (len + 1 < sizeof(logbuf))
		strcat(logbuf, "\n");
}

static const char *
fake_conf_str(const char *key)
{
	if (strcmp(key, "state_dir") == 0)
		return tmpdir;
	if (strcmp(key, "passwd_scheme") == 0)
		return "sha512-crypt";	/* fast enough for tests */
	if (strcmp(key, "passwd_file") == 0 ||
	    strcmp(key, "aliases_file") == 0)
		return "";
	return NULL;
}

static int64_t
fake_conf_num(const char *key)
{
	if (strcmp(key, "passwd_scram") == 0)
		return 1;
	if (strcmp(key, "passwd_scram_iterations") == 0)
		return 4096;
	if (strcmp(key, "passwd_crypt_cost") == 0)
		return 0;
	return -1;
}

static struct kurir_core_api fake_api;
static const struct kurir_module_desc *desc;
static const struct kurir_auth_ops *ops;

static void
module_setup(void)
{
	const char	*err = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_passwd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	logbuf[0] = '\0';
	memset(&fake_api, 0, sizeof(fake_api));
	fake_api.size = sizeof(fake_api);
	fake_api.log = fake_log;
	fake_api.conf_str = fake_conf_str;
	fake_api.conf_num = fake_conf_num;
	desc = passwd_LTX_kurir_module_entry();
	ck_assert_str_eq(desc->name, "passwd");
	ck_assert_uint_eq(desc->kind, KURIR_MOD_AUTH);
	ck_assert_int_eq(desc->init(NULL, &fake_api, &err), KURIR_OK);
	ops = desc->ops;
	ck_assert_uint_eq(ops->size, sizeof(*ops));
}

static void
module_teardown(void)
{
	char	cmd[300];

	desc->fini(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
}

static void
write_file(const char *name, const char *text)
{
	char	path[512], tmp[520];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	fputs(text, fp);
	fclose(fp);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static char *
read_file(const char *name)
{
	static char	buf[16384];
	char		path[512];
	FILE		*fp;
	size_t		n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int
count_cb(void *arg, const char *s)
{
	(*(int *)arg)++;
	return 0;
}

static char	listed[1024];

static int
list_cb(void *arg, const char *s)
{
	strcat(listed, s);
	strcat(listed, ";");
	return 0;
}

static int
alias_list_cb(void *arg, const char *a, const char *t)
{
	strcat(listed, a);
	strcat(listed, "=");
	strcat(listed, t);
	strcat(listed, ";");
	return 0;
}

START_TEST(test_module_users)
{
	struct kurir_auth_user	u;
	struct kurir_scram_keys	k;
	char			*text;
	int			n = 0;

	write_file("passwd", "# kept comment\nbogus line\n");
	ck_assert_int_eq(ops->user_set("Alice@localhost", "secret", 6, NULL,
	    KURIR_AUTH_CREATE), KURIR_OK);
	ck_assert_int_eq(ops->user_set("alice@localhost", "other", 5, NULL,
	    KURIR_AUTH_CREATE), KURIR_E_EXISTS);
	ck_assert_int_eq(ops->user_set("zed@localhost", "x", 1, NULL,
	    KURIR_AUTH_UPDATE), KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->user_set("nobody@localhost", NULL, 0, NULL, 0),
	    KURIR_E_INVALID);
	ck_assert_int_eq(ops->user_set("not-an-address", "x", 1, NULL, 0),
	    KURIR_E_INVALID);
	ck_assert_int_eq(ops->user_set("bob@localhost", "x", 1, "bogus=1", 0),
	    KURIR_E_INVALID);

	text = read_file("passwd");
	ck_assert(strncmp(text, "# kept comment\nbogus line\n"
	    "alice@localhost:{SHA512-CRYPT}$6$", 49) == 0);
	ck_assert_ptr_nonnull(strstr(text, ":scram=4096,"));

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	ck_assert_int_eq(ops->lookup("ALICE@LOCALHOST", &u), KURIR_OK);
	ck_assert_str_eq(u.address, "alice@localhost");
	ck_assert_uint_eq(u.enabled, 1);
	ck_assert_int_eq(ops->lookup("bob@localhost", &u), KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "secret", 6),
	    KURIR_OK);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "Secret", 6),
	    KURIR_E_AUTH);
	ck_assert_int_eq(ops->verify_password("bob@localhost", "secret", 6),
	    KURIR_E_AUTH);
	memset(&k, 0, sizeof(k));
	k.size = sizeof(k);
	ck_assert_int_eq(ops->scram_keys("alice@localhost", "SCRAM-SHA-256",
	    &k), KURIR_OK);
	ck_assert_uint_eq(k.iterations, 4096);
	ck_assert_uint_eq(k.key_len, 32);
	ck_assert_int_eq(ops->scram_keys("alice@localhost", "SCRAM-SHA-1",
	    &k), KURIR_E_UNSUPPORTED);
	ck_assert_int_eq(ops->scram_keys("bob@localhost", "SCRAM-SHA-256",
	    &k), KURIR_E_NOTFOUND);
	/* the bogus line was reported with its file and line */
	ck_assert_ptr_nonnull(strstr(logbuf, "/passwd:2: missing ':'"));

	/* attributes, password kept */
	ck_assert_int_eq(ops->user_set("alice@localhost", NULL, 0,
	    "quota_bytes=10M disabled", KURIR_AUTH_UPDATE), KURIR_OK);
	ck_assert_int_eq(ops->lookup("alice@localhost", &u), KURIR_OK);
	ck_assert_uint_eq(u.enabled, 0);
	ck_assert_uint_eq(u.quota_bytes, 10 * 1024 * 1024);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "secret", 6),
	    KURIR_E_AUTH);	/* disabled */
	ck_assert_int_eq(ops->scram_keys("alice@localhost", "SCRAM-SHA-256",
	    &k), KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->user_set("alice@localhost", NULL, 0, "",
	    KURIR_AUTH_UPDATE), KURIR_OK);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "secret", 6),
	    KURIR_OK);
	/* new password, attributes kept */
	ck_assert_int_eq(ops->user_set("alice@localhost", NULL, 0,
	    "quota_messages=7", KURIR_AUTH_UPDATE), KURIR_OK);
	ck_assert_int_eq(ops->user_set("alice@localhost", "newpw", 5, NULL,
	    KURIR_AUTH_UPDATE), KURIR_OK);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "secret", 6),
	    KURIR_E_AUTH);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "newpw", 5),
	    KURIR_OK);
	ck_assert_int_eq(ops->lookup("alice@localhost", &u), KURIR_OK);
	ck_assert_uint_eq(u.quota_messages, 7);
	text = read_file("passwd");
	ck_assert_int_eq(strstr(strstr(text, "scram="), "scram=") ==
	    strstr(text, "scram="), 1);

	ck_assert_int_eq(ops->user_set("bob@localhost", "b", 1, NULL, 0),
	    KURIR_OK);
	ck_assert_int_eq(ops->user_list(count_cb, &n), KURIR_OK);
	ck_assert_int_eq(n, 2);
	listed[0] = '\0';
	ops->user_list(list_cb, NULL);
	ck_assert_str_eq(listed, "alice@localhost;bob@localhost;");
	ck_assert_int_eq(ops->user_del("alice@localhost"), KURIR_OK);
	ck_assert_int_eq(ops->user_del("alice@localhost"), KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->lookup("alice@localhost", &u), KURIR_E_NOTFOUND);
	text = read_file("passwd");
	ck_assert(strncmp(text, "# kept comment\nbogus line\nbob@", 30) == 0);
	ck_assert_ptr_null(strstr(text, "alice"));
}
END_TEST

START_TEST(test_module_reload)
{
	struct kurir_auth_user	u;

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	ck_assert_int_eq(ops->lookup("alice@localhost", &u), KURIR_E_NOTFOUND);
	/* an edit by hand shows up at the next lookup */
	write_file("passwd", "alice@localhost:{SCRAM-SHA-256}" SCRAM_KEYS
	    "\n");
	ck_assert_int_eq(ops->lookup("alice@localhost", &u), KURIR_OK);
	ck_assert_int_eq(ops->verify_password("alice@localhost", "pencil", 6),
	    KURIR_OK);
	write_file("passwd", "carol@localhost:{SCRAM-SHA-256}" SCRAM_KEYS
	    "\n");
	ck_assert_int_eq(ops->lookup("alice@localhost", &u), KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->lookup("carol@localhost", &u), KURIR_OK);
	/* the file vanishing empties the table; nothing crashes */
	write_file("passwd", "");
	ck_assert_int_eq(ops->lookup("carol@localhost", &u), KURIR_E_NOTFOUND);
}
END_TEST

static int	nt;
static char	targets[512];

static int
target_cb(void *arg, const char *t)
{
	nt++;
	strcat(targets, t);
	strcat(targets, ";");
	return 0;
}

START_TEST(test_module_aliases)
{
	char	pw[256];

	write_file("aliases", "# comment\n@localhost: alice@localhost\n");
	nt = 0;
	targets[0] = '\0';
	ck_assert_int_eq(ops->alias_lookup("@LOCALHOST", target_cb, NULL),
	    KURIR_OK);
	ck_assert_str_eq(targets, "alice@localhost;");
	ck_assert_int_eq(ops->alias_lookup("x@localhost", target_cb, NULL),
	    KURIR_E_NOTFOUND);
	ck_assert_int_eq(ops->alias_set("team@localhost",
	    "alice@localhost, bob@example.org"), KURIR_OK);
	ck_assert_int_eq(ops->alias_set("bad@localhost", "nope"),
	    KURIR_E_INVALID);
	nt = 0;
	targets[0] = '\0';
	ck_assert_int_eq(ops->alias_lookup("team@localhost", target_cb, NULL),
	    KURIR_OK);
	ck_assert_int_eq(nt, 2);
	listed[0] = '\0';
	ck_assert_int_eq(ops->alias_list(alias_list_cb, NULL), KURIR_OK);
	ck_assert_str_eq(listed, "@localhost=alice@localhost;team@localhost="
	    "alice@localhost, bob@example.org;");
	ck_assert_int_eq(ops->alias_set("team@localhost", ""), KURIR_OK);
	ck_assert_int_eq(ops->alias_set("team@localhost", ""),
	    KURIR_E_NOTFOUND);
	ck_assert_str_eq(read_file("aliases"),
	    "# comment\n@localhost: alice@localhost\n");

	ck_assert_int_eq(ops->pw_hash("SCRAM-SHA-256", "pencil", 6, pw,
	    sizeof(pw)), KURIR_OK);
	ck_assert(strncmp(pw, "{SCRAM-SHA-256}4096,", 20) == 0);
	ck_assert_int_eq(ops->pw_hash("md5", "pencil", 6, pw, sizeof(pw)),
	    KURIR_E_INVALID);
	ck_assert_int_eq(ops->pw_hash(NULL, "pencil", 6, pw, 10),
	    KURIR_E_TOOBIG);
}
END_TEST

static Suite *
passwd_suite(void)
{
	Suite	*s = suite_create("passwd");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_users);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_parse_aliases);
	suite_add_tcase(s, tc);

	tc = tcase_create("schemes");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_scheme_roundtrip, 0,
	    sizeof(schemes) / sizeof(schemes[0]));
	tcase_add_loop_test(tc, test_scheme_cost_roundtrip, 0,
	    (int)(sizeof(costs) / sizeof(costs[0])));
	tcase_add_test(tc, test_scram_keys_verify);
	tcase_add_test(tc, test_unknown_user);
	suite_add_tcase(s, tc);

	tc = tcase_create("module");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, module_setup, module_teardown);
	tcase_add_test(tc, test_module_users);
	tcase_add_test(tc, test_module_reload);
	tcase_add_test(tc, test_module_aliases);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(passwd_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
