/*
 * check_mx.c -- MX selection (RFC 5321 5.1, RFC 7505) against the stub
 * resolver, and relay_routes parsing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"

const struct kurir_core_api	*relay_api;
struct kurir_module		*relay_mod;
struct relay_conf		 relay_conf;

static char	stub[] = "/tmp/check_mx.XXXXXX";

static void
setup(void)
{
	FILE	*fp;
	int	 fd;

	strcpy(stub, "/tmp/check_mx.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(stub), -1);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	fprintf(fp,
	    "# preference order, equal ones random\n"
	    "pref.example MX 20 mx-c.pref.example\n"
	    "pref.example MX 10 mx-a.pref.example.\n"
	    "pref.example MX 10 mx-b.pref.example\n"
	    "pref.example MX 30 mx-d.pref.example\n"
	    "noMX.example A 192.0.2.7\n"
	    "v6only.example AAAA 2001:db8::25\n"
	    "both.example A 192.0.2.8\n"
	    "both.example AAAA 2001:db8::8\n"
	    "null.example MX 0 .\n"
	    "null.example A 192.0.2.9\n"
	    "mixed.example MX 0 .\n"
	    "mixed.example MX 10 mx-a.pref.example\n"
	    "bare.example TXT hello\n"
	    "temp.example TEMPFAIL\n"
	    "gone.example NXDOMAIN\n"
	    "mx-a.pref.example A 192.0.2.1\n"
	    "mx-a.pref.example AAAA 2001:db8::1\n");
	fclose(fp);
	relay_conf.tls = RELAY_TLS_OPPORTUNISTIC;
}

static void
teardown(void)
{
	unlink(stub);
}

START_TEST(test_preference_order)
{
	struct relay_hop	hops[RELAY_MAX_HOPS];
	char			diag[256];
	size_t			n;
	int			nullmx, i, a_first = 0, b_first = 0;

	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(relay_mx_lookup("pref.example", stub, hops,
		    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)),
		    KURIR_OK);
		ck_assert_uint_eq(n, 4);
		ck_assert_int_eq(nullmx, 0);
		ck_assert_uint_eq(hops[0].pref, 10);
		ck_assert_uint_eq(hops[1].pref, 10);
		ck_assert_str_eq(hops[2].host, "mx-c.pref.example");
		ck_assert_str_eq(hops[3].host, "mx-d.pref.example");
		ck_assert_uint_eq(hops[0].port, 25);
		if (strcmp(hops[0].host, "mx-a.pref.example") == 0)
			a_first++;
		else {
			ck_assert_str_eq(hops[0].host, "mx-b.pref.example");
			b_first++;
		}
	}
	/* Equal preferences are shuffled: both orders show up. */
	ck_assert_int_gt(a_first, 20);
	ck_assert_int_gt(b_first, 20);
}
END_TEST

START_TEST(test_fallback_to_address)
{
	struct relay_hop	hops[RELAY_MAX_HOPS];
	char			diag[256];
	size_t			n;
	int			nullmx;

	ck_assert_int_eq(relay_mx_lookup("nomx.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)), KURIR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(hops[0].host, "nomx.example");
	ck_assert_uint_eq(hops[0].port, 25);
	/* AAAA alone is an address too (RFC 5321 5.1). */
	ck_assert_int_eq(relay_mx_lookup("v6only.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)), KURIR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(hops[0].host, "v6only.example");
	ck_assert_int_eq(relay_mx_lookup("both.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)), KURIR_OK);
	ck_assert_str_eq(hops[0].host, "both.example");
	ck_assert_int_eq(nullmx, 0);
	/* A name that exists with neither MX nor address: permanent. */
	ck_assert_int_eq(relay_mx_lookup("bare.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)),
	    KURIR_E_PERMFAIL);
}
END_TEST

/* The null MX wins over the domain's address: no A/AAAA fallback. */
START_TEST(test_null_mx)
{
	struct relay_hop	hops[RELAY_MAX_HOPS];
	char			diag[256];
	size_t			n;
	int			nullmx;

	ck_assert_int_eq(relay_mx_lookup("null.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)),
	    KURIR_E_PERMFAIL);
	ck_assert_int_eq(nullmx, 1);
	ck_assert_ptr_nonnull(strstr(diag, "5.1.10"));
	/* A null MX among real ones (RFC 7505 forbids it): the real ones. */
	ck_assert_int_eq(relay_mx_lookup("mixed.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)), KURIR_OK);
	ck_assert_int_eq(nullmx, 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(hops[0].host, "mx-a.pref.example");
}
END_TEST

START_TEST(test_nxdomain_and_tempfail)
{
	struct relay_hop	hops[RELAY_MAX_HOPS];
	char			diag[256];
	size_t			n;
	int			nullmx;

	ck_assert_int_eq(relay_mx_lookup("gone.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)),
	    KURIR_E_PERMFAIL);
	ck_assert_int_eq(nullmx, 0);
	ck_assert_int_eq(relay_mx_lookup("unknown.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)),
	    KURIR_E_PERMFAIL);
	ck_assert_int_eq(relay_mx_lookup("temp.example", stub, hops,
	    RELAY_MAX_HOPS, &n, &nullmx, diag, sizeof(diag)),
	    KURIR_E_TEMPFAIL);
}
END_TEST

START_TEST(test_addresses)
{
	char	addrs[8][64];
	size_t	n;

	ck_assert_int_eq(relay_addr_lookup("mx-a.pref.example", stub, addrs,
	    8, &n), KURIR_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(addrs[0], "192.0.2.1");
	ck_assert_str_eq(addrs[1], "2001:db8::1");
	ck_assert_int_eq(relay_addr_lookup("v6only.example", stub, addrs, 8,
	    &n), KURIR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(addrs[0], "2001:db8::25");
	ck_assert_int_eq(relay_addr_lookup("both.example", stub, addrs, 8,
	    &n), KURIR_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(relay_addr_lookup("127.0.0.1", stub, addrs, 8, &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(relay_addr_lookup("mx-c.pref.example", stub, addrs,
	    8, &n), KURIR_E_NOTFOUND);
}
END_TEST

START_TEST(test_routes)
{
	struct relay_hop	h;

	ck_assert_int_eq(relay_route_find("example.net=127.0.0.1:3525, "
	    "*=smart.example:587;tls=verify;auth=u@x:p:w", "EXAMPLE.net", &h),
	    1);
	ck_assert_str_eq(h.host, "127.0.0.1");
	ck_assert_uint_eq(h.port, 3525);
	ck_assert_uint_eq(h.tls, RELAY_TLS_OPPORTUNISTIC);
	ck_assert_str_eq(h.auth_user, "");
	ck_assert_int_eq(relay_route_find("example.net=127.0.0.1:3525 "
	    "*=smart.example:587;tls=verify;auth=u@x:p:w", "other.org", &h),
	    1);
	ck_assert_str_eq(h.host, "smart.example");
	ck_assert_uint_eq(h.port, 587);
	ck_assert_uint_eq(h.tls, RELAY_TLS_VERIFY);
	ck_assert_str_eq(h.auth_user, "u@x");
	ck_assert_str_eq(h.auth_pass, "p:w");
	ck_assert_int_eq(relay_route_find("x.org=[::1]:25;tls=none", "x.org",
	    &h), 1);
	ck_assert_str_eq(h.host, "::1");
	ck_assert_uint_eq(h.tls, RELAY_TLS_NONE);
	ck_assert_int_eq(relay_route_find("x.org=host", "x.org", &h), -1);
	ck_assert_int_eq(relay_route_find("x.org=h:99999", "x.org", &h), -1);
	ck_assert_int_eq(relay_route_find("x.org=h:25;bogus", "x.org", &h),
	    -1);
	ck_assert_int_eq(relay_route_find("x.org=h:25", "y.org", &h), 0);
	ck_assert_int_eq(relay_route_find("", "y.org", &h), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("mx");
	TCase	*tc = tcase_create("mx");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_preference_order);
	tcase_add_test(tc, test_fallback_to_address);
	tcase_add_test(tc, test_null_mx);
	tcase_add_test(tc, test_nxdomain_and_tempfail);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_routes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
