/*
 * config_keys.c -- the keys the core itself honours, with their defaults
 * (the embedded defaults of DESIGN.md) and one line of documentation each.
 * Modules declare theirs in their descriptors; etc/kurir.conf documents
 * them all.  `<service>_listen` keys are made per loaded service (main.c).
 */
#include "autoconf.h"

#include "config.h"
#include "config_keys.h"

const struct kurir_conf_key core_conf_keys[] = {
	{ "state_dir", KURIR_CONF_STRING, KURIR_LOCALSTATEDIR "/lib/kurir",
	    NULL, "where mail, queue, users and TLS files live" },
	{ "module_dir", KURIR_CONF_STRING, KURIR_MODULE_DIR, NULL,
	    "where modules are found (':'-separated search path)" },
	{ "protocols", KURIR_CONF_LIST, KURIR_DEFAULT_PROTOCOLS, NULL,
	    "protocol modules to start; each starts all its services" },
	{ "storage", KURIR_CONF_STRING, "lmdb", NULL,
	    "storage backend module: lmdb or maildir" },
	{ "auth", KURIR_CONF_STRING, "passwd", NULL,
	    "user database module" },
	{ "domains", KURIR_CONF_LIST, "localhost", NULL,
	    "local mail domains" },
	{ "hostname", KURIR_CONF_STRING, "", NULL,
	    "name used in greetings and Received headers; empty: the system's" },
	{ "workers", KURIR_CONF_INT, "0", NULL,
	    "worker processes; 0: one per CPU" },
	{ "worker_threads", KURIR_CONF_INT, "4", NULL,
	    "threads per worker for blocking work (hashing, fsync)" },
	{ "user", KURIR_CONF_STRING, "kurir", NULL,
	    "unprivileged user the workers run as when started as root" },
	{ "shutdown_grace", KURIR_CONF_DURATION, "30s", NULL,
	    "on SIGTERM or reload, how long sessions may take to finish" },
	{ "log_level", KURIR_CONF_ENUM, "info", "error|warning|notice|info|debug",
	    "least severe level logged" },
	{ "tls_cert", KURIR_CONF_STRING, "", NULL,
	    "PEM certificate; empty: STATE_DIR/tls/cert.pem, made self-signed "
	    "on first start when missing" },
	{ "tls_key", KURIR_CONF_STRING, "", NULL,
	    "PEM private key; empty: STATE_DIR/tls/key.pem" },
	{ "tls_chain", KURIR_CONF_STRING, "", NULL,
	    "PEM intermediate certificates sent after tls_cert" },
	{ "tls_ciphers", KURIR_CONF_STRING, "", NULL,
	    "OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default" },
	{ "tls_ciphersuites", KURIR_CONF_STRING, "", NULL,
	    "TLS 1.3 ciphersuites; empty: OpenSSL's default" },
	{ "tls_min_protocol", KURIR_CONF_ENUM, "TLSv1.2", "TLSv1.2|TLSv1.3",
	    "oldest TLS version accepted" },
	{ "tls_handshake_timeout", KURIR_CONF_DURATION, "30s", NULL,
	    "time a client has to finish the TLS handshake" },
	{ "allow_plaintext_loopback", KURIR_CONF_BOOL, "yes", NULL,
	    "allow plaintext passwords without TLS from 127.0.0.0/8 and ::1" },
	{ "max_message_size", KURIR_CONF_SIZE, "50M", NULL,
	    "largest message accepted (SMTP SIZE, IMAP APPEND)" },
	{ "relay_routes", KURIR_CONF_LIST, "", NULL,
	    "static routes DOMAIN=HOST:PORT, *=HOST:PORT for a smarthost" },
	{ "max_line_length", KURIR_CONF_SIZE, "64k", NULL,
	    "longest input line any protocol buffers" },
	{ "output_high_water", KURIR_CONF_SIZE, "256k", NULL,
	    "queued output above which a connection stops reading" },
	{ "output_low_water", KURIR_CONF_SIZE, "64k", NULL,
	    "queued output below which it reads again" },
	{ "output_buffer_max", KURIR_CONF_SIZE, "4M", NULL,
	    "queued output at which a client that does not read is dropped" },
	{ "idle_timeout", KURIR_CONF_DURATION, "5m", NULL,
	    "idle connection timeout unless the protocol sets its own" },
	{ "max_connections", KURIR_CONF_INT, "10000", NULL,
	    "connections per worker; more wait in the listen queue" },
	{ NULL, 0, NULL, NULL, NULL }
};

/* The standard services' listen keys exist whether or not their module is
 * loaded, so one kurir.conf serves every build and `protocols` choice. */
#define LISTEN_DOC	"addresses this service listens on (HOST:PORT, " \
			"[V6]:PORT or *:PORT; empty: off)"
const struct kurir_conf_key core_listen_keys[] = {
	{ "smtp_listen", KURIR_CONF_LIST, "127.0.0.1:2525", NULL, LISTEN_DOC },
	{ "submission_listen", KURIR_CONF_LIST, "127.0.0.1:2587", NULL,
	    LISTEN_DOC },
	{ "submissions_listen", KURIR_CONF_LIST, "127.0.0.1:2465", NULL,
	    LISTEN_DOC },
	{ "pop3_listen", KURIR_CONF_LIST, "127.0.0.1:2110", NULL, LISTEN_DOC },
	{ "pop3s_listen", KURIR_CONF_LIST, "127.0.0.1:2995", NULL, LISTEN_DOC },
	{ "imap_listen", KURIR_CONF_LIST, "127.0.0.1:2143", NULL, LISTEN_DOC },
	{ "imaps_listen", KURIR_CONF_LIST, "127.0.0.1:2993", NULL, LISTEN_DOC },
	{ NULL, 0, NULL, NULL, NULL }
};
