/*
 * passwd_hash.c -- password schemes of the passwd module: crypt(3)
 * hashes through libxcrypt (yescrypt, SHA512-CRYPT, bcrypt) and RFC 5802
 * SCRAM-SHA-256 keys.  Verification always does the same work whether the
 * user exists or not, and compares in constant time.
 */
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "passwd.h"

#define SCRAM_KEY_LEN	32
#define SCRAM_SALT_LEN	16

static const struct {
	const char	*name;
	int		 id;
	const char	*prefix;	/* crypt setting prefix */
} pw_schemes[] = {
	{ "YESCRYPT", PW_SCHEME_YESCRYPT, "$y$" },
	{ "SHA512-CRYPT", PW_SCHEME_SHA512, "$6$" },
	{ "BLF-CRYPT", PW_SCHEME_BLF, "$2b$" },
	{ "SCRAM-SHA-256", PW_SCHEME_SCRAM, NULL },
};

static pthread_mutex_t	dummy_mtx = PTHREAD_MUTEX_INITIALIZER;
static int		dummy_scheme = PW_SCHEME_YESCRYPT;
static unsigned long	dummy_cost;
static struct pw_user	dummy_user;
static int		dummy_ready;

int
pw_scheme_id(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++)
		if (strcasecmp(name, pw_schemes[i].name) == 0)
			return pw_schemes[i].id;
	return -1;
}

const char *
pw_scheme_name(int id)
{
	size_t	i;

	for (i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++)
		if (pw_schemes[i].id == id)
			return pw_schemes[i].name;
	return NULL;
}

static const char *
scheme_prefix(int id)
{
	size_t	i;

	for (i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++)
		if (pw_schemes[i].id == id)
			return pw_schemes[i].prefix;
	return NULL;
}

int
pw_b64_encode(const void *in, size_t len, char *out, size_t cap)
{
	if (cap < (len + 2) / 3 * 4 + 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

int
pw_b64_decode(const char *in, size_t len, void *out, size_t cap)
{
	unsigned char	buf[256];
	size_t		pad = 0;
	int		n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf) ||
	    strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") < len)
		return -1;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(buf, (const unsigned char *)in,
	    (int)len)) < 0 || (size_t)n < pad)
		return -1;
	n -= (int)pad;
	if ((size_t)n > cap)
		return -1;
	memcpy(out, buf, (size_t)n);
	return n;
}

/* crypt strings: the crypt(5) alphabet plus '$', and '=' for the
 * "rounds=N" parameter of SHA-crypt (no ':' or spaces). */
static int
crypt_string_ok(const char *s, const char *prefix)
{
	size_t	len = strlen(s);

	if (len < 8 || len >= PW_HASH_MAX)
		return 0;
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		return 0;
	return strspn(s, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz$=") == len;
}

int
pw_parse_scram(const char *s, struct kurir_scram_keys *k)
{
	char		 buf[512], *f[4], *p, *end;
	unsigned long	 iter;
	int		 i, n;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	p = buf;
	for (i = 0; i < 4; i++) {
		f[i] = p;
		if (i < 3) {
			if ((p = strchr(p, ',')) == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	if (strchr(f[3], ',') != NULL || *f[0] < '1' || *f[0] > '9')
		return -1;
	iter = strtoul(f[0], &end, 10);
	if (*end != '\0' || iter == 0 || iter > 100000000)
		return -1;
	memset(k, 0, sizeof(*k));
	k->size = sizeof(*k);
	k->iterations = (uint32_t)iter;
	if ((n = pw_b64_decode(f[1], strlen(f[1]), k->salt,
	    sizeof(k->salt))) <= 0)
		return -1;
	k->salt_len = (uint32_t)n;
	if (pw_b64_decode(f[2], strlen(f[2]), k->stored_key,
	    sizeof(k->stored_key)) != SCRAM_KEY_LEN ||
	    pw_b64_decode(f[3], strlen(f[3]), k->server_key,
	    sizeof(k->server_key)) != SCRAM_KEY_LEN)
		return -1;
	k->key_len = SCRAM_KEY_LEN;
	return 0;
}

int
pw_format_scram(const struct kurir_scram_keys *k, char *out, size_t outlen)
{
	char	salt[100], st[64], sv[64];
	int	n;

	if (pw_b64_encode(k->salt, k->salt_len, salt, sizeof(salt)) < 0 ||
	    pw_b64_encode(k->stored_key, k->key_len, st, sizeof(st)) < 0 ||
	    pw_b64_encode(k->server_key, k->key_len, sv, sizeof(sv)) < 0)
		return -1;
	n = snprintf(out, outlen, "%u,%s,%s,%s", k->iterations, salt, st, sv);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
pw_parse_hash(const char *field, struct pw_user *u, const char **why_r)
{
	const char	*end, *rest, *prefix;
	char		 name[32];
	int		 id;

	u->scheme = PW_SCHEME_NONE;
	if (*field == '\0' || *field == '!' || *field == '*')
		return 0;
	if (*field == '$') {
		/* A bare crypt string: the prefix names the scheme. */
		if (strncmp(field, "$y$", 3) == 0)
			id = PW_SCHEME_YESCRYPT;
		else if (strncmp(field, "$6$", 3) == 0)
			id = PW_SCHEME_SHA512;
		else if (strncmp(field, "$2b$", 4) == 0 ||
		    strncmp(field, "$2y$", 4) == 0 ||
		    strncmp(field, "$2a$", 4) == 0)
			id = PW_SCHEME_BLF;
		else {
			*why_r = "unknown crypt hash prefix";
			return -1;
		}
		rest = field;
	} else {
		if (*field != '{' || (end = strchr(field, '}')) == NULL ||
		    (size_t)(end - field - 1) >= sizeof(name)) {
			*why_r = "password field is not {SCHEME}hash";
			return -1;
		}
		memcpy(name, field + 1, (size_t)(end - field - 1));
		name[end - field - 1] = '\0';
		if ((id = pw_scheme_id(name)) == -1) {
			*why_r = "unknown password scheme";
			return -1;
		}
		rest = end + 1;
	}
	if (id == PW_SCHEME_SCRAM) {
		if (pw_parse_scram(rest, &u->scram) == -1) {
			*why_r = "bad SCRAM-SHA-256 keys (want "
			    "ITER,SALT,STOREDKEY,SERVERKEY in base64)";
			return -1;
		}
		u->has_scram = 1;
		u->scheme = id;
		return 0;
	}
	prefix = scheme_prefix(id);
	if (id == PW_SCHEME_BLF && rest[0] == '$' && rest[1] == '2')
		prefix = "$2";
	if (!crypt_string_ok(rest, prefix)) {
		*why_r = "malformed crypt hash for its scheme";
		return -1;
	}
	if ((u->hash = strdup(rest)) == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	u->scheme = id;
	return 0;
}

int
pw_scram_derive(const char *pw, size_t len, const uint8_t *salt,
    size_t saltlen, uint32_t iter, struct kurir_scram_keys *k)
{
	uint8_t		salted[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN];
	unsigned int	olen;
	int		rc = -1;

	if (saltlen > sizeof(k->salt) || iter == 0 || iter > 0x7fffffff)
		return -1;
	memset(k, 0, sizeof(*k));
	if (PKCS5_PBKDF2_HMAC(pw, (int)len, salt, (int)saltlen, (int)iter,
	    EVP_sha256(), SCRAM_KEY_LEN, salted) != 1)
		goto out;
	olen = SCRAM_KEY_LEN;
	if (HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const uint8_t *)
	    "Client Key", 10, ck, &olen) == NULL)
		goto out;
	olen = SCRAM_KEY_LEN;
	if (EVP_Digest(ck, SCRAM_KEY_LEN, k->stored_key, &olen, EVP_sha256(),
	    NULL) != 1)
		goto out;
	olen = SCRAM_KEY_LEN;
	if (HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const uint8_t *)
	    "Server Key", 10, k->server_key, &olen) == NULL)
		goto out;
	k->size = sizeof(*k);
	k->iterations = iter;
	memcpy(k->salt, salt, saltlen);
	k->salt_len = (uint32_t)saltlen;
	k->key_len = SCRAM_KEY_LEN;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	return rc;
}

/* crypt_rn into a heap crypt_data (it is too big for small stacks). */
static int
crypt_check(const char *pw, const char *hash)
{
	struct crypt_data	*cd;
	const char		*res;
	size_t			 hlen = strlen(hash);
	int			 ok = 0;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return 0;
	res = crypt_rn(pw, hash, cd, sizeof(*cd));
	if (res != NULL && res[0] != '*' && strlen(res) == hlen &&
	    CRYPTO_memcmp(res, hash, hlen) == 0)
		ok = 1;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static int
crypt_make(int scheme, const char *pw, unsigned long cost, char *out,
    size_t outlen)
{
	struct crypt_data	*cd;
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*res;
	int			 rc = -1, n;

	if (crypt_gensalt_rn(scheme_prefix(scheme), cost, NULL, 0, setting,
	    sizeof(setting)) == NULL)
		return -1;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	res = crypt_rn(pw, setting, cd, sizeof(*cd));
	if (res != NULL && res[0] != '*') {
		n = snprintf(out, outlen, "{%s}%s", pw_scheme_name(scheme),
		    res);
		rc = n < 0 || (size_t)n >= outlen ? -2 : 0;
	}
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return rc;
}

int
pw_hash_make(int scheme, const char *pw, size_t len, unsigned long cost,
    uint32_t scram_iter, char *out, size_t outlen)
{
	struct kurir_scram_keys	k;
	uint8_t			salt[SCRAM_SALT_LEN];
	char			keys[300];
	int			n, rc;

	if (memchr(pw, '\0', len) != NULL || pw[len] != '\0')
		return KURIR_E_INVALID;
	if (scheme == PW_SCHEME_SCRAM) {
		if (RAND_bytes(salt, sizeof(salt)) != 1 ||
		    pw_scram_derive(pw, len, salt, sizeof(salt), scram_iter,
		    &k) == -1 ||
		    pw_format_scram(&k, keys, sizeof(keys)) == -1)
			return KURIR_E_TEMPFAIL;
		n = snprintf(out, outlen, "{SCRAM-SHA-256}%s", keys);
		return n < 0 || (size_t)n >= outlen ? KURIR_E_TOOBIG :
		    KURIR_OK;
	}
	if (scheme_prefix(scheme) == NULL)
		return KURIR_E_INVALID;
	rc = crypt_make(scheme, pw, cost, out, outlen);
	if (rc == -2)
		return KURIR_E_TOOBIG;
	/* a cost libxcrypt refuses is the caller's mistake */
	return rc == 0 ? KURIR_OK : KURIR_E_INVALID;
}

void
pw_set_dummy_scheme(int scheme, unsigned long cost)
{
	pthread_mutex_lock(&dummy_mtx);
	if (scheme != dummy_scheme || cost != dummy_cost)
		dummy_ready = 0;
	dummy_scheme = scheme;
	dummy_cost = cost;
	pthread_mutex_unlock(&dummy_mtx);
}

/* A user with a random password in the default scheme, so an unknown
 * user costs what a real one does. */
static const struct pw_user *
dummy(void)
{
	char		pw[33], field[PW_HASH_MAX];
	uint8_t		raw[16];
	const char	*why;
	int		i;

	pthread_mutex_lock(&dummy_mtx);
	if (!dummy_ready) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			memset(raw, 'x', sizeof(raw));
		for (i = 0; i < 16; i++)
			snprintf(pw + 2 * i, 3, "%02x", raw[i]);
		pw_user_clear(&dummy_user);
		if (pw_hash_make(dummy_scheme, pw, 32, dummy_cost, 4096,
		    field, sizeof(field)) == KURIR_OK &&
		    pw_parse_hash(field, &dummy_user, &why) == 0)
			dummy_ready = 1;
	}
	pthread_mutex_unlock(&dummy_mtx);
	return &dummy_user;
}

static int
verify_user(const struct pw_user *u, const char *pw, size_t len)
{
	struct kurir_scram_keys	k;
	int			ok;

	if (u->hash != NULL)
		return crypt_check(pw, u->hash);
	if (u->has_scram) {
		if (pw_scram_derive(pw, len, u->scram.salt, u->scram.salt_len,
		    u->scram.iterations, &k) == -1)
			return 0;
		ok = CRYPTO_memcmp(k.stored_key, u->scram.stored_key,
		    SCRAM_KEY_LEN) == 0;
		OPENSSL_cleanse(&k, sizeof(k));
		return ok;
	}
	return 0;
}

int
pw_verify(const struct pw_user *u, const char *pw, size_t len)
{
	const struct pw_user	*d;
	int			 usable;

	usable = u != NULL && !u->disabled && u->scheme != PW_SCHEME_NONE &&
	    memchr(pw, '\0', len) == NULL;
	if (!usable) {
		d = dummy();
		(void)verify_user(d, pw, strnlen(pw, len));
		return KURIR_E_AUTH;
	}
	return verify_user(u, pw, len) ? KURIR_OK : KURIR_E_AUTH;
}
