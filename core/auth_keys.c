/*
 * auth_keys.c -- the core's keys for logins and recipients (SASL
 * throttling, login names, aliases); boot.c registers the table beside
 * core_conf_keys.  The passwd module declares its own keys.
 */
#include "config.h"
#include "config_keys.h"

const struct kurir_conf_key core_auth_conf_keys[] = {
	{ "auth_throttle_delay_ms", KURIR_CONF_INT, "1000", NULL,
	    "delay of the answer to a failed login, doubled per further "
	    "failure (ms; 0: none)" },
	{ "auth_throttle_delay_max_ms", KURIR_CONF_INT, "15000", NULL,
	    "longest delay of a failed login's answer (ms)" },
	{ "auth_throttle_ip_failures", KURIR_CONF_INT, "20", NULL,
	    "failed logins from one client address before it is locked out "
	    "(0: never)" },
	{ "auth_throttle_user_failures", KURIR_CONF_INT, "10", NULL,
	    "failed logins for one user before the user is locked out "
	    "(0: never)" },
	{ "auth_throttle_window", KURIR_CONF_DURATION, "10m", NULL,
	    "failures are forgotten after this long without another" },
	{ "auth_throttle_lockout", KURIR_CONF_DURATION, "5m", NULL,
	    "how long a locked-out address or user gets temporary failures" },
	{ "auth_throttle_exempt", KURIR_CONF_LIST, "", NULL,
	    "networks never throttled (CIDR, IPv4 or IPv6), e.g. "
	    "127.0.0.0/8 ::1" },
	{ "auth_throttle_table_size", KURIR_CONF_INT, "16384", NULL,
	    "addresses and users whose failures are remembered, in one "
	    "table all workers share (least recently used forgotten first; "
	    "at most 1048576)" },
	{ "auth_threads", KURIR_CONF_INT, "2", NULL,
	    "password-hashing threads per worker (0: use the shared "
	    "worker_threads pool)" },
	{ "auth_thread_nice", KURIR_CONF_INT, "10", NULL,
	    "CPU niceness of the hashing threads (0-19), so logins never "
	    "starve established sessions" },
	{ "auth_max_pending", KURIR_CONF_INT, "1000", NULL,
	    "logins waiting for a hashing thread per worker; beyond it new "
	    "ones get a temporary failure" },
	{ "auth_default_domain", KURIR_CONF_STRING, "", NULL,
	    "domain added to a login name without '@'; empty: none" },
	{ "recipient_delimiter", KURIR_CONF_STRING, "+", NULL,
	    "characters separating user and tag (user+tag@domain delivers "
	    "to user@domain); empty: off" },
	{ "alias_max_depth", KURIR_CONF_INT, "10", NULL,
	    "deepest chain of aliases followed for one recipient" },
	{ "alias_max_targets", KURIR_CONF_INT, "1000", NULL,
	    "most final targets one recipient may expand to" },
	{ NULL, 0, NULL, NULL, NULL }
};
