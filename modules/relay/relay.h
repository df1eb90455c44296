/*
 * relay.h -- the relay module's private interfaces.  The module delivers
 * the core's outbound queue (api.h "ABI 1.0, queue") to other SMTP
 * servers: a scheduler thread picks due entries, a fixed pool of
 * delivery threads runs the SMTP client conversations.
 *
 * Why threads rather than non-blocking sockets on the worker's loop: an
 * SMTP client transaction is a strictly sequential conversation, and DNS
 * (res_nquery) and OpenSSL's client are simplest and most robust used
 * blocking with socket timeouts.  The threads are the module's own, so
 * the event loop never blocks and the core's run_blocking pool (storage
 * fsyncs of the smtp module) is never starved by slow remote servers;
 * relay_concurrency bounds them.  Only the lock holder (one worker of
 * all) runs them.
 */
#ifndef KURIR_RELAY_H
#define KURIR_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <kurir/api.h>
#include <kurir/auth.h>
#include <kurir/storage.h>

#define RELAY_HIDDEN	__attribute__((visibility("hidden")))

#define RELAY_TLS_NONE		0
#define RELAY_TLS_OPPORTUNISTIC	1
#define RELAY_TLS_VERIFY	2

#define RELAY_MAX_RETRIES	16	/* entries of queue_retry_schedule */
#define RELAY_HOST_MAX		255

struct relay_conf {
	uint32_t	 tls;		/* RELAY_TLS_*, outbound_tls */
	uint32_t	 concurrency;	/* delivery threads */
	uint32_t	 dest_concurrency; /* per destination */
	uint32_t	 timeout;	/* seconds per SMTP reply */
	uint32_t	 connect_timeout;
	int64_t		 lifetime;	/* queue_lifetime, seconds */
	int64_t		 retry[RELAY_MAX_RETRIES];
	uint32_t	 nretry;
	char		 hostname[256];
	char		 dns_stub[1024];
	char		 state_dir[1024];
};

extern const struct kurir_core_api *relay_api RELAY_HIDDEN;
extern struct kurir_module *relay_mod RELAY_HIDDEN;
extern struct relay_conf relay_conf RELAY_HIDDEN;

/* ---- next hops (relay_mx.c, relay_route.c) --------------------------- */

#define RELAY_MAX_HOPS	16

struct relay_hop {
	char		 host[RELAY_HOST_MAX + 1];
	uint16_t	 port;
	uint16_t	 pref;
	uint32_t	 tls;		/* RELAY_TLS_* */
	char		 auth_user[KURIR_ADDR_MAX + 1];	/* "" none */
	char		 auth_pass[256];
};

/* Next hops for domain from relay_routes (an exact domain beats "*"):
 * 1 with *hop_r filled, 0 when no route applies, -1 on a bad route. */
int	 relay_route_find(const char *routes, const char *domain,
	    struct relay_hop *hop_r) RELAY_HIDDEN;

/* RFC 5321 5.1: the MX hosts of domain by preference (equal ones in
 * random order), or the domain itself when it has no MX but has an
 * address.  stub: a file of "name type value" lines that replaces DNS
 * ("" : the system resolver).  Returns KURIR_OK, KURIR_E_PERMFAIL (no
 * such domain, or a null MX, RFC 7505: *nullmx_r = 1) or
 * KURIR_E_TEMPFAIL; diag gets a reason. */
int	 relay_mx_lookup(const char *domain, const char *stub,
	    struct relay_hop *hops, size_t cap, size_t *n_r, int *nullmx_r,
	    char *diag, size_t diagcap) RELAY_HIDDEN;
/* Addresses of host (A and AAAA; IP literals as they are), as text. */
int	 relay_addr_lookup(const char *host, const char *stub, char
	    addrs[][64], size_t cap, size_t *n_r) RELAY_HIDDEN;

/* ---- the SMTP client (relay_client.c) -------------------------------- */

struct relay_client;

/* One recipient's outcome of an attempt. */
struct relay_result {
	uint32_t	 idx;		/* recipient index in the entry */
	int		 code;		/* SMTP reply code, 0: none */
	char		 text[KURIR_QDIAG_MAX + 1];	/* reply or error */
	char		 mta[RELAY_HOST_MAX + 1];	/* "" none */
};

int	 relay_tls_init(const char **errstr_r) RELAY_HIDDEN;
/* Connect to addr:port, greet, EHLO, STARTTLS and AUTH per hop.  On
 * failure returns NULL with the reason (and code, 0 for a connection
 * failure) in *res. */
struct relay_client *relay_client_open(const struct relay_hop *hop,
	    const char *addr, volatile int *fdslot, struct relay_result *res)
	    RELAY_HIDDEN;
/* One message to the recipients in res[0..n-1] (idx set); fills each
 * code and text.  0: the connection may be reused, -1: it is broken. */
int	 relay_client_send(struct relay_client *c,
	    struct kurir_queue_entry *e, const struct kurir_queue_info *info,
	    struct relay_result *res, size_t n) RELAY_HIDDEN;
void	 relay_client_close(struct relay_client *c, int quit) RELAY_HIDDEN;
const char *relay_client_key(struct relay_client *c) RELAY_HIDDEN;

/* ---- delivery (relay_deliver.c, relay_dsn.c) ------------------------- */

/* A delivery thread's reusable connection. */
struct relay_conncache {
	struct relay_client	*c;
	volatile int		 fd;	/* for relay_stop() to shut down */
};

/* Deliver the pending recipients of one entry; returns its new next
 * retry time (0 if it is gone).  When the first destination has no free
 * slot, nothing is tried: its domain goes to busy (RELAY_HOST_MAX + 1)
 * and the entry stays due, for the scheduler to park until a slot of
 * that domain is free (no thread waits for it). */
int64_t	 relay_deliver(const char *id, struct relay_conncache *cc,
	    char *busy) RELAY_HIDDEN;
/* RFC 3464 report to the sender of e about the recipients in res:
 * failed ones (RELAY_DSN_FAILED, for NOTIFY FAILURE or none) or ones
 * delivered locally (RELAY_DSN_DELIVERED, for NOTIFY=SUCCESS).
 * KURIR_OK once durable (stored locally or queued). */
#define RELAY_DSN_FAILED	0
#define RELAY_DSN_DELIVERED	1
int	 relay_dsn(struct kurir_queue_entry *e,
	    const struct kurir_queue_info *info,
	    const struct relay_result *res, size_t n, int kind) RELAY_HIDDEN;

/* ---- threads (relay_run.c) ------------------------------------------- */

int	 relay_run_start(const char **errstr_r) RELAY_HIDDEN;
void	 relay_run_stop(void) RELAY_HIDDEN;
/* An entry's envelope changed (inotify): look at it again. */
void	 relay_run_changed(const char *id) RELAY_HIDDEN;
/* Per-destination slots: get waits for one, try does not (1: got it). */
void	 relay_slot_get(const char *key) RELAY_HIDDEN;
int	 relay_slot_try(const char *key) RELAY_HIDDEN;
void	 relay_slot_put(const char *key) RELAY_HIDDEN;

#endif
