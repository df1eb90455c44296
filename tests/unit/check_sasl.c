/*
 * check_sasl.c -- the SASL state machines against RFC 4616 (PLAIN) and
 * RFC 7677 (SCRAM-SHA-256) examples, LOGIN, base64, and malformed input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "base64.h"
#include "sasl.h"

#define CLIENT_NONCE	"rOprNGfwEbeRWgbNEkqO"
#define SERVER_NONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SALT_B64	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define CLIENT_FIRST	"n,,n=user,r=" CLIENT_NONCE
#define SERVER_FIRST	"r=" CLIENT_NONCE SERVER_NONCE ",s=" SALT_B64 ",i=4096"
#define CLIENT_FINAL	"c=biws,r=" CLIENT_NONCE SERVER_NONCE \
			",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SERVER_FINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static int
step(struct sasl_mech *m, const char *in, size_t len, const char **out,
    size_t *outlen)
{
	return sasl_mech_step(m, in, len, out, outlen);
}

START_TEST(test_base64)
{
	char	buf[64];
	int	n;

	ck_assert_int_eq(base64_encode("biws", 0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(base64_encode("n,,", 3, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "biws");
	ck_assert_int_eq(base64_encode("ab", 2, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "YWI=");
	ck_assert_int_eq(base64_encode("a", 1, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "YQ==");
	ck_assert_int_eq(base64_encode("abc", 3, buf, 4), -1);

	n = base64_decode("YWI=", 4, buf, sizeof(buf));
	ck_assert_int_eq(n, 2);
	ck_assert(memcmp(buf, "ab", 2) == 0);
	ck_assert_int_eq(base64_decode("YQ==", 4, buf, sizeof(buf)), 1);
	ck_assert_int_eq(base64_decode("", 0, buf, sizeof(buf)), 0);
	/* strict: bad length, bad chars, non-canonical bits, = inside */
	ck_assert_int_eq(base64_decode("YWI", 3, buf, sizeof(buf)), -1);
	ck_assert_int_eq(base64_decode("Y W=", 4, buf, sizeof(buf)), -1);
	ck_assert_int_eq(base64_decode("YR==", 4, buf, sizeof(buf)), -1);
	ck_assert_int_eq(base64_decode("Y=I=", 4, buf, sizeof(buf)), -1);
	ck_assert_int_eq(base64_decode("=AAA", 4, buf, sizeof(buf)), -1);
	ck_assert_int_eq(base64_decode("YWJj", 4, buf, 2), -1);
}
END_TEST

START_TEST(test_mech_names)
{
	ck_assert_int_eq(sasl_mech_id("plain"), SASL_MECH_PLAIN);
	ck_assert_int_eq(sasl_mech_id("LOGIN"), SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_mech_id("scram-sha-256"), SASL_MECH_SCRAM_SHA256);
	ck_assert_int_eq(sasl_mech_id("CRAM-MD5"), -1);
	ck_assert_int_eq(sasl_mech_is_plaintext(SASL_MECH_PLAIN), 1);
	ck_assert_int_eq(sasl_mech_is_plaintext(SASL_MECH_SCRAM_SHA256), 0);
	ck_assert_ptr_null(sasl_mech_new(99));
}
END_TEST

/* RFC 4616 section 4: "\0tim\0tanstaaftanstaaf". */
START_TEST(test_plain_rfc4616)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_PLAIN);
	const char		*out;
	size_t			 olen, plen;
	static const char	 msg[] = "\0tim\0tanstaaftanstaaf";

	ck_assert_int_eq(step(m, msg, sizeof(msg) - 1, &out, &olen),
	    SASL_R_VERIFY);
	ck_assert_str_eq(sasl_mech_user(m), "tim");
	ck_assert_str_eq(sasl_mech_authzid(m), "");
	ck_assert_str_eq(sasl_mech_password(m, &plen), "tanstaaftanstaaf");
	ck_assert_uint_eq(plen, 16);
	/* nothing more is accepted */
	ck_assert_int_eq(step(m, "x", 1, &out, &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

/* RFC 4616 section 4: "Ursel\0Kurt\0xipj3plmq", no initial response. */
START_TEST(test_plain_authzid)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_PLAIN);
	const char		*out;
	size_t			 olen;
	static const char	 msg[] = "Ursel\0Kurt\0xipj3plmq";

	ck_assert_int_eq(step(m, NULL, 0, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_uint_eq(olen, 0);
	ck_assert_int_eq(step(m, msg, sizeof(msg) - 1, &out, &olen),
	    SASL_R_VERIFY);
	ck_assert_str_eq(sasl_mech_authzid(m), "Ursel");
	ck_assert_str_eq(sasl_mech_user(m), "Kurt");
	ck_assert_str_eq(sasl_mech_password(m, NULL), "xipj3plmq");
	sasl_mech_free(m);
}
END_TEST

static const struct {
	const char	*msg;
	size_t		 len;
} plain_bad[] = {
	{ "timtanstaaf", 11 },		/* no NUL */
	{ "\0timtanstaaf", 12 },	/* one NUL */
	{ "\0\0secret", 8 },		/* empty authcid */
	{ "\0tim\0", 5 },		/* empty password */
	{ "\0tim\0pass\0word", 14 },	/* a third NUL */
	{ "", 0 },			/* empty response */
};

START_TEST(test_plain_bad)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_PLAIN);
	const char		*out;
	size_t			 olen;

	ck_assert_int_eq(step(m, plain_bad[_i].msg, plain_bad[_i].len, &out,
	    &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

START_TEST(test_plain_too_long)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_PLAIN);
	const char		*out;
	size_t			 olen, len = SASL_FIELD_MAX + 10;
	char			*buf = calloc(1, len);

	memset(buf + 1, 'a', 5);
	memset(buf + 7, 'p', len - 7);
	ck_assert_int_eq(step(m, buf, len, &out, &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
	free(buf);
}
END_TEST

START_TEST(test_login)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_LOGIN);
	const char		*out;
	size_t			 olen;

	ck_assert_int_eq(step(m, NULL, 0, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_str_eq(out, "Username:");
	ck_assert_int_eq(step(m, "alice@localhost", 15, &out, &olen),
	    SASL_R_CHALLENGE);
	ck_assert_str_eq(out, "Password:");
	ck_assert_int_eq(step(m, "s3cret", 6, &out, &olen), SASL_R_VERIFY);
	ck_assert_str_eq(sasl_mech_user(m), "alice@localhost");
	ck_assert_str_eq(sasl_mech_password(m, NULL), "s3cret");
	sasl_mech_free(m);

	/* initial response carries the user name */
	m = sasl_mech_new(SASL_MECH_LOGIN);
	ck_assert_int_eq(step(m, "bob", 3, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_str_eq(out, "Password:");
	ck_assert_int_eq(step(m, "pw", 2, &out, &olen), SASL_R_VERIFY);
	ck_assert_str_eq(sasl_mech_user(m), "bob");
	sasl_mech_free(m);

	/* empty password, NUL in the name */
	m = sasl_mech_new(SASL_MECH_LOGIN);
	ck_assert_int_eq(step(m, "bob", 3, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_int_eq(step(m, "", 0, &out, &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
	m = sasl_mech_new(SASL_MECH_LOGIN);
	ck_assert_int_eq(step(m, "b\0b", 3, &out, &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

static void
rfc7677_keys(struct kurir_scram_keys *k)
{
	uint8_t	salt[32];
	int	n;

	n = base64_decode(SALT_B64, strlen(SALT_B64), salt, sizeof(salt));
	ck_assert_int_eq(n, 16);
	ck_assert_int_eq(sasl_scram_derive("pencil", 6, salt, (size_t)n, 4096,
	    k), 0);
}

START_TEST(test_scram_derive)
{
	struct kurir_scram_keys	k;
	char			b64[64];

	rfc7677_keys(&k);
	base64_encode(k.stored_key, k.key_len, b64, sizeof(b64));
	ck_assert_str_eq(b64, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
	base64_encode(k.server_key, k.key_len, b64, sizeof(b64));
	ck_assert_str_eq(b64, "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
	ck_assert_uint_eq(k.iterations, 4096);
}
END_TEST

/* RFC 7677 section 3, the whole exchange, with an empty initial step. */
START_TEST(test_scram_rfc7677)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	struct kurir_scram_keys	 k;
	const char		*out;
	size_t			 olen;

	rfc7677_keys(&k);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	ck_assert_int_eq(step(m, NULL, 0, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_uint_eq(olen, 0);
	ck_assert_int_eq(step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out,
	    &olen), SASL_R_NEED_KEYS);
	ck_assert_str_eq(sasl_mech_user(m), "user");
	ck_assert_int_eq(sasl_mech_keys(m, &k, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_str_eq(out, SERVER_FIRST);
	ck_assert_uint_eq(olen, strlen(SERVER_FIRST));
	ck_assert_int_eq(step(m, CLIENT_FINAL, strlen(CLIENT_FINAL), &out,
	    &olen), SASL_R_CHALLENGE);
	ck_assert_str_eq(out, SERVER_FINAL);
	ck_assert_int_eq(step(m, "", 0, &out, &olen), SASL_R_SUCCESS);
	sasl_mech_free(m);
}
END_TEST

START_TEST(test_scram_wrong_proof)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	struct kurir_scram_keys	 k;
	const char		*out;
	size_t			 olen;
	char			 final[256];

	rfc7677_keys(&k);
	k.stored_key[0] ^= 1;	/* as if the password were different */
	sasl_mech_set_nonce(m, SERVER_NONCE);
	ck_assert_int_eq(step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out,
	    &olen), SASL_R_NEED_KEYS);
	ck_assert_int_eq(sasl_mech_keys(m, &k, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_int_eq(step(m, CLIENT_FINAL, strlen(CLIENT_FINAL), &out,
	    &olen), SASL_R_FAIL);
	sasl_mech_free(m);

	/* right keys, proof of another length */
	m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	rfc7677_keys(&k);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out, &olen);
	sasl_mech_keys(m, &k, &out, &olen);
	snprintf(final, sizeof(final), "c=biws,r=%s%s,p=AAAA",
	    CLIENT_NONCE, SERVER_NONCE);
	ck_assert_int_eq(step(m, final, strlen(final), &out, &olen),
	    SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

/* Unknown user: the exchange looks normal, the salt is stable per name,
 * and it fails at the proof. */
START_TEST(test_scram_unknown_user)
{
	struct sasl_mech	*m;
	const char		*out;
	size_t			 olen;
	char			 first1[256], first2[256], first3[256];

	sasl_scram_set_fake_iterations(4096);
	m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	ck_assert_int_eq(step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out,
	    &olen), SASL_R_NEED_KEYS);
	ck_assert_int_eq(sasl_mech_keys(m, NULL, &out, &olen),
	    SASL_R_CHALLENGE);
	snprintf(first1, sizeof(first1), "%s", out);
	ck_assert_ptr_nonnull(strstr(first1, ",i=4096"));
	ck_assert_int_eq(step(m, CLIENT_FINAL, strlen(CLIENT_FINAL), &out,
	    &olen), SASL_R_FAIL);
	sasl_mech_free(m);

	m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out, &olen);
	sasl_mech_keys(m, NULL, &out, &olen);
	snprintf(first2, sizeof(first2), "%s", out);
	sasl_mech_free(m);
	ck_assert_str_eq(first1, first2);

	m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	step(m, "n,,n=other,r=" CLIENT_NONCE, 13 + strlen(CLIENT_NONCE),
	    &out, &olen);
	sasl_mech_keys(m, NULL, &out, &olen);
	snprintf(first3, sizeof(first3), "%s", out);
	sasl_mech_free(m);
	ck_assert_str_ne(first1, first3);
}
END_TEST

/* Random server nonces are fresh, printable and free of ','. */
START_TEST(test_scram_nonce)
{
	struct sasl_mech	*m;
	struct kurir_scram_keys	 k;
	const char		*out;
	size_t			 olen, i;
	char			 a[256];

	rfc7677_keys(&k);
	m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out, &olen);
	ck_assert_int_eq(sasl_mech_keys(m, &k, &out, &olen), SASL_R_CHALLENGE);
	snprintf(a, sizeof(a), "%s", out);
	sasl_mech_free(m);
	ck_assert(strncmp(a, "r=" CLIENT_NONCE, 22) == 0);
	for (i = 22; a[i] != ','; i++)
		ck_assert(a[i] > 0x20 && a[i] < 0x7f);
	ck_assert_uint_gt(i, 22 + 16);
	m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out, &olen);
	sasl_mech_keys(m, &k, &out, &olen);
	ck_assert_str_ne(a, out);
	sasl_mech_free(m);
}
END_TEST

START_TEST(test_scram_authzid_escape)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	const char		*out;
	size_t			 olen;
	static const char	 first[] = "y,a=a=3Db,n=u=2Cser,r=abc";

	ck_assert_int_eq(step(m, first, strlen(first), &out, &olen),
	    SASL_R_NEED_KEYS);
	ck_assert_str_eq(sasl_mech_user(m), "u,ser");
	ck_assert_str_eq(sasl_mech_authzid(m), "a=b");
	sasl_mech_free(m);
}
END_TEST

static const char *scram_first_bad[] = {
	"p=tls-unique,,n=user,r=abc",	/* channel binding asked for */
	"x,,n=user,r=abc",		/* bad flag */
	"n,,m=ext,n=user,r=abc",	/* mandatory extension */
	"n,,n=user",			/* no nonce */
	"n,,n=,r=abc",			/* empty name */
	"n,,n=us=er,r=abc",		/* bad escape */
	"n,,n=user,r=",			/* empty nonce */
	"n,,n=user,r=a b",		/* nonce not printable */
	"n,a,n=user,r=abc",		/* bad authzid */
	"n,,",				/* bare missing */
	"n",
};

START_TEST(test_scram_first_bad)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	const char		*out;
	size_t			 olen;

	ck_assert_int_eq(step(m, scram_first_bad[_i],
	    strlen(scram_first_bad[_i]), &out, &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

static const char *scram_final_bad[] = {
	/* c= does not match the gs2 header "n,," */
	"c=eSws,r=" CLIENT_NONCE SERVER_NONCE
	    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	/* nonce without the server part */
	"c=biws,r=" CLIENT_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	/* no proof */
	"c=biws,r=" CLIENT_NONCE SERVER_NONCE,
	/* proof not last */
	"c=biws,r=" CLIENT_NONCE SERVER_NONCE
	    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=y",
	/* bad base64 in the proof */
	"c=biws,r=" CLIENT_NONCE SERVER_NONCE ",p=!!!!",
	"garbage",
	"",
};

START_TEST(test_scram_final_bad)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	struct kurir_scram_keys	 k;
	const char		*out;
	size_t			 olen;

	rfc7677_keys(&k);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out, &olen);
	ck_assert_int_eq(sasl_mech_keys(m, &k, &out, &olen), SASL_R_CHALLENGE);
	ck_assert_int_eq(step(m, scram_final_bad[_i],
	    strlen(scram_final_bad[_i]), &out, &olen), SASL_R_BADPROTO);
	/* and the exchange is over */
	ck_assert_int_eq(step(m, CLIENT_FINAL, strlen(CLIENT_FINAL), &out,
	    &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

START_TEST(test_scram_ack_must_be_empty)
{
	struct sasl_mech	*m = sasl_mech_new(SASL_MECH_SCRAM_SHA256);
	struct kurir_scram_keys	 k;
	const char		*out;
	size_t			 olen;

	rfc7677_keys(&k);
	sasl_mech_set_nonce(m, SERVER_NONCE);
	step(m, CLIENT_FIRST, strlen(CLIENT_FIRST), &out, &olen);
	sasl_mech_keys(m, &k, &out, &olen);
	ck_assert_int_eq(step(m, CLIENT_FINAL, strlen(CLIENT_FINAL), &out,
	    &olen), SASL_R_CHALLENGE);
	ck_assert_int_eq(step(m, "x", 1, &out, &olen), SASL_R_BADPROTO);
	sasl_mech_free(m);
}
END_TEST

static Suite *
sasl_suite(void)
{
	Suite	*s = suite_create("sasl");
	TCase	*tc;

	tc = tcase_create("base64");
	tcase_add_test(tc, test_base64);
	suite_add_tcase(s, tc);

	tc = tcase_create("plain");
	tcase_add_test(tc, test_mech_names);
	tcase_add_test(tc, test_plain_rfc4616);
	tcase_add_test(tc, test_plain_authzid);
	tcase_add_loop_test(tc, test_plain_bad, 0,
	    sizeof(plain_bad) / sizeof(plain_bad[0]));
	tcase_add_test(tc, test_plain_too_long);
	tcase_add_test(tc, test_login);
	suite_add_tcase(s, tc);

	tc = tcase_create("scram");
	tcase_add_test(tc, test_scram_derive);
	tcase_add_test(tc, test_scram_rfc7677);
	tcase_add_test(tc, test_scram_wrong_proof);
	tcase_add_test(tc, test_scram_unknown_user);
	tcase_add_test(tc, test_scram_nonce);
	tcase_add_test(tc, test_scram_authzid_escape);
	tcase_add_loop_test(tc, test_scram_first_bad, 0,
	    sizeof(scram_first_bad) / sizeof(scram_first_bad[0]));
	tcase_add_loop_test(tc, test_scram_final_bad, 0,
	    sizeof(scram_final_bad) / sizeof(scram_final_bad[0]));
	tcase_add_test(tc, test_scram_ack_must_be_empty);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(sasl_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
