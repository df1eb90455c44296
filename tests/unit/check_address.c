/*
 * check_address.c -- recipient expansion against an in-memory user and
 * alias table: aliases, nested aliases, self-reference, catch-all,
 * plus-addressing, remote targets, loops, depth and target limits.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <check.h>

#include "address.h"

static const char *users[] = {
	"alice@example.org", "bob@example.org", "carol@example.org",
	"admin@other.test", "x+y@example.org", NULL
};

static const struct {
	const char	*alias;
	const char	*targets[4];
} aliases[] = {
	{ "postmaster@example.org", { "alice@example.org" } },
	{ "team@example.org", { "alice@example.org", "bob@example.org",
	    "friend@remote.net" } },
	{ "all@example.org", { "team@example.org", "carol@example.org",
	    "alice@example.org" } },
	{ "keep@example.org", { "keep@example.org", "bob@example.org" } },
	{ "carol@example.org", { "carol@example.org", "archive@remote.net" } },
	{ "loop1@example.org", { "loop2@example.org" } },
	{ "loop2@example.org", { "loop3@example.org" } },
	{ "loop3@example.org", { "loop1@example.org" } },
	{ "ghost@example.org", { "nobody@example.org" } },
	{ "@other.test", { "admin@other.test" } },
	{ "@lost.test", { "gone@lost.test" } },
	{ "d1@example.org", { "d2@example.org" } },
	{ "d2@example.org", { "d3@example.org" } },
	{ "d3@example.org", { "d4@example.org" } },
	{ "d4@example.org", { "alice@example.org" } },
	{ "sales@example.org", { "team@example.org" } },
	{ NULL, { NULL } }
};

static int
fake_lookup(const char *address, struct kurir_auth_user *u)
{
	int	i;

	for (i = 0; users[i] != NULL; i++)
		if (strcasecmp(users[i], address) == 0) {
			snprintf(u->address, sizeof(u->address), "%s",
			    users[i]);
			u->enabled = 1;
			return KURIR_OK;
		}
	return KURIR_E_NOTFOUND;
}

static int
fake_alias_lookup(const char *address, kurir_alias_cb *cb, void *arg)
{
	int	i, j;

	for (i = 0; aliases[i].alias != NULL; i++)
		if (strcasecmp(aliases[i].alias, address) == 0) {
			for (j = 0; j < 4 && aliases[i].targets[j] != NULL;
			    j++)
				if (cb(arg, aliases[i].targets[j]) != 0)
					break;
			return KURIR_OK;
		}
	return KURIR_E_NOTFOUND;
}

static int
fake_is_local(const char *domain)
{
	return strcmp(domain, "example.org") == 0 ||
	    strcmp(domain, "other.test") == 0 ||
	    strcmp(domain, "lost.test") == 0;
}

static struct kurir_auth_ops	ops = {
	.size = sizeof(struct kurir_auth_ops),
	.lookup = fake_lookup,
	.alias_lookup = fake_alias_lookup,
};

static struct address_policy	policy = {
	.ops = &ops,
	.is_local = fake_is_local,
	.delimiters = "+-",
	.max_depth = 10,
	.max_targets = 100,
};

static char	got[1024];

static int
rcpt_cb(void *arg, const char *address, int is_local)
{
	strcat(got, is_local ? "L:" : "R:");
	strcat(got, address);
	strcat(got, ";");
	return 0;
}

static int
resolve(const char *a)
{
	got[0] = '\0';
	return address_resolve(&policy, a, rcpt_cb, NULL);
}

static const struct {
	const char	*in;
	int		 rc;
	const char	*out;
} cases[] = {
	{ "alice@example.org", KURIR_OK, "L:alice@example.org;" },
	{ "ALICE@Example.ORG", KURIR_OK, "L:alice@example.org;" },
	{ "postmaster@example.org", KURIR_OK, "L:alice@example.org;" },
	{ "team@example.org", KURIR_OK, "L:alice@example.org;"
	    "L:bob@example.org;R:friend@remote.net;" },
	/* nested, duplicates delivered once */
	{ "all@example.org", KURIR_OK, "L:alice@example.org;"
	    "L:bob@example.org;R:friend@remote.net;L:carol@example.org;"
	    "R:archive@remote.net;" },
	/* an alias naming itself means the user (here: none) */
	{ "keep@example.org", KURIR_E_NOTFOUND, "" },
	{ "carol@example.org", KURIR_OK, "L:carol@example.org;"
	    "R:archive@remote.net;" },
	/* plus-addressing with either delimiter */
	{ "bob+lists@example.org", KURIR_OK, "L:bob@example.org;" },
	{ "bob-x-y@example.org", KURIR_OK, "L:bob@example.org;" },
	{ "team+x@example.org", KURIR_OK, "L:alice@example.org;"
	    "L:bob@example.org;R:friend@remote.net;" },
	/* an exact user wins over stripping */
	{ "x+y@example.org", KURIR_OK, "L:x+y@example.org;" },
	{ "+tag@example.org", KURIR_E_NOTFOUND, "" },
	{ "nobody+tag@example.org", KURIR_E_NOTFOUND, "" },
	/* catch-all */
	{ "anything@other.test", KURIR_OK, "L:admin@other.test;" },
	{ "anything@lost.test", KURIR_E_INVALID, "" },
	/* remote */
	{ "Someone@Remote.NET", KURIR_OK, "R:Someone@remote.net;" },
	/* loops and broken chains */
	{ "loop1@example.org", KURIR_E_INVALID, "" },
	{ "loop2@example.org", KURIR_E_INVALID, "" },
	{ "ghost@example.org", KURIR_E_NOTFOUND, "" },
	{ "d1@example.org", KURIR_OK, "L:alice@example.org;" },
	{ "sales@example.org", KURIR_OK, "L:alice@example.org;"
	    "L:bob@example.org;R:friend@remote.net;" },
	/* malformed */
	{ "no-at-sign", KURIR_E_INVALID, "" },
	{ "@example.org", KURIR_E_INVALID, "" },
	{ "user@", KURIR_E_INVALID, "" },
	{ "", KURIR_E_INVALID, "" },
};

START_TEST(test_cases)
{
	int	rc = resolve(cases[_i].in);

	ck_assert_msg(rc == cases[_i].rc, "%s: rc %d, want %d",
	    cases[_i].in, rc, cases[_i].rc);
	ck_assert_msg(strcmp(got, cases[_i].out) == 0, "%s: got \"%s\", "
	    "want \"%s\"", cases[_i].in, got, cases[_i].out);
}
END_TEST

START_TEST(test_limits)
{
	policy.max_depth = 3;
	ck_assert_int_eq(resolve("d1@example.org"), KURIR_E_INVALID);
	policy.max_depth = 10;
	policy.max_targets = 2;
	ck_assert_int_eq(resolve("team@example.org"), KURIR_E_TOOBIG);
	ck_assert_str_eq(got, "");
	policy.max_targets = 100;
	policy.delimiters = "";
	ck_assert_int_eq(resolve("bob+lists@example.org"), KURIR_E_NOTFOUND);
	policy.delimiters = "+-";
}
END_TEST

static int
stop_cb(void *arg, const char *address, int is_local)
{
	(*(int *)arg)++;
	return 42;
}

START_TEST(test_cb_stops)
{
	int	n = 0;

	ck_assert_int_eq(address_resolve(&policy, "team@example.org", stop_cb,
	    &n), 42);
	ck_assert_int_eq(n, 1);
}
END_TEST

static int
failing_lookup(const char *address, struct kurir_auth_user *u)
{
	return KURIR_E_TEMPFAIL;
}

START_TEST(test_backend_failure)
{
	struct kurir_auth_ops	bad = ops;

	bad.lookup = failing_lookup;
	policy.ops = &bad;
	ck_assert_int_eq(resolve("alice@example.org"), KURIR_E_TEMPFAIL);
	policy.ops = NULL;
	ck_assert_int_eq(resolve("alice@example.org"), KURIR_E_TEMPFAIL);
	policy.ops = &ops;
}
END_TEST

static Suite *
address_suite(void)
{
	Suite	*s = suite_create("address");
	TCase	*tc = tcase_create("resolve");

	tcase_add_loop_test(tc, test_cases, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_cb_stops);
	tcase_add_test(tc, test_backend_failure);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(address_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
