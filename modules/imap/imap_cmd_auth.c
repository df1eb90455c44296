/*
 * imap_cmd_auth.c -- LOGIN and AUTHENTICATE (with SASL-IR, RFC 4959)
 * through the core's SASL service, then opening the user's store and
 * creating the special-use mailboxes (RFC 6154) on first login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"

static const struct {
	const char	*name;
	uint32_t	 use;
} special_use[] = {
	{ "Drafts", KURIR_MBX_DRAFTS },
	{ "Sent", KURIR_MBX_SENT },
	{ "Trash", KURIR_MBX_TRASH },
	{ "Junk", KURIR_MBX_JUNK },
	{ "Archive", KURIR_MBX_ARCHIVE },
};

struct su_scan {
	uint32_t	 uses;
	uint32_t	 names;		/* bit i: special_use[i].name exists */
};

static int
su_cb(void *arg, const char *name, uint32_t attrs)
{
	struct su_scan *sc = arg;
	size_t i;

	sc->uses |= attrs;
	for (i = 0; i < sizeof(special_use) / sizeof(special_use[0]); i++)
		if (strcasecmp(name, special_use[i].name) == 0)
			sc->names |= 1u << i;
	return 0;
}

static void
create_special_use(struct imap_sess *s)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	struct su_scan sc = { 0, 0 };
	size_t i;

	if (st->mailbox_list(s->store, su_cb, &sc) != KURIR_OK)
		return;
	for (i = 0; i < sizeof(special_use) / sizeof(special_use[0]); i++) {
		if ((sc.uses & special_use[i].use) || (sc.names & (1u << i)))
			continue;
		if (st->mailbox_create(s->store, special_use[i].name,
		    special_use[i].use) == KURIR_OK)
			st->mailbox_subscribe(s->store, special_use[i].name, 1);
	}
}

static void
login_finish(struct imap_sess *s, const char *user)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	const struct kurir_auth_ops *au = imap_api->auth();
	struct kurir_user_params p;
	struct kurir_auth_user u;
	struct imap_str caps;
	char name[KURIR_ADDR_MAX + 1];
	int rc;

	snprintf(name, sizeof(name), "%s", user);
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = name;
	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	if (au != NULL && au->lookup != NULL &&
	    au->lookup(name, &u) == KURIR_OK) {
		p.quota_bytes = u.quota_bytes;
		p.quota_messages = u.quota_messages;
		if (u.location[0] != '\0')
			p.location = u.location;
	}
	if (st == NULL) {
		imap_done(s, "NO", "[UNAVAILABLE] No storage configured");
		return;
	}
	rc = st->store_open(&p, &s->store);
	if (rc != KURIR_OK) {
		s->store = NULL;
		imap_api->conn_log(s->c, KURIR_LOG_ERR,
		    "imap: cannot open store: %d", rc);
		imap_done(s, "NO", "[UNAVAILABLE] Mail store unavailable");
		return;
	}
	create_special_use(s);
	s->state = IMAP_ST_AUTH;
	imap_api->conn_set_timeout(s->c, imap_conf.autologout);
	imap_str_init(&caps, 4096);
	imap_capability_string(s, &caps);
	imap_done(s, "OK", "[CAPABILITY %s] Logged in",
	    caps.s != NULL ? caps.s : "IMAP4rev1");
	imap_str_free(&caps);
}

static void
sasl_free_cb(void *arg)
{
	imap_api->sasl_free(arg);
}

/* The exchange is over: free it once its callback has returned. */
static void
sasl_release(struct imap_sess *s)
{
	if (s->sasl != NULL) {
		if (imap_api->defer(sasl_free_cb, s->sasl) < 0)
			imap_api->sasl_free(s->sasl);
		s->sasl = NULL;
	}
}

static void
sasl_result(void *arg, int status, const char *text)
{
	struct imap_sess *s = arg;

	s->sasl_wait = 0;
	switch (status) {
	case KURIR_SASL_CONTINUE:
		imap_printf(s, "+ %s\r\n", text != NULL ? text : "");
		s->sasl_wait = 1;
		if (s->paused) {
			s->paused = 0;
			imap_api->conn_resume(s->c);
		}
		return;
	case KURIR_SASL_OK:
		sasl_release(s);
		login_finish(s, text);
		return;
	case KURIR_SASL_FAIL:
		sasl_release(s);
		imap_done(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		return;
	case KURIR_SASL_PLAINDENIED:
		sasl_release(s);
		imap_done(s, "NO", "[PRIVACYREQUIRED] Plaintext login not "
		    "allowed without TLS");
		return;
	case KURIR_SASL_BADPROTO:
		sasl_release(s);
		imap_done(s, "BAD", "Bad authentication exchange");
		return;
	case KURIR_SASL_TEMPFAIL:
	default:
		sasl_release(s);
		imap_done(s, "NO", "[UNAVAILABLE] Authentication temporarily "
		    "unavailable");
		return;
	}
}

/* Called after *_start returned: the result may already be in. */
static void
sasl_started(struct imap_sess *s, int rc, struct kurir_sasl *sasl)
{
	if (rc < 0) {
		if (sasl != NULL)
			imap_api->sasl_free(sasl);
		if (s->in_cmd)
			imap_done(s, "NO", "[UNAVAILABLE] Authentication "
			    "unavailable");
		return;
	}
	if (!s->in_cmd) {
		/* finished inside the call */
		if (sasl != NULL && imap_api->defer(sasl_free_cb, sasl) < 0)
			imap_api->sasl_free(sasl);
		return;
	}
	s->sasl = sasl;
}

void
imap_cmd_login(struct imap_sess *s, struct imap_arg *a)
{
	struct kurir_sasl *sasl = NULL;
	int rc;

	if (!imap_arg_is_string(a) || !imap_arg_is_string(a->next) ||
	    a->next->next != NULL) {
		imap_done(s, "BAD", "LOGIN needs a user name and a password");
		return;
	}
	if (!imap_api->conn_plaintext_ok(s->c)) {
		imap_done(s, "NO", "[PRIVACYREQUIRED] LOGIN is disabled "
		    "without TLS; use STARTTLS");
		return;
	}
	/* The password leaves no copy behind in the command's memory,
	 * whenever the command ends (maybe inside login_plain()). */
	s->cmd.wipe = 1;
	rc = imap_api->login_plain(s->c, a->str, a->next->str, sasl_result,
	    s, &sasl);
	sasl_started(s, rc, sasl);
}

void
imap_cmd_authenticate(struct imap_sess *s, struct imap_arg *a)
{
	struct kurir_sasl *sasl = NULL;
	const char *initial = NULL;
	int rc;

	if (a == NULL || a->type != IMAP_ARG_ATOM ||
	    (a->next != NULL && (a->next->type != IMAP_ARG_ATOM ||
	    a->next->next != NULL))) {
		imap_done(s, "BAD", "AUTHENTICATE needs a mechanism");
		return;
	}
	if (a->next != NULL) {
		initial = a->next->str;		/* SASL-IR */
		s->cmd.wipe = 1;
	}
	rc = imap_api->sasl_start(s->c, a->str, initial, sasl_result, s,
	    &sasl);
	sasl_started(s, rc, sasl);
}

void
imap_auth_response(struct imap_sess *s, const char *line, size_t len)
{
	s->sasl_wait = 0;
	if (len == 1 && line[0] == '*') {
		if (s->sasl != NULL) {
			imap_api->sasl_free(s->sasl);
			s->sasl = NULL;
		}
		imap_done(s, "BAD", "Authentication cancelled");
		return;
	}
	if (s->sasl == NULL) {
		imap_done(s, "NO", "[UNAVAILABLE] Authentication state lost");
		return;
	}
	if (!s->paused) {
		s->paused = 1;
		imap_api->conn_pause(s->c);
	}
	if (imap_api->sasl_step(s->sasl, line) < 0 && s->in_cmd &&
	    !s->sasl_wait) {
		imap_api->sasl_free(s->sasl);
		s->sasl = NULL;
		imap_done(s, "BAD", "Bad authentication exchange");
	}
}
