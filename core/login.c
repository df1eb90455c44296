/*
 * login.c -- SASL exchanges and plaintext logins for every protocol (see
 * login.h).  The mechanisms are the pure machines of sasl.c; this file
 * adds base64, the plaintext policy, throttling, and moves every call
 * into the auth module onto the hashing threads (auth_pool.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth_pool.h"
#include "base64.h"
#include "config.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "login.h"
#include "module.h"
#include "sasl.h"
#include "throttle.h"

#define JOB_VERIFY	1	/* verify_password, then lookup */
#define JOB_KEYS	2	/* lookup, then scram_keys */

struct kurir_sasl {
	struct kurir_conn		*c;
	struct sasl_mech		*m;	/* NULL for login_plain */
	int				 mech;
	kurir_sasl_cb			*cb;
	void				*arg;
	const struct kurir_auth_ops	*ops;

	int				 busy;	/* job or delay pending */
	struct ev_timer			*timer;
	int				 in_cb;
	int				 freed;
	int				 done;

	char				 ip[64];
	char				 user[KURIR_ADDR_MAX + 1];
	char				*password;	/* login_plain */
	size_t				 passlen;

	/* job in and out (touched by the pool thread only while busy) */
	int				 job;
	int				 rc;
	int				 have_keys;
	struct kurir_scram_keys		 keys;
	char				 canonical[KURIR_ADDR_MAX + 1];
};

static struct throttle	*throttle;
static int		 throttle_tried;

static void	sasl_destroy(struct kurir_sasl *s);

/* ---- throttle ------------------------------------------------------- */

static int64_t
num(const char *key, int64_t def)
{
	int64_t	v = config_num(key);

	return v < 0 ? def : v;
}

static void
throttle_conf_load(struct throttle_conf *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->delay_ms = (uint64_t)num("auth_throttle_delay_ms", 1000);
	tc->delay_max_ms = (uint64_t)num("auth_throttle_delay_max_ms", 15000);
	tc->ip_failures = (uint32_t)num("auth_throttle_ip_failures", 20);
	tc->user_failures = (uint32_t)num("auth_throttle_user_failures", 10);
	tc->window_ms = (uint64_t)num("auth_throttle_window", 600) * 1000;
	tc->lockout_ms = (uint64_t)num("auth_throttle_lockout", 300) * 1000;
	tc->max_entries = (size_t)num("auth_throttle_table_size", 16384);
}

static void
throttle_exempt_load(struct throttle *t)
{
	const char	*ex = config_str("auth_throttle_exempt");
	char		 err[256];

	if (throttle_set_exempt(t, ex != NULL ? ex : "", err,
	    sizeof(err)) == -1)
		log_warnx("auth: %s", err);	/* checked at config time */
}

/* The table of this process: the master's (login_share) when it forked
 * us, else a table of our own. */
static struct throttle *
get_throttle(void)
{
	struct throttle_conf	tc;

	if (throttle != NULL || throttle_tried)
		return throttle;
	throttle_tried = 1;
	throttle_conf_load(&tc);
	if ((throttle = throttle_new(&tc)) == NULL) {
		log_warnx("auth: cannot allocate the throttle table");
		return NULL;
	}
	throttle_exempt_load(throttle);
	return throttle;
}

void
login_share(void)
{
	struct throttle_conf	tc;

	throttle_conf_load(&tc);
	if (throttle != NULL && throttle_reconf(throttle, &tc) == -1) {
		log_info("auth: auth_throttle_table_size changed; failed "
		    "logins counted so far are forgotten");
		throttle_free(throttle);
		throttle = NULL;
	}
	if (throttle == NULL && (throttle = throttle_new(&tc)) == NULL)
		log_warnx("auth: cannot map the shared throttle table; "
		    "each worker counts failed logins on its own");
	if (throttle != NULL)
		throttle_exempt_load(throttle);
	/* without a table, a worker makes its own in get_throttle() */
	throttle_tried = throttle != NULL;
}

int
login_check_config(char *err, size_t errlen)
{
	struct throttle_conf	 tc;
	struct throttle		*t;
	const char		*ex = config_str("auth_throttle_exempt");
	int			 rc;

	memset(&tc, 0, sizeof(tc));
	tc.max_entries = 1;
	if (ex == NULL || *ex == '\0')
		return 0;
	if ((t = throttle_new(&tc)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = throttle_set_exempt(t, ex, err, errlen);
	throttle_free(t);
	return rc;
}

void
login_reset(void)
{
	throttle_free(throttle);
	throttle = NULL;
	throttle_tried = 0;
}

/* ---- helpers -------------------------------------------------------- */

/* The login name as the auth module expects it: a lower-cased domain,
 * auth_default_domain added to a bare name.  -1 if unusable. */
static int
normalize_user(const char *in, char *out, size_t outlen)
{
	const char	*dom, *at;
	char		*p;
	int		 n;

	if (in == NULL || *in == '\0')
		return -1;
	if ((at = strrchr(in, '@')) == NULL &&
	    (dom = config_str("auth_default_domain")) != NULL &&
	    *dom != '\0')
		n = snprintf(out, outlen, "%s@%s", in, dom);
	else
		n = snprintf(out, outlen, "%s", in);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	if ((p = strrchr(out, '@')) != NULL)
		for (; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return 0;
}

static void
deliver(struct kurir_sasl *s, int status, const char *text)
{
	if (status != KURIR_SASL_CONTINUE)
		s->done = 1;
	s->in_cb++;
	s->cb(s->arg, status, text);
	s->in_cb--;
	if (s->in_cb == 0 && s->freed)
		sasl_destroy(s);
}

static const char *
mech_name(const struct kurir_sasl *s)
{
	return s->m != NULL ? sasl_mech_name(s->mech) : "LOGIN-PLAIN";
}

static void
log_result(struct kurir_sasl *s, const char *what, uint64_t delay)
{
	char	u[128];

	log_escape(u, sizeof(u), s->user, strlen(s->user));
	if (delay > 0)
		conn_log(s->c, KURIR_LOG_INFO, "auth: %s user=%s mech=%s "
		    "(answer delayed %llu ms)", what, u, mech_name(s),
		    (unsigned long long)delay);
	else
		conn_log(s->c, KURIR_LOG_INFO, "auth: %s user=%s mech=%s",
		    what, u, mech_name(s));
}

static void
fail_now(void *arg)
{
	struct kurir_sasl	*s = arg;

	s->timer = NULL;
	s->busy = 0;
	if (s->freed) {
		sasl_destroy(s);
		return;
	}
	deliver(s, KURIR_SASL_FAIL, "");
}

/* Wrong credentials: count them and answer after the throttle delay. */
static void
fail(struct kurir_sasl *s)
{
	struct throttle	*t = get_throttle();
	uint64_t	 delay = 0;

	if (t != NULL)
		delay = throttle_fail(t, s->ip, s->user, ev_now_ms());
	log_result(s, "login failed", delay);
	if (delay > 0 && (s->timer = ev_timer_add(ev_default(), delay,
	    fail_now, s)) != NULL) {
		s->busy = 1;
		return;
	}
	deliver(s, KURIR_SASL_FAIL, "");
}

static void
succeed(struct kurir_sasl *s)
{
	struct throttle	*t = get_throttle();

	if (t != NULL)
		throttle_success(t, s->ip, s->canonical, ev_now_ms());
	snprintf(s->user, sizeof(s->user), "%s", s->canonical);
	log_result(s, "login", 0);
	deliver(s, KURIR_SASL_OK, s->canonical);
}

/* ---- the pool side ------------------------------------------------------ */

static void
job_work(void *arg)
{
	struct kurir_sasl	*s = arg;
	struct kurir_auth_user	 u;
	const char		*pw;
	size_t			 len;
	int			 rc;

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	if (s->job == JOB_VERIFY) {
		pw = s->m != NULL ? sasl_mech_password(s->m, &len) :
		    s->password;
		if (s->m == NULL)
			len = s->passlen;
		rc = s->ops->verify_password(s->user, pw, len);
		if (rc == KURIR_OK) {
			rc = s->ops->lookup(s->user, &u);
			if (rc == KURIR_E_NOTFOUND || (rc == KURIR_OK &&
			    !u.enabled))
				rc = KURIR_E_AUTH;
		}
		if (rc == KURIR_OK)
			snprintf(s->canonical, sizeof(s->canonical), "%s",
			    u.address[0] != '\0' ? u.address : s->user);
		else if (rc != KURIR_E_AUTH)
			rc = KURIR_E_TEMPFAIL;
		s->rc = rc;
		return;
	}
	/* JOB_KEYS: a disabled or unknown user gets made-up keys */
	s->have_keys = 0;
	rc = s->ops->lookup(s->user, &u);
	if (rc == KURIR_OK && u.enabled && s->ops->scram_keys != NULL) {
		memset(&s->keys, 0, sizeof(s->keys));
		s->keys.size = sizeof(s->keys);
		rc = s->ops->scram_keys(s->user, "SCRAM-SHA-256", &s->keys);
		if (rc == KURIR_OK) {
			s->have_keys = 1;
			snprintf(s->canonical, sizeof(s->canonical), "%s",
			    u.address[0] != '\0' ? u.address : s->user);
		}
	}
	s->rc = rc == KURIR_OK || rc == KURIR_E_NOTFOUND ||
	    rc == KURIR_E_UNSUPPORTED ? KURIR_OK : KURIR_E_TEMPFAIL;
}

static void	feed(struct kurir_sasl *s, int r, const char *out,
		    size_t outlen);

static void
job_done(void *arg)
{
	struct kurir_sasl	*s = arg;
	const char		*out = NULL;
	size_t			 outlen = 0;
	int			 r;

	s->busy = 0;
	if (s->freed) {
		sasl_destroy(s);
		return;
	}
	if (s->rc == KURIR_E_TEMPFAIL) {
		log_result(s, "auth backend failure", 0);
		deliver(s, KURIR_SASL_TEMPFAIL, "");
		return;
	}
	if (s->job == JOB_VERIFY) {
		if (s->rc == KURIR_OK)
			succeed(s);
		else
			fail(s);
		return;
	}
	r = sasl_mech_keys(s->m, s->have_keys ? &s->keys : NULL, &out,
	    &outlen);
	OPENSSL_cleanse(&s->keys, sizeof(s->keys));
	feed(s, r, out, outlen);
}

static void
start_job(struct kurir_sasl *s, int job)
{
	struct throttle	*t = get_throttle();

	if (t != NULL && throttle_check(t, s->ip, s->user, ev_now_ms()) ==
	    -1) {
		log_result(s, "login refused (throttled)", 0);
		deliver(s, KURIR_SASL_TEMPFAIL, "");
		return;
	}
	if ((s->ops = module_auth_ops()) == NULL ||
	    s->ops->verify_password == NULL || s->ops->lookup == NULL) {
		log_warnx("auth: no auth module configured");
		deliver(s, KURIR_SASL_TEMPFAIL, "");
		return;
	}
	s->job = job;
	s->busy = 1;
	if (auth_pool_run(job_work, job_done, s) == -1) {
		s->busy = 0;
		log_result(s, "login refused (too many pending)", 0);
		deliver(s, KURIR_SASL_TEMPFAIL, "");
	}
}

/* ---- the loop side ------------------------------------------------------- */

/* Act on what the mechanism asked for.  Always ends in deliver() or a
 * pending job/timer: nothing touches s after that. */
static void
feed(struct kurir_sasl *s, int r, const char *out, size_t outlen)
{
	char	*b64;
	size_t	 cap;

	switch (r) {
	case SASL_R_CHALLENGE:
		cap = BASE64_ENCODED_LEN(outlen);
		if ((b64 = malloc(cap)) == NULL ||
		    base64_encode(out, outlen, b64, cap) < 0) {
			free(b64);
			deliver(s, KURIR_SASL_TEMPFAIL, "");
			return;
		}
		s->in_cb++;	/* keep s alive across the free below */
		deliver(s, KURIR_SASL_CONTINUE, b64);
		free(b64);
		if (--s->in_cb == 0 && s->freed)
			sasl_destroy(s);
		return;
	case SASL_R_NEED_KEYS:
	case SASL_R_VERIFY:
		if (normalize_user(sasl_mech_user(s->m), s->user,
		    sizeof(s->user)) == -1) {
			deliver(s, KURIR_SASL_BADPROTO, "bad user name");
			return;
		}
		/* No proxy logins: an authzid must name the user itself. */
		if (*sasl_mech_authzid(s->m) != '\0' &&
		    strcasecmp(sasl_mech_authzid(s->m),
		    sasl_mech_user(s->m)) != 0 &&
		    strcasecmp(sasl_mech_authzid(s->m), s->user) != 0) {
			fail(s);
			return;
		}
		start_job(s, r == SASL_R_VERIFY ? JOB_VERIFY : JOB_KEYS);
		return;
	case SASL_R_SUCCESS:
		succeed(s);
		return;
	case SASL_R_FAIL:
		fail(s);
		return;
	default:
		deliver(s, KURIR_SASL_BADPROTO, "malformed SASL exchange");
		return;
	}
}

/* Decode a client's base64 answer and feed it to the mechanism.
 * first: the initial response (NULL: none, "=": empty). */
static void
step_b64(struct kurir_sasl *s, const char *b64, int first)
{
	const char	*out;
	char		*raw = NULL;
	size_t		 len = 0, outlen, cap;
	int		 n, r;

	if (b64 != NULL && !(first && strcmp(b64, "=") == 0)) {
		len = strlen(b64);
		if (strcmp(b64, "*") == 0) {
			deliver(s, KURIR_SASL_BADPROTO,
			    "authentication cancelled");
			return;
		}
		cap = len / 4 * 3 + 1;
		if ((raw = malloc(cap)) == NULL) {
			deliver(s, KURIR_SASL_TEMPFAIL, "");
			return;
		}
		if ((n = base64_decode(b64, len, raw, cap)) < 0) {
			free(raw);
			deliver(s, KURIR_SASL_BADPROTO, "bad base64");
			return;
		}
		len = (size_t)n;
	}
	r = sasl_mech_step(s->m, b64 == NULL ? NULL : raw != NULL ? raw : "",
	    len, &out, &outlen);
	if (raw != NULL) {
		OPENSSL_cleanse(raw, len);
		free(raw);
	}
	feed(s, r, out, outlen);
}

static struct kurir_sasl *
sasl_new(struct kurir_conn *c, kurir_sasl_cb *cb, void *arg)
{
	struct kurir_sasl	*s;
	const char		*ip;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->c = c;
	s->cb = cb;
	s->arg = arg;
	ip = c != NULL ? conn_peer_addr(c) : NULL;
	snprintf(s->ip, sizeof(s->ip), "%s", ip != NULL ? ip : "");
	return s;
}

const char *
sasl_mechs(struct kurir_conn *c)
{
	return conn_plaintext_ok(c) ? "PLAIN LOGIN SCRAM-SHA-256" :
	    "SCRAM-SHA-256";
}

int
sasl_start(struct kurir_conn *c, const char *mech, const char *initial,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **sasl_r)
{
	struct kurir_sasl	*s;
	int			 id;

	*sasl_r = NULL;
	if (mech == NULL || (id = sasl_mech_id(mech)) == -1)
		return KURIR_E_UNSUPPORTED;
	if ((s = sasl_new(c, cb, arg)) == NULL)
		return KURIR_E_NOMEM;
	s->mech = id;
	if ((s->m = sasl_mech_new(id)) == NULL) {
		free(s);
		return KURIR_E_NOMEM;
	}
	*sasl_r = s;
	if (sasl_mech_is_plaintext(id) && !conn_plaintext_ok(c)) {
		deliver(s, KURIR_SASL_PLAINDENIED, "");
		return KURIR_OK;
	}
	step_b64(s, initial, 1);
	return KURIR_OK;
}

int
sasl_step(struct kurir_sasl *s, const char *response)
{
	if (s == NULL || s->busy || s->done || s->m == NULL ||
	    response == NULL)
		return KURIR_E_INVALID;
	step_b64(s, response, 0);
	return KURIR_OK;
}

int
login_plain(struct kurir_conn *c, const char *user, const char *password,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **sasl_r)
{
	struct kurir_sasl	*s;

	*sasl_r = NULL;
	if ((s = sasl_new(c, cb, arg)) == NULL)
		return KURIR_E_NOMEM;
	*sasl_r = s;
	if (!conn_plaintext_ok(c)) {
		deliver(s, KURIR_SASL_PLAINDENIED, "");
		return KURIR_OK;
	}
	if (user == NULL || password == NULL || *password == '\0' ||
	    strlen(password) > SASL_FIELD_MAX ||
	    normalize_user(user, s->user, sizeof(s->user)) == -1) {
		deliver(s, KURIR_SASL_BADPROTO, "bad user name or password");
		return KURIR_OK;
	}
	s->passlen = strlen(password);
	if ((s->password = strdup(password)) == NULL) {
		deliver(s, KURIR_SASL_TEMPFAIL, "");
		return KURIR_OK;
	}
	start_job(s, JOB_VERIFY);
	return KURIR_OK;
}

static void
sasl_destroy(struct kurir_sasl *s)
{
	sasl_mech_free(s->m);
	if (s->password != NULL) {
		OPENSSL_cleanse(s->password, s->passlen);
		free(s->password);
	}
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void
sasl_free(struct kurir_sasl *s)
{
	if (s == NULL)
		return;
	if (s->timer != NULL) {
		/* a delayed failure nobody will hear */
		ev_timer_del(s->timer);
		s->timer = NULL;
		s->busy = 0;
	}
	/* On the pool, or inside our own callback: free when it returns. */
	if (s->busy || s->in_cb > 0) {
		s->freed = 1;
		return;
	}
	sasl_destroy(s);
}
