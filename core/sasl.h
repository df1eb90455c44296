/*
 * sasl.h -- the SASL mechanisms as pure state machines: PLAIN (RFC 4616),
 * LOGIN (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802, RFC
 * 7677).  No I/O, no threads, no configuration: the caller (login.c)
 * decodes base64, looks keys up and verifies passwords off the event loop,
 * and feeds the results back.  Unit-tested against the RFC examples.
 */
#ifndef KURIR_CORE_SASL_H
#define KURIR_CORE_SASL_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/auth.h>

#define SASL_MECH_PLAIN		1
#define SASL_MECH_LOGIN		2
#define SASL_MECH_SCRAM_SHA256	3

/* What sasl_mech_step() / sasl_mech_keys() ask the caller to do next. */
#define SASL_R_CHALLENGE	0	/* send *out_r (raw, may be empty) */
#define SASL_R_NEED_KEYS	1	/* look up SCRAM keys, sasl_mech_keys() */
#define SASL_R_VERIFY		2	/* check sasl_mech_password() */
#define SASL_R_SUCCESS		3	/* authenticated as sasl_mech_user() */
#define SASL_R_FAIL		4	/* wrong credentials */
#define SASL_R_BADPROTO		5	/* malformed client data */

/* Longest user name, authzid and password a mechanism accepts (RFC 4616
 * allows 255 octets each; we allow a little more for long addresses). */
#define SASL_FIELD_MAX		1024

struct sasl_mech;

/* Mechanism id for a name (case-insensitive), or -1. */
int		 sasl_mech_id(const char *name);
const char	*sasl_mech_name(int id);
/* Uses plaintext passwords (PLAIN, LOGIN). */
int		 sasl_mech_is_plaintext(int id);

struct sasl_mech *sasl_mech_new(int id);
void		 sasl_mech_free(struct sasl_mech *m);	/* wipes secrets */

/*
 * Feed client data (already base64-decoded); in == NULL means "no
 * initial response" on the first step.  The challenge, when one is
 * returned, stays valid until the next call.
 */
int		 sasl_mech_step(struct sasl_mech *m, const char *in,
		    size_t inlen, const char **out_r, size_t *outlen_r);
/*
 * SCRAM: after SASL_R_NEED_KEYS, hand over the user's keys, or NULL for
 * an unknown user: the exchange then goes on with made-up keys (a salt
 * derived from the name, so it is stable) and fails at the proof, which
 * does not tell an attacker whether the user exists.
 */
int		 sasl_mech_keys(struct sasl_mech *m,
		    const struct kurir_scram_keys *k, const char **out_r,
		    size_t *outlen_r);

/* The authentication identity, once known (NULL before). */
const char	*sasl_mech_user(const struct sasl_mech *m);
/* The authorization identity ("" when none was given). */
const char	*sasl_mech_authzid(const struct sasl_mech *m);
/* PLAIN/LOGIN: the password after SASL_R_VERIFY. */
const char	*sasl_mech_password(const struct sasl_mech *m, size_t *len_r);

/* Iterations for made-up SCRAM keys (match the real ones: 4096). */
void		 sasl_scram_set_fake_iterations(uint32_t iterations);
/* Tests: use this server nonce instead of a random one. */
void		 sasl_mech_set_nonce(struct sasl_mech *m, const char *nonce);

/* RFC 5802 key derivation, shared with tests and kurirctl: fills k
 * (SHA-256) from a password, salt and iteration count.  0 or -1. */
int		 sasl_scram_derive(const char *password, size_t len,
		    const uint8_t *salt, size_t saltlen, uint32_t iterations,
		    struct kurir_scram_keys *k);

#endif
