/*
 * sasl.c -- PLAIN, LOGIN and SCRAM-SHA-256 as state machines (see
 * sasl.h).  Every byte of client data is bounded and checked; secrets are
 * wiped when the exchange is freed.  SCRAM answers its last step with the
 * server signature as a challenge and waits for an empty response, which
 * works the same in SMTP, POP3 and IMAP (no "success data" needed).
 */
#include <sys/types.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base64.h"
#include "sasl.h"

#define SCRAM_KEY_LEN		32	/* SHA-256 */
#define SCRAM_NONCE_MAX		256
#define SCRAM_MSG_MAX		2048
#define SCRAM_FAKE_SALT_LEN	16

enum sasl_state {
	ST_START,		/* nothing received yet */
	ST_LOGIN_USER,		/* LOGIN: "Username:" was sent */
	ST_LOGIN_PASS,		/* LOGIN: "Password:" was sent */
	ST_VERIFY,		/* PLAIN/LOGIN: waiting for the verdict */
	ST_SCRAM_KEYS,		/* SCRAM: waiting for sasl_mech_keys() */
	ST_SCRAM_FINAL,		/* SCRAM: server-first was sent */
	ST_SCRAM_ACK,		/* SCRAM: server-final was sent */
	ST_DONE
};

struct sasl_mech {
	int		 id;
	enum sasl_state	 state;
	char		*user;
	char		*authzid;
	char		*password;
	size_t		 passlen;

	/* SCRAM */
	char		 gs2_header[SASL_FIELD_MAX + 8];
	char		*client_first_bare;
	char		*server_first;
	char		 nonce[2 * SCRAM_NONCE_MAX + 2];	/* c + s */
	char		 snonce_fixed[SCRAM_NONCE_MAX + 1];
	struct kurir_scram_keys keys;
	int		 fake;

	char		 out[SCRAM_MSG_MAX];	/* last challenge */
};

static const struct {
	const char	*name;
	int		 id;
	int		 plaintext;
} sasl_mechs[] = {
	{ "PLAIN", SASL_MECH_PLAIN, 1 },
	{ "LOGIN", SASL_MECH_LOGIN, 1 },
	{ "SCRAM-SHA-256", SASL_MECH_SCRAM_SHA256, 0 },
};

static uint32_t		fake_iterations = 4096;
static uint8_t		fake_secret[32];
static pthread_once_t	fake_once = PTHREAD_ONCE_INIT;

int
sasl_mech_id(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (strcasecmp(name, sasl_mechs[i].name) == 0)
			return sasl_mechs[i].id;
	return -1;
}

const char *
sasl_mech_name(int id)
{
	size_t	i;

	for (i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (sasl_mechs[i].id == id)
			return sasl_mechs[i].name;
	return NULL;
}

int
sasl_mech_is_plaintext(int id)
{
	size_t	i;

	for (i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (sasl_mechs[i].id == id)
			return sasl_mechs[i].plaintext;
	return 0;
}

struct sasl_mech *
sasl_mech_new(int id)
{
	struct sasl_mech	*m;

	if (sasl_mech_name(id) == NULL)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->id = id;
	m->state = ST_START;
	return m;
}

static void
wipe_str(char *s, size_t len)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, len);
	free(s);
}

void
sasl_mech_free(struct sasl_mech *m)
{
	if (m == NULL)
		return;
	free(m->user);
	free(m->authzid);
	wipe_str(m->password, m->passlen);
	free(m->client_first_bare);
	free(m->server_first);
	OPENSSL_cleanse(m, sizeof(*m));
	free(m);
}

const char *
sasl_mech_user(const struct sasl_mech *m)
{
	return m->user;
}

const char *
sasl_mech_authzid(const struct sasl_mech *m)
{
	return m->authzid != NULL ? m->authzid : "";
}

const char *
sasl_mech_password(const struct sasl_mech *m, size_t *len_r)
{
	if (len_r != NULL)
		*len_r = m->passlen;
	return m->password;
}

void
sasl_scram_set_fake_iterations(uint32_t iterations)
{
	if (iterations > 0)
		fake_iterations = iterations;
}

void
sasl_mech_set_nonce(struct sasl_mech *m, const char *nonce)
{
	snprintf(m->snonce_fixed, sizeof(m->snonce_fixed), "%s", nonce);
}

/* A copy of len bytes as a string; NULL if it holds a NUL or is too
 * long. */
static char *
field_dup(const char *p, size_t len)
{
	char	*s;

	if (len > SASL_FIELD_MAX || memchr(p, '\0', len) != NULL)
		return NULL;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int
challenge(struct sasl_mech *m, const char *text, const char **out_r,
    size_t *outlen_r)
{
	size_t	len = strlen(text);

	if (len >= sizeof(m->out))
		return SASL_R_BADPROTO;
	memcpy(m->out, text, len + 1);
	*out_r = m->out;
	*outlen_r = len;
	return SASL_R_CHALLENGE;
}

/* ---- PLAIN: [authzid] NUL authcid NUL passwd ---------------------- */

static int
plain_step(struct sasl_mech *m, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r)
{
	const char	*a, *b;

	if (m->state != ST_START)
		return SASL_R_BADPROTO;
	if (in == NULL)
		return challenge(m, "", out_r, outlen_r);
	if ((a = memchr(in, '\0', inlen)) == NULL)
		return SASL_R_BADPROTO;
	if ((b = memchr(a + 1, '\0', inlen - (size_t)(a + 1 - in))) == NULL)
		return SASL_R_BADPROTO;
	if (b == a + 1 || b + 1 == in + inlen)
		return SASL_R_BADPROTO;		/* empty authcid or passwd */
	if (inlen - (size_t)(b + 1 - in) > SASL_FIELD_MAX)
		return SASL_R_BADPROTO;
	if ((m->authzid = field_dup(in, (size_t)(a - in))) == NULL ||
	    (m->user = field_dup(a + 1, (size_t)(b - a - 1))) == NULL ||
	    (m->password = field_dup(b + 1,
	    inlen - (size_t)(b + 1 - in))) == NULL)
		return SASL_R_BADPROTO;		/* a third NUL, or too long */
	m->passlen = inlen - (size_t)(b + 1 - in);
	m->state = ST_VERIFY;
	return SASL_R_VERIFY;
}

/* ---- LOGIN: "Username:", "Password:" ------------------------------- */

static int
login_step(struct sasl_mech *m, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r)
{
	switch (m->state) {
	case ST_START:
		if (in == NULL || inlen == 0) {
			m->state = ST_LOGIN_USER;
			return challenge(m, "Username:", out_r, outlen_r);
		}
		/* An initial response is the user name. */
		/* FALLTHROUGH */
	case ST_LOGIN_USER:
		if (in == NULL || inlen == 0 ||
		    (m->user = field_dup(in, inlen)) == NULL)
			return SASL_R_BADPROTO;
		m->state = ST_LOGIN_PASS;
		return challenge(m, "Password:", out_r, outlen_r);
	case ST_LOGIN_PASS:
		if (in == NULL || inlen == 0 ||
		    (m->password = field_dup(in, inlen)) == NULL)
			return SASL_R_BADPROTO;
		m->passlen = inlen;
		m->state = ST_VERIFY;
		return SASL_R_VERIFY;
	default:
		return SASL_R_BADPROTO;
	}
}

/* ---- SCRAM-SHA-256 --------------------------------------------------- */

static int
hmac256(const uint8_t *key, size_t keylen, const void *data, size_t len,
    uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int	olen = SCRAM_KEY_LEN;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out,
	    &olen) == NULL || olen != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

static int
sha256(const void *data, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int	olen = SCRAM_KEY_LEN;

	if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1)
		return -1;
	return 0;
}

int
sasl_scram_derive(const char *password, size_t len, const uint8_t *salt,
    size_t saltlen, uint32_t iterations, struct kurir_scram_keys *k)
{
	uint8_t	salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	int	rc = -1;

	if (saltlen > sizeof(k->salt) || iterations == 0 ||
	    iterations > 0x7fffffff)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)saltlen,
	    (int)iterations, EVP_sha256(), SCRAM_KEY_LEN, salted) != 1)
		goto out;
	if (hmac256(salted, sizeof(salted), "Client Key", 10,
	    client_key) == -1 ||
	    sha256(client_key, sizeof(client_key), k->stored_key) == -1 ||
	    hmac256(salted, sizeof(salted), "Server Key", 10,
	    k->server_key) == -1)
		goto out;
	k->size = sizeof(*k);
	k->iterations = iterations;
	memcpy(k->salt, salt, saltlen);
	k->salt_len = (uint32_t)saltlen;
	k->key_len = SCRAM_KEY_LEN;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return rc;
}

static void
fake_init(void)
{
	if (RAND_bytes(fake_secret, sizeof(fake_secret)) != 1)
		abort();	/* no randomness: nothing is safe */
}

/* Printable nonce without ',' (RFC 5802: printable except ","). */
static int
make_nonce(char *out, size_t cap)
{
	uint8_t	raw[24];
	int	n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	n = base64_encode(raw, sizeof(raw), out, cap);
	return n < 0 ? -1 : 0;
}

/* RFC 5802 saslname: "=2C" is ',' and "=3D" is '='; any other '=' is an
 * error.  Decodes in place. */
static int
saslname_decode(char *s)
{
	char	*r, *w;

	for (r = w = s; *r != '\0'; r++) {
		if (*r == ',')
			return -1;
		if (*r != '=') {
			*w++ = *r;
			continue;
		}
		if (strncmp(r, "=2C", 3) == 0)
			*w++ = ',';
		else if (strncmp(r, "=3D", 3) == 0)
			*w++ = '=';
		else
			return -1;
		r += 2;
	}
	*w = '\0';
	return 0;
}

static int
is_printable_nonce(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > SCRAM_NONCE_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return 0;
	return 1;
}

/*
 * client-first-message = gs2-header client-first-message-bare
 * gs2-header = gs2-cbind-flag "," [ "a=" saslname ] ","
 * client-first-message-bare = [reserved-mext ","] "n=" saslname
 *     "," "r=" c-nonce ["," extensions]
 */
static int
scram_client_first(struct sasl_mech *m, const char *in, size_t inlen)
{
	const char	*p, *end = in + inlen, *c1, *c2, *bare, *n, *r;
	size_t		 len;

	if (inlen < 3 || inlen > SCRAM_MSG_MAX ||
	    memchr(in, '\0', inlen) != NULL)
		return SASL_R_BADPROTO;
	/* 'p' asks for channel binding, which we do not offer (no -PLUS):
	 * RFC 5802 says fail.  'y' and 'n' are fine. */
	if ((in[0] != 'n' && in[0] != 'y') || in[1] != ',')
		return SASL_R_BADPROTO;
	c1 = in + 1;
	if ((c2 = memchr(c1 + 1, ',', (size_t)(end - c1 - 1))) == NULL)
		return SASL_R_BADPROTO;
	len = (size_t)(c2 - c1 - 1);
	if (len > 0) {
		if (len < 3 || strncmp(c1 + 1, "a=", 2) != 0)
			return SASL_R_BADPROTO;
		if ((m->authzid = field_dup(c1 + 3, len - 2)) == NULL ||
		    saslname_decode(m->authzid) == -1)
			return SASL_R_BADPROTO;
	}
	len = (size_t)(c2 + 1 - in);
	if (len >= sizeof(m->gs2_header))
		return SASL_R_BADPROTO;
	memcpy(m->gs2_header, in, len);
	m->gs2_header[len] = '\0';

	bare = c2 + 1;
	if ((m->client_first_bare = field_dup(bare,
	    (size_t)(end - bare))) == NULL)
		return SASL_R_BADPROTO;
	/* "m=" (mandatory extension) is reserved: we understand none. */
	if (strncmp(bare, "n=", 2) != 0)
		return SASL_R_BADPROTO;
	n = bare + 2;
	if ((p = memchr(n, ',', (size_t)(end - n))) == NULL)
		return SASL_R_BADPROTO;
	if (p == n || (m->user = field_dup(n, (size_t)(p - n))) == NULL ||
	    saslname_decode(m->user) == -1)
		return SASL_R_BADPROTO;
	if (end - p < 4 || strncmp(p + 1, "r=", 2) != 0)
		return SASL_R_BADPROTO;
	r = p + 3;
	if ((p = memchr(r, ',', (size_t)(end - r))) == NULL)
		p = end;
	if (!is_printable_nonce(r, (size_t)(p - r)))
		return SASL_R_BADPROTO;
	memcpy(m->nonce, r, (size_t)(p - r));
	m->nonce[p - r] = '\0';
	m->state = ST_SCRAM_KEYS;
	return SASL_R_NEED_KEYS;
}

int
sasl_mech_keys(struct sasl_mech *m, const struct kurir_scram_keys *k,
    const char **out_r, size_t *outlen_r)
{
	char	 snonce[SCRAM_NONCE_MAX + 1], salt[BASE64_ENCODED_LEN(64)];
	uint8_t	 mac[SCRAM_KEY_LEN];
	int	 n;

	if (m->id != SASL_MECH_SCRAM_SHA256 || m->state != ST_SCRAM_KEYS)
		return SASL_R_BADPROTO;
	if (k != NULL && k->key_len == SCRAM_KEY_LEN &&
	    k->salt_len <= sizeof(k->salt) && k->iterations > 0) {
		m->keys = *k;
	} else {
		/* Unknown user: a stable salt (an HMAC of the name under a
		 * per-process secret) so probing twice sees no change, and
		 * keys nobody can match. */
		pthread_once(&fake_once, fake_init);
		memset(&m->keys, 0, sizeof(m->keys));
		if (hmac256(fake_secret, sizeof(fake_secret), m->user,
		    strlen(m->user), mac) == -1)
			return SASL_R_FAIL;
		memcpy(m->keys.salt, mac, SCRAM_FAKE_SALT_LEN);
		m->keys.salt_len = SCRAM_FAKE_SALT_LEN;
		m->keys.iterations = fake_iterations;
		m->keys.key_len = SCRAM_KEY_LEN;
		if (RAND_bytes(m->keys.stored_key, SCRAM_KEY_LEN) != 1 ||
		    RAND_bytes(m->keys.server_key, SCRAM_KEY_LEN) != 1)
			return SASL_R_FAIL;
		m->fake = 1;
	}
	if (m->snonce_fixed[0] != '\0')
		snprintf(snonce, sizeof(snonce), "%s", m->snonce_fixed);
	else if (make_nonce(snonce, sizeof(snonce)) == -1)
		return SASL_R_FAIL;
	if (strlen(m->nonce) + strlen(snonce) >= sizeof(m->nonce))
		return SASL_R_BADPROTO;
	memcpy(m->nonce + strlen(m->nonce), snonce, strlen(snonce) + 1);
	if (base64_encode(m->keys.salt, m->keys.salt_len, salt,
	    sizeof(salt)) < 0)
		return SASL_R_FAIL;
	n = snprintf(m->out, sizeof(m->out), "r=%s,s=%s,i=%u", m->nonce,
	    salt, m->keys.iterations);
	if (n < 0 || (size_t)n >= sizeof(m->out) ||
	    (m->server_first = strdup(m->out)) == NULL)
		return SASL_R_FAIL;
	m->state = ST_SCRAM_FINAL;
	*out_r = m->out;
	*outlen_r = (size_t)n;
	return SASL_R_CHALLENGE;
}

/*
 * client-final-message = "c=" base64(gs2-header [cbind-data]) ","
 *     "r=" nonce ["," extensions] "," "p=" base64(proof)
 */
static int
scram_client_final(struct sasl_mech *m, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r)
{
	char		 msg[SCRAM_MSG_MAX + 1], *p, *r, *proof_b64;
	char		 cb[sizeof(m->gs2_header)], *auth = NULL;
	char		 sig_b64[BASE64_ENCODED_LEN(SCRAM_KEY_LEN)];
	uint8_t		 proof[SCRAM_KEY_LEN + 4], sig[SCRAM_KEY_LEN];
	uint8_t		 client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	size_t		 wo_proof_len, authlen, i;
	int		 n, rc = SASL_R_BADPROTO;

	if (inlen > SCRAM_MSG_MAX || memchr(in, '\0', inlen) != NULL)
		return SASL_R_BADPROTO;
	memcpy(msg, in, inlen);
	msg[inlen] = '\0';
	if (strncmp(msg, "c=", 2) != 0 || (p = strchr(msg, ',')) == NULL)
		return SASL_R_BADPROTO;
	n = base64_decode(msg + 2, (size_t)(p - msg - 2), cb, sizeof(cb) - 1);
	if (n < 0)
		return SASL_R_BADPROTO;
	cb[n] = '\0';
	if (strcmp(cb, m->gs2_header) != 0)
		return SASL_R_BADPROTO;
	r = p + 1;
	if (strncmp(r, "r=", 2) != 0)
		return SASL_R_BADPROTO;
	if ((p = strchr(r, ',')) == NULL)
		return SASL_R_BADPROTO;
	if ((size_t)(p - r - 2) != strlen(m->nonce) ||
	    CRYPTO_memcmp(r + 2, m->nonce, strlen(m->nonce)) != 0)
		return SASL_R_BADPROTO;
	/* The proof is the last attribute. */
	if ((proof_b64 = strstr(p, ",p=")) == NULL ||
	    strchr(proof_b64 + 3, ',') != NULL)
		return SASL_R_BADPROTO;
	wo_proof_len = (size_t)(proof_b64 - msg);
	n = base64_decode(proof_b64 + 3, strlen(proof_b64 + 3), proof,
	    sizeof(proof));
	if (n != SCRAM_KEY_LEN)
		return SASL_R_BADPROTO;

	/* AuthMessage = client-first-bare "," server-first ","
	 *     client-final-without-proof */
	authlen = strlen(m->client_first_bare) + 1 + strlen(m->server_first) +
	    1 + wo_proof_len;
	if ((auth = malloc(authlen + 1)) == NULL)
		return SASL_R_FAIL;
	snprintf(auth, authlen + 1, "%s,%s,%.*s", m->client_first_bare,
	    m->server_first, (int)wo_proof_len, msg);

	rc = SASL_R_FAIL;
	if (hmac256(m->keys.stored_key, SCRAM_KEY_LEN, auth, authlen,
	    sig) == -1)
		goto out;
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	if (sha256(client_key, sizeof(client_key), stored) == -1)
		goto out;
	if (CRYPTO_memcmp(stored, m->keys.stored_key, SCRAM_KEY_LEN) != 0 ||
	    m->fake)
		goto out;
	if (hmac256(m->keys.server_key, SCRAM_KEY_LEN, auth, authlen,
	    sig) == -1 ||
	    base64_encode(sig, sizeof(sig), sig_b64, sizeof(sig_b64)) < 0)
		goto out;
	n = snprintf(m->out, sizeof(m->out), "v=%s", sig_b64);
	*out_r = m->out;
	*outlen_r = (size_t)n;
	m->state = ST_SCRAM_ACK;
	rc = SASL_R_CHALLENGE;
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(proof, sizeof(proof));
	free(auth);
	return rc;
}

static int
scram_step(struct sasl_mech *m, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r)
{
	switch (m->state) {
	case ST_START:
		if (in == NULL || inlen == 0)
			return challenge(m, "", out_r, outlen_r);
		return scram_client_first(m, in, inlen);
	case ST_SCRAM_FINAL:
		if (in == NULL)
			return SASL_R_BADPROTO;
		return scram_client_final(m, in, inlen, out_r, outlen_r);
	case ST_SCRAM_ACK:
		if (in == NULL || inlen != 0)
			return SASL_R_BADPROTO;
		m->state = ST_DONE;
		return SASL_R_SUCCESS;
	default:
		return SASL_R_BADPROTO;
	}
}

int
sasl_mech_step(struct sasl_mech *m, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r)
{
	int	rc;

	*out_r = NULL;
	*outlen_r = 0;
	switch (m->id) {
	case SASL_MECH_PLAIN:
		rc = plain_step(m, in, inlen, out_r, outlen_r);
		break;
	case SASL_MECH_LOGIN:
		rc = login_step(m, in, inlen, out_r, outlen_r);
		break;
	case SASL_MECH_SCRAM_SHA256:
		rc = scram_step(m, in, inlen, out_r, outlen_r);
		break;
	default:
		rc = SASL_R_BADPROTO;
	}
	if (rc == SASL_R_BADPROTO || rc == SASL_R_FAIL)
		m->state = ST_DONE;
	return rc;
}
