/*
 * login.h -- the SASL and plaintext-login services of kurir/api.h, with
 * the same names and signatures, for api.c to put in the table.
 *
 * Every exchange runs on the event loop; password verification and key
 * lookups run on the worker's hashing threads (auth_pool.h), so slow
 * hashes never stall other sessions.  Failures are throttled per client
 * address and per user (throttle.h); plaintext mechanisms are refused
 * unless conn_plaintext_ok().
 *
 * Results always arrive through the callback, possibly before
 * sasl_start()/sasl_step() return (challenges do); *sasl_r is set before
 * the first callback, and the callback may call sasl_free().
 * sasl_start() returns KURIR_E_UNSUPPORTED, without calling back, for a
 * mechanism we do not have (SMTP 504, IMAP NO); sasl_step() returns
 * KURIR_E_INVALID when no answer is awaited.
 */
#ifndef KURIR_CORE_LOGIN_H
#define KURIR_CORE_LOGIN_H

#include <kurir/api.h>

const char	*sasl_mechs(struct kurir_conn *c);
int		 sasl_start(struct kurir_conn *c, const char *mech,
		    const char *initial, kurir_sasl_cb *cb, void *arg,
		    struct kurir_sasl **sasl_r);
int		 sasl_step(struct kurir_sasl *s, const char *response);
void		 sasl_free(struct kurir_sasl *s);
int		 login_plain(struct kurir_conn *c, const char *user,
		    const char *password, kurir_sasl_cb *cb, void *arg,
		    struct kurir_sasl **sasl_r);

/* The master, before it forks a generation of workers: the throttle
 * table they share, with the current config's limits.  A reload keeps
 * the counts unless auth_throttle_table_size changed. */
void		 login_share(void);
/* Drop this process's throttle table handle (at exit, or in tests). */
void		 login_reset(void);
/* Check the values of the login keys the config parser cannot (the
 * networks of auth_throttle_exempt): 0, or -1 with a message naming the
 * key, for kurird -t and start-up. */
int		 login_check_config(char *err, size_t errlen);

#endif
