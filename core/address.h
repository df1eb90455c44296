/*
 * address.h -- recipients: which domains are ours, and what a recipient
 * address delivers to (aliases, catch-all "@domain", plus-addressing,
 * loop detection).  address.c implements the api.h services
 * is_local_domain and rcpt_resolve on top of the configuration and the
 * auth module; address_resolve.c is the pure algorithm the tests drive.
 */
#ifndef KURIR_CORE_ADDRESS_H
#define KURIR_CORE_ADDRESS_H

#include <kurir/api.h>
#include <kurir/auth.h>

/* The services of kurir/api.h (same names and signatures). */
int	address_is_local_domain(const char *domain);
int	address_rcpt_resolve(const char *address, kurir_rcpt_cb *cb,
	    void *arg);

struct address_policy {
	const struct kurir_auth_ops	*ops;	/* lookup, alias_lookup */
	int	(*is_local)(const char *domain);
	const char	*delimiters;	/* recipient_delimiter: "+" or "" */
	unsigned	 max_depth;	/* alias_max_depth */
	unsigned	 max_targets;	/* alias_max_targets */
};

/*
 * Resolve address and call cb once per distinct final target, only after
 * the whole expansion succeeded.  Order: an alias for the exact address;
 * a user; the address without its +tag (alias, then user); the domain's
 * catch-all alias.  A target naming the alias itself ("alice: alice,
 * archive") means the user, not the alias again.  KURIR_E_NOTFOUND for
 * an unknown local address, KURIR_E_INVALID for a loop, a malformed
 * address or a chain deeper than max_depth, KURIR_E_TOOBIG for more than
 * max_targets targets, KURIR_E_TEMPFAIL when the auth module fails.  A
 * non-zero return from cb stops and is returned.
 */
int	address_resolve(const struct address_policy *p, const char *address,
	    kurir_rcpt_cb *cb, void *arg);

#endif
