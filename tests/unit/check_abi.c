/*
 * check_abi.c -- the module loader's ABI rules: a module built for another
 * major is refused with one line naming the file and both versions, a
 * newer minor is refused, an older or equal minor loads; and the same
 * through libltdl with real test modules (tests/abi).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

static const struct kurir_storage_ops dummy_ops = {
	.size = sizeof(struct kurir_storage_ops),
};

static struct kurir_module_desc
desc(uint32_t major, uint32_t minor)
{
	struct kurir_module_desc d = {
		.size = sizeof(struct kurir_module_desc),
		.abi_major = major,
		.abi_minor = minor,
		.kind = KURIR_MOD_STORAGE,
		.name = "x",
		.ops = &dummy_ops,
	};
	return d;
}

START_TEST(rules_against_a_newer_core)
{
	struct kurir_module_desc	d;
	char				err[256];

	d = desc(1, 0);
	ck_assert_int_eq(module_abi_check_core(&d, "x.so", 1, 3, err,
	    sizeof(err)), 0);	/* older minor loads */
	d = desc(1, 3);
	ck_assert_int_eq(module_abi_check_core(&d, "x.so", 1, 3, err,
	    sizeof(err)), 0);
	d = desc(1, 4);
	ck_assert_int_eq(module_abi_check_core(&d, "x.so", 1, 3, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "x.so: module \"x\" built for ABI 1.4, core provides 1.3");
	d = desc(2, 0);
	ck_assert_int_eq(module_abi_check_core(&d, "x.so", 1, 3, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "x.so: module \"x\" built for ABI 2.0, core provides 1.3");
	d = desc(0, 9);
	ck_assert_int_eq(module_abi_check_core(&d, "x.so", 1, 3, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(bad_descriptors)
{
	struct kurir_module_desc	d;
	char				err[256];

	d = desc(KURIR_ABI_MAJOR, 0);
	d.size = 8;
	ck_assert_int_eq(module_abi_check(&d, "x.so", err, sizeof(err)), -1);
	d = desc(KURIR_ABI_MAJOR, 0);
	d.kind = 99;
	ck_assert_int_eq(module_abi_check(&d, "x.so", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown kind"));
	d = desc(KURIR_ABI_MAJOR, 0);
	d.ops = NULL;
	ck_assert_int_eq(module_abi_check(&d, "x.so", err, sizeof(err)), -1);
	ck_assert_int_eq(module_abi_check(NULL, "x.so", err, sizeof(err)),
	    -1);
}
END_TEST

static const char *
abi_dir(void)
{
	static char	dir[4096];
	const char	*b = getenv("KURIR_BUILDDIR");

	snprintf(dir, sizeof(dir), "%s/tests/abi", b ? b : ".");
	return dir;
}

START_TEST(loader_refuses_other_major)
{
	struct kurir_module	*m;
	char			 err[1024];

	m = module_open(abi_dir(), "abimajor", 0, err, sizeof(err));
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "abimajor"));
	ck_assert_ptr_nonnull(strstr(err, "built for ABI 2.0, core provides "
	    "1.0"));
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(loader_refuses_newer_minor)
{
	char	err[1024];

	ck_assert_ptr_null(module_open(abi_dir(), "abiminor", 0, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "built for ABI 1.1, core provides "
	    "1.0"));
}
END_TEST

START_TEST(loader_loads_current_and_checks_kind)
{
	struct kurir_module	*m;
	char			 err[1024];

	ck_assert_ptr_null(module_open(abi_dir(), "abiok", KURIR_MOD_PROTOCOL,
	    err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "is a storage module"));
	m = module_open(abi_dir(), "abiok", KURIR_MOD_STORAGE, err,
	    sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_str_eq(module_desc(m)->name, "abiok");
	ck_assert_ptr_null(module_open(abi_dir(), "abiok", 0, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "already loaded"));
	ck_assert_int_eq(module_init(m, err, sizeof(err)), 0);
	module_close(m);
	ck_assert_ptr_null(module_open(abi_dir(), "nosuchmodule", 0, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not found"));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("abi");
	TCase	*tc = tcase_create("rules");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, rules_against_a_newer_core);
	tcase_add_test(tc, bad_descriptors);
	suite_add_tcase(s, tc);
	tc = tcase_create("loader");
	tcase_add_test(tc, loader_refuses_other_major);
	tcase_add_test(tc, loader_refuses_newer_minor);
	tcase_add_test(tc, loader_loads_current_and_checks_kind);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
