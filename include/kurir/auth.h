/*
 * kurir/auth.h -- the user database ABI (kind KURIR_MOD_AUTH).
 *
 * Part of the stable ABI; see the rules at the top of kurir/module.h.
 *
 * An auth module answers "who is this user", "is this the password" and
 * "what are this user's SCRAM keys", and expands aliases.  The core
 * builds SASL, throttling and plaintext policy on top; protocol modules
 * never call an auth module directly for logins (they use api->sasl_*).
 *
 * Threads: every op may block (file reads, LDAP round trips) and must be
 * safe to call from several threads at once; the core calls
 * verify_password only from its hashing threads, never on an event loop.
 * Changes to the backing data are picked up without a restart.
 */
#ifndef KURIR_AUTH_H
#define KURIR_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/errors.h>

#define KURIR_ADDR_MAX	320	/* 64 local + @ + 255 domain */

struct kurir_auth_user {
	uint32_t	 size;		/* set by the caller: sizeof() */
	uint32_t	 enabled;	/* 0: exists but may not log in */
	char		 address[KURIR_ADDR_MAX + 1];	/* canonical */
	uint64_t	 quota_bytes;	/* 0: no limit; the module applies */
	uint64_t	 quota_messages;	/* its configured defaults */
	char		 location[1024];	/* mail location override or "" */
};

/* RFC 5802 keys for one SCRAM mechanism. */
struct kurir_scram_keys {
	uint32_t	 size;		/* set by the caller: sizeof() */
	uint32_t	 iterations;
	uint8_t		 salt[64];
	uint32_t	 salt_len;
	uint8_t		 stored_key[64];
	uint8_t		 server_key[64];
	uint32_t	 key_len;	/* 32 for SHA-256 */
};

/* One alias target; return 0 to go on. */
typedef int kurir_alias_cb(void *arg, const char *target);
/* One alias and its targets (comma separated); return 0 to go on. */
typedef int kurir_alias_list_cb(void *arg, const char *alias,
    const char *targets);

struct kurir_auth_ops {
	uint32_t	 size;		/* sizeof(struct kurir_auth_ops) */

	/* ---- ABI 1.0 ------------------------------------------------ */

	/* Look up an exact address (lower-cased domain).  NOTFOUND if no
	 * such user. */
	int	 (*lookup)(const char *address, struct kurir_auth_user *u_r);
	/* KURIR_OK, KURIR_E_AUTH (wrong password or no such user, after the
	 * same amount of work), or KURIR_E_TEMPFAIL. */
	int	 (*verify_password)(const char *address, const char *password,
		    size_t len);
	/* mech is "SCRAM-SHA-256".  NOTFOUND if the user has no keys for
	 * it (the core then fakes an exchange that fails). */
	int	 (*scram_keys)(const char *address, const char *mech,
		    struct kurir_scram_keys *k_r);
	/* Targets of an alias (exact "alias@domain" or catch-all
	 * "@domain"); NOTFOUND if it is not an alias. */
	int	 (*alias_lookup)(const char *address, kurir_alias_cb *cb,
		    void *arg);

	/* ---- ABI 1.0, administration (kurirctl) ----------------------
	 * Any of these may be NULL for a read-only backend (LDAP): kurirctl
	 * then answers "not supported by this auth module".  Writers must
	 * be safe against a concurrent kurirctl and a running server
	 * (atomic replace under a lock); the server sees changes without
	 * a restart. */

	/* Hash a password the way the module stores it; scheme NULL means
	 * the configured default (passwd: "YESCRYPT", "SHA512-CRYPT",
	 * "BLF-CRYPT", "SCRAM-SHA-256").  Writes "{SCHEME}..." into out.
	 * KURIR_E_INVALID for an unknown scheme, KURIR_E_TOOBIG if outlen
	 * is too small. */
	int	 (*pw_hash)(const char *scheme, const char *password,
		    size_t len, char *out, size_t outlen);
	/* Create or change a user.  password NULL keeps the current one
	 * (KURIR_E_INVALID when creating); extra NULL keeps the current
	 * attributes, else it replaces them ("quota_bytes=N
	 * quota_messages=N location=PATH disabled", space separated).
	 * flags: KURIR_AUTH_CREATE fails with KURIR_E_EXISTS on an existing
	 * user, KURIR_AUTH_UPDATE with KURIR_E_NOTFOUND on a missing one. */
	int	 (*user_set)(const char *address, const char *password,
		    size_t len, const char *extra, uint32_t flags);
	/* Remove a user; KURIR_E_NOTFOUND if there is none. */
	int	 (*user_del)(const char *address);
	/* Call cb with every user's address, in file order. */
	int	 (*user_list)(kurir_alias_cb *cb, void *arg);
	/* Replace an alias's targets (targets: comma separated), creating
	 * it if needed; targets "" removes it. */
	int	 (*alias_set)(const char *alias, const char *targets);
	/* Call cb(arg, alias, targets) for every alias, in file order. */
	int	 (*alias_list)(kurir_alias_list_cb *cb, void *arg);
};

#define KURIR_AUTH_CREATE	0x01u
#define KURIR_AUTH_UPDATE	0x02u

#endif /* KURIR_AUTH_H */
