/*
 * check_login.c -- the login services (login.c) with the event loop,
 * connections, configuration and auth module replaced by fakes: pool jobs
 * and timers run when the test says so.  Covers the plaintext policy,
 * PLAIN/LOGIN/SCRAM-SHA-256 through base64, login_plain, throttle delay
 * and lockout, exemptions, disabled users, authzid, and freeing an
 * exchange while its job or delay is pending.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_pool.h"
#include "base64.h"
#include "config.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "login.h"
#include "module.h"
#include "sasl.h"

/* ---- fakes ------------------------------------------------------------ */

struct kurir_conn {
	int		 plaintext_ok;
	const char	*peer;
};

static uint64_t	now_ms = 1000000;

struct job {
	ev_cb	*work, *done;
	void	*arg;
};
static struct job	jobs[16];
static int		njobs;

struct ev_timer {
	uint64_t	 at;
	ev_cb		*cb;
	void		*arg;
	int		 live;
};
static struct ev_timer	timers[16];

static const char	*conf_exempt = "";
static int64_t		 conf_table_size = 64;
static const char	*conf_default_domain = "";

int
conn_plaintext_ok(struct kurir_conn *c)
{
	return c->plaintext_ok;
}

const char *
conn_peer_addr(struct kurir_conn *c)
{
	return c->peer;
}

void
conn_log(struct kurir_conn *c, int level, const char *fmt, ...)
{
}

void
log_warnx(const char *fmt, ...)
{
}

void
log_info(const char *fmt, ...)
{
}

char *
log_escape(char *out, size_t cap, const void *buf, size_t len)
{
	snprintf(out, cap, "%.*s", (int)len, (const char *)buf);
	return out;
}

struct ev_loop *
ev_default(void)
{
	return (struct ev_loop *)1;
}

uint64_t
ev_now_ms(void)
{
	return now_ms;
}

int
auth_pool_run(ev_cb *work, ev_cb *done, void *arg)
{
	if (njobs == 16)
		return -1;
	jobs[njobs].work = work;
	jobs[njobs].done = done;
	jobs[njobs++].arg = arg;
	return 0;
}

struct ev_timer *
ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_cb *cb, void *arg)
{
	int	i;

	for (i = 0; i < 16; i++)
		if (!timers[i].live) {
			timers[i].at = now_ms + ms;
			timers[i].cb = cb;
			timers[i].arg = arg;
			timers[i].live = 1;
			return &timers[i];
		}
	return NULL;
}

void
ev_timer_del(struct ev_timer *t)
{
	t->live = 0;
}

const char *
config_str(const char *key)
{
	if (strcmp(key, "auth_throttle_exempt") == 0)
		return conf_exempt;
	if (strcmp(key, "auth_default_domain") == 0)
		return conf_default_domain;
	return NULL;
}

int64_t
config_num(const char *key)
{
	if (strcmp(key, "auth_throttle_delay_ms") == 0)
		return 500;
	if (strcmp(key, "auth_throttle_delay_max_ms") == 0)
		return 4000;
	if (strcmp(key, "auth_throttle_ip_failures") == 0)
		return 5;
	if (strcmp(key, "auth_throttle_user_failures") == 0)
		return 3;
	if (strcmp(key, "auth_throttle_window") == 0)
		return 600;
	if (strcmp(key, "auth_throttle_lockout") == 0)
		return 60;
	if (strcmp(key, "auth_throttle_table_size") == 0)
		return conf_table_size;
	return -1;
}

/* One user, alice@example.org / "pencil", RFC 7677's salt; bob is
 * disabled. */
static struct kurir_scram_keys	alice_keys;
static int			backend_down;

static int
fake_lookup(const char *address, struct kurir_auth_user *u)
{
	if (backend_down)
		return KURIR_E_TEMPFAIL;
	if (strcmp(address, "alice@example.org") == 0 ||
	    strcmp(address, "bob@example.org") == 0) {
		snprintf(u->address, sizeof(u->address), "%s", address);
		u->enabled = address[0] == 'a';
		return KURIR_OK;
	}
	return KURIR_E_NOTFOUND;
}

static int
fake_verify(const char *address, const char *pw, size_t len)
{
	if (backend_down)
		return KURIR_E_TEMPFAIL;
	if ((strcmp(address, "alice@example.org") == 0 ||
	    strcmp(address, "bob@example.org") == 0) &&
	    len == 6 && memcmp(pw, "pencil", 6) == 0)
		return KURIR_OK;
	return KURIR_E_AUTH;
}

static int
fake_scram_keys(const char *address, const char *mech,
    struct kurir_scram_keys *k)
{
	if (strcmp(address, "alice@example.org") != 0)
		return KURIR_E_NOTFOUND;
	*k = alice_keys;
	return KURIR_OK;
}

static const struct kurir_auth_ops fake_ops = {
	.size = sizeof(struct kurir_auth_ops),
	.lookup = fake_lookup,
	.verify_password = fake_verify,
	.scram_keys = fake_scram_keys,
};

const struct kurir_auth_ops *
module_auth_ops(void)
{
	return &fake_ops;
}

/* ---- helpers ------------------------------------------------------------- */

static int	last_status = -1;
static char	last_text[512];
static int	ncalls;
static struct kurir_sasl *free_in_cb;

static void
result_cb(void *arg, int status, const char *text)
{
	last_status = status;
	snprintf(last_text, sizeof(last_text), "%s", text);
	ncalls++;
	if (free_in_cb != NULL) {
		sasl_free(free_in_cb);
		free_in_cb = NULL;
	}
}

static void
run_jobs(void)
{
	struct job	j;

	while (njobs > 0) {
		j = jobs[0];
		memmove(jobs, jobs + 1, sizeof(jobs[0]) * (size_t)--njobs);
		j.work(j.arg);
		j.done(j.arg);
	}
}

/* Advance the clock by ms and fire what is due; returns how many. */
static int
advance(uint64_t ms)
{
	int	i, n = 0;

	now_ms += ms;
	for (i = 0; i < 16; i++)
		if (timers[i].live && timers[i].at <= now_ms) {
			timers[i].live = 0;
			timers[i].cb(timers[i].arg);
			n++;
		}
	return n;
}

static void
reset(void)
{
	uint8_t	salt[16];

	login_reset();
	memset(timers, 0, sizeof(timers));
	njobs = 0;
	ncalls = 0;
	last_status = -1;
	last_text[0] = '\0';
	backend_down = 0;
	conf_exempt = "";
	conf_default_domain = "";
	conf_table_size = 64;
	now_ms += 3600 * 1000;
	base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof(salt));
	sasl_scram_derive("pencil", 6, salt, 16, 4096, &alice_keys);
}

static char *
b64(const char *raw, size_t len)
{
	static char	buf[1024];

	base64_encode(raw, len, buf, sizeof(buf));
	return buf;
}

static struct kurir_conn	tls_conn = { 1, "203.0.113.5" };
static struct kurir_conn	plain_conn = { 0, "203.0.113.6" };

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_mechs)
{
	ck_assert_str_eq(sasl_mechs(&tls_conn), "PLAIN LOGIN SCRAM-SHA-256");
	ck_assert_str_eq(sasl_mechs(&plain_conn), "SCRAM-SHA-256");
}
END_TEST

START_TEST(test_plain_ok)
{
	struct kurir_sasl	*s;
	static const char	 msg[] = "\0alice@Example.ORG\0pencil";

	reset();
	ck_assert_int_eq(sasl_start(&tls_conn, "plain", b64(msg,
	    sizeof(msg) - 1), result_cb, NULL, &s), KURIR_OK);
	ck_assert_int_eq(ncalls, 0);	/* verifying on the pool */
	ck_assert_int_eq(njobs, 1);
	ck_assert_int_eq(sasl_step(s, "AAAA"), KURIR_E_INVALID);
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
	ck_assert_str_eq(last_text, "alice@example.org");
	ck_assert_int_eq(sasl_step(s, "AAAA"), KURIR_E_INVALID);
	sasl_free(s);
}
END_TEST

START_TEST(test_plain_no_ir)
{
	struct kurir_sasl	*s;
	static const char	 msg[] = "\0alice@example.org\0pencil";

	reset();
	ck_assert_int_eq(sasl_start(&tls_conn, "PLAIN", NULL, result_cb, NULL,
	    &s), KURIR_OK);
	ck_assert_int_eq(last_status, KURIR_SASL_CONTINUE);
	ck_assert_str_eq(last_text, "");
	ck_assert_int_eq(sasl_step(s, b64(msg, sizeof(msg) - 1)), KURIR_OK);
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
	sasl_free(s);
}
END_TEST

START_TEST(test_plaintext_denied)
{
	struct kurir_sasl	*s;
	static const char	 msg[] = "\0alice@example.org\0pencil";

	reset();
	ck_assert_int_eq(sasl_start(&plain_conn, "PLAIN", b64(msg,
	    sizeof(msg) - 1), result_cb, NULL, &s), KURIR_OK);
	ck_assert_int_eq(last_status, KURIR_SASL_PLAINDENIED);
	ck_assert_int_eq(njobs, 0);
	sasl_free(s);
	ck_assert_int_eq(sasl_start(&plain_conn, "LOGIN", NULL, result_cb,
	    NULL, &s), KURIR_OK);
	ck_assert_int_eq(last_status, KURIR_SASL_PLAINDENIED);
	sasl_free(s);
	ck_assert_int_eq(login_plain(&plain_conn, "alice@example.org",
	    "pencil", result_cb, NULL, &s), KURIR_OK);
	ck_assert_int_eq(last_status, KURIR_SASL_PLAINDENIED);
	sasl_free(s);
	ck_assert_int_eq(sasl_start(&tls_conn, "CRAM-MD5", NULL, result_cb,
	    NULL, &s), KURIR_E_UNSUPPORTED);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_login_mech)
{
	struct kurir_sasl	*s;

	reset();
	sasl_start(&tls_conn, "LOGIN", NULL, result_cb, NULL, &s);
	ck_assert_int_eq(last_status, KURIR_SASL_CONTINUE);
	ck_assert_str_eq(last_text, "VXNlcm5hbWU6");	/* Username: */
	sasl_step(s, b64("alice@example.org", 17));
	ck_assert_str_eq(last_text, "UGFzc3dvcmQ6");	/* Password: */
	sasl_step(s, b64("pencil", 6));
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
	sasl_free(s);
}
END_TEST

START_TEST(test_bad_input)
{
	struct kurir_sasl	*s;

	reset();
	sasl_start(&tls_conn, "PLAIN", "!!!!", result_cb, NULL, &s);
	ck_assert_int_eq(last_status, KURIR_SASL_BADPROTO);
	sasl_free(s);
	sasl_start(&tls_conn, "PLAIN", NULL, result_cb, NULL, &s);
	sasl_step(s, "*");
	ck_assert_int_eq(last_status, KURIR_SASL_BADPROTO);
	sasl_free(s);
	sasl_start(&tls_conn, "PLAIN", b64("nonul", 5), result_cb, NULL, &s);
	ck_assert_int_eq(last_status, KURIR_SASL_BADPROTO);
	sasl_free(s);
	/* "=" is an empty initial response: bad for PLAIN */
	sasl_start(&tls_conn, "PLAIN", "=", result_cb, NULL, &s);
	ck_assert_int_eq(last_status, KURIR_SASL_BADPROTO);
	sasl_free(s);
}
END_TEST

/* Unknown user and wrong password: same answer, same delay. */
START_TEST(test_fail_delay)
{
	struct kurir_sasl	*s;
	static const char	 wrong[] = "\0alice@example.org\0pencil2";
	static const char	 nouser[] = "\0nobody@example.org\0pencil";

	reset();
	sasl_start(&tls_conn, "PLAIN", b64(wrong, sizeof(wrong) - 1),
	    result_cb, NULL, &s);
	run_jobs();
	ck_assert_int_eq(ncalls, 0);	/* answer held back */
	ck_assert_int_eq(advance(499), 0);
	ck_assert_int_eq(advance(1), 1);
	ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
	sasl_free(s);

	ncalls = 0;
	sasl_start(&plain_conn, "SCRAM-SHA-256", NULL, result_cb, NULL, &s);
	sasl_free(s);
	sasl_start(&tls_conn, "PLAIN", b64(nouser, sizeof(nouser) - 1),
	    result_cb, NULL, &s);
	run_jobs();
	ncalls = 0;
	/* 2nd failure from this address: 1000 ms */
	ck_assert_int_eq(advance(999), 0);
	ck_assert_int_eq(advance(1), 1);
	ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
	sasl_free(s);
}
END_TEST

START_TEST(test_lockout)
{
	struct kurir_sasl	*s;
	static const char	 wrong[] = "\0alice@example.org\0nope";
	static const char	 right[] = "\0alice@example.org\0pencil";
	int			 i;

	reset();
	for (i = 0; i < 3; i++) {
		sasl_start(&tls_conn, "PLAIN", b64(wrong, sizeof(wrong) - 1),
		    result_cb, NULL, &s);
		run_jobs();
		advance(5000);
		ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
		sasl_free(s);
	}
	/* alice is locked: even the right password gets a temporary
	 * failure, at once and without touching the backend */
	sasl_start(&tls_conn, "PLAIN", b64(right, sizeof(right) - 1),
	    result_cb, NULL, &s);
	ck_assert_int_eq(njobs, 0);
	ck_assert_int_eq(last_status, KURIR_SASL_TEMPFAIL);
	sasl_free(s);
	advance(60 * 1000);
	sasl_start(&tls_conn, "PLAIN", b64(right, sizeof(right) - 1),
	    result_cb, NULL, &s);
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
	sasl_free(s);
}
END_TEST

START_TEST(test_exempt)
{
	struct kurir_sasl	*s;
	static const char	 wrong[] = "\0alice@example.org\0nope";
	int			 i;

	reset();
	conf_exempt = "203.0.113.0/24";
	for (i = 0; i < 10; i++) {
		ncalls = 0;
		sasl_start(&tls_conn, "PLAIN", b64(wrong, sizeof(wrong) - 1),
		    result_cb, NULL, &s);
		run_jobs();
		ck_assert_int_eq(ncalls, 1);	/* no delay */
		ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
		sasl_free(s);
	}
}
END_TEST

/* One failed PLAIN login of alice; returns the delay of its answer. */
static uint64_t
fail_once(void)
{
	struct kurir_sasl	*s;
	static const char	 wrong[] = "\0alice@example.org\0nope";
	uint64_t		 ms = 0;

	ncalls = 0;
	sasl_start(&tls_conn, "PLAIN", b64(wrong, sizeof(wrong) - 1),
	    result_cb, NULL, &s);
	run_jobs();
	while (ncalls == 0 && ms < 100000) {
		advance(100);
		ms += 100;
	}
	ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
	sasl_free(s);
	return ms;
}

/* login_share() as the master calls it at start and on every reload: the
 * counts survive a reload, and a new table size starts a new table. */
START_TEST(test_share_reload)
{
	reset();
	login_share();
	ck_assert_uint_eq(fail_once(), 500);
	ck_assert_uint_eq(fail_once(), 1000);
	login_share();			/* reload, same table size */
	ck_assert_uint_eq(fail_once(), 2000);
	conf_table_size = 128;
	login_share();			/* reload, other size: forgotten */
	ck_assert_uint_eq(fail_once(), 500);
	login_reset();
}
END_TEST

START_TEST(test_check_config)
{
	char	err[128];

	reset();
	conf_exempt = "127.0.0.0/8 ::1";
	ck_assert_int_eq(login_check_config(err, sizeof(err)), 0);
	conf_exempt = "127.0.0.0/8 not-a-net";
	ck_assert_int_eq(login_check_config(err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "auth_throttle_exempt"));
	ck_assert_ptr_nonnull(strstr(err, "not-a-net"));
}
END_TEST

START_TEST(test_login_plain)
{
	struct kurir_sasl	*s;

	reset();
	conf_default_domain = "example.org";
	login_plain(&tls_conn, "alice", "pencil", result_cb, NULL, &s);
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
	ck_assert_str_eq(last_text, "alice@example.org");
	sasl_free(s);
	/* disabled user, right password: a plain failure */
	login_plain(&tls_conn, "bob@example.org", "pencil", result_cb, NULL,
	    &s);
	run_jobs();
	advance(5000);
	ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
	sasl_free(s);
	login_plain(&tls_conn, "alice", "", result_cb, NULL, &s);
	ck_assert_int_eq(last_status, KURIR_SASL_BADPROTO);
	sasl_free(s);
	backend_down = 1;
	login_plain(&tls_conn, "alice", "pencil", result_cb, NULL, &s);
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_TEMPFAIL);
	sasl_free(s);
}
END_TEST

START_TEST(test_authzid)
{
	struct kurir_sasl	*s;
	static const char	 self[] = "alice@example.org\0alice@example.org"
	    "\0pencil";
	static const char	 other[] = "bob@example.org\0alice@example.org"
	    "\0pencil";

	reset();
	sasl_start(&tls_conn, "PLAIN", b64(self, sizeof(self) - 1), result_cb,
	    NULL, &s);
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
	sasl_free(s);
	sasl_start(&tls_conn, "PLAIN", b64(other, sizeof(other) - 1),
	    result_cb, NULL, &s);
	run_jobs();
	advance(5000);
	ck_assert_int_eq(last_status, KURIR_SASL_FAIL);
	sasl_free(s);
}
END_TEST

/* A SCRAM-SHA-256 client, enough to drive the server with any nonce. */
static void
scram_client_final(const char *first_bare, const char *server_first,
    const char *password, char *out, size_t outlen)
{
	char		 salt_b64[64], nonce[200], wo_proof[256], auth[2048];
	uint8_t		 salt[64], salted[32], ck[32], sk[32], sig[32];
	unsigned int	 len;
	const char	*p;
	int		 saltlen, iter, i;

	p = strstr(server_first, ",s=");
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(p - server_first - 2),
	    server_first + 2);
	sscanf(p + 3, "%63[^,],i=%d", salt_b64, &iter);
	saltlen = base64_decode(salt_b64, strlen(salt_b64), salt,
	    sizeof(salt));
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, saltlen,
	    iter, EVP_sha256(), 32, salted);
	len = 32;
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, ck,
	    &len);
	EVP_Digest(ck, 32, sk, &len, EVP_sha256(), NULL);
	snprintf(wo_proof, sizeof(wo_proof), "c=biws,r=%s", nonce);
	snprintf(auth, sizeof(auth), "%s,%s,%s", first_bare, server_first,
	    wo_proof);
	HMAC(EVP_sha256(), sk, 32, (const uint8_t *)auth, strlen(auth), sig,
	    &len);
	for (i = 0; i < 32; i++)
		ck[i] ^= sig[i];
	snprintf(out, outlen, "%s,p=", wo_proof);
	base64_encode(ck, 32, out + strlen(out), outlen - strlen(out));
}

static int
scram_login(const char *user, const char *password, int with_ir)
{
	struct kurir_sasl	*s;
	char			 first[128], sf[512], final[1024];
	int			 n;

	snprintf(first, sizeof(first), "n,,n=%s,r=fyko+d2lbbFgONRv9qkxdawL",
	    user);
	if (with_ir)
		sasl_start(&plain_conn, "SCRAM-SHA-256", b64(first,
		    strlen(first)), result_cb, NULL, &s);
	else {
		sasl_start(&plain_conn, "SCRAM-SHA-256", NULL, result_cb,
		    NULL, &s);
		ck_assert_int_eq(last_status, KURIR_SASL_CONTINUE);
		ck_assert_str_eq(last_text, "");
		sasl_step(s, b64(first, strlen(first)));
	}
	run_jobs();		/* key lookup on the pool */
	ck_assert_int_eq(last_status, KURIR_SASL_CONTINUE);
	n = base64_decode(last_text, strlen(last_text), sf, sizeof(sf) - 1);
	ck_assert_int_ge(n, 0);
	sf[n] = '\0';
	scram_client_final(first + 3, sf, password, final, sizeof(final));
	n = ncalls;
	sasl_step(s, b64(final, strlen(final)));
	if (ncalls == n)
		advance(20000);		/* a failure's delayed answer */
	if (last_status == KURIR_SASL_CONTINUE) {
		n = base64_decode(last_text, strlen(last_text), sf,
		    sizeof(sf) - 1);
		sf[n] = '\0';
		ck_assert(strncmp(sf, "v=", 2) == 0);
		sasl_step(s, "");
	}
	advance(20000);
	sasl_free(s);
	return last_status;
}

START_TEST(test_scram)
{
	reset();
	ck_assert_int_eq(scram_login("alice@example.org", "pencil", 1),
	    KURIR_SASL_OK);
	ck_assert_str_eq(last_text, "alice@example.org");
	ck_assert_int_eq(scram_login("alice@example.org", "pencil", 0),
	    KURIR_SASL_OK);
	ck_assert_int_eq(scram_login("alice@example.org", "wrong", 1),
	    KURIR_SASL_FAIL);
	ck_assert_int_eq(scram_login("nobody@example.org", "pencil", 1),
	    KURIR_SASL_FAIL);
	/* disabled users get made-up keys */
	ck_assert_int_eq(scram_login("bob@example.org", "pencil", 1),
	    KURIR_SASL_FAIL);
}
END_TEST

/* Freeing while the job or the delay is pending: no callback, no leak
 * (run under ASan to see the second half). */
START_TEST(test_free_pending)
{
	struct kurir_sasl	*s;
	static const char	 msg[] = "\0alice@example.org\0pencil";
	static const char	 wrong[] = "\0alice@example.org\0x";

	reset();
	sasl_start(&tls_conn, "PLAIN", b64(msg, sizeof(msg) - 1), result_cb,
	    NULL, &s);
	sasl_free(s);
	run_jobs();
	ck_assert_int_eq(ncalls, 0);
	sasl_start(&tls_conn, "PLAIN", b64(wrong, sizeof(wrong) - 1),
	    result_cb, NULL, &s);
	run_jobs();
	sasl_free(s);
	ck_assert_int_eq(advance(20000), 0);
	ck_assert_int_eq(ncalls, 0);
	/* freed from inside its own callback */
	sasl_start(&tls_conn, "PLAIN", NULL, result_cb, NULL, &s);
	free_in_cb = s;
	sasl_step(s, b64(msg, sizeof(msg) - 1));
	run_jobs();
	ck_assert_int_eq(last_status, KURIR_SASL_OK);
}
END_TEST

static Suite *
login_suite(void)
{
	Suite	*s = suite_create("login");
	TCase	*tc = tcase_create("login");

	tcase_add_test(tc, test_mechs);
	tcase_add_test(tc, test_plain_ok);
	tcase_add_test(tc, test_plain_no_ir);
	tcase_add_test(tc, test_plaintext_denied);
	tcase_add_test(tc, test_login_mech);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_fail_delay);
	tcase_add_test(tc, test_lockout);
	tcase_add_test(tc, test_exempt);
	tcase_add_test(tc, test_share_reload);
	tcase_add_test(tc, test_check_config);
	tcase_add_test(tc, test_login_plain);
	tcase_add_test(tc, test_authzid);
	tcase_add_test(tc, test_scram);
	tcase_add_test(tc, test_free_pending);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(login_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
