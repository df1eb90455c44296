/*
 * tls.h -- server TLS contexts (OpenSSL 3).  TLS 1.2 and newer by default;
 * certificate, key, chain, ciphers and minimum version from config.
 */
#ifndef KURIR_CORE_TLS_H
#define KURIR_CORE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* chain, ciphers, ciphersuites may be NULL or "" for the defaults;
 * min_proto is "TLSv1.2" or "TLSv1.3".  NULL plus a message on error. */
SSL_CTX	*tls_server_ctx(const char *cert, const char *key, const char *chain,
	    const char *ciphers, const char *ciphersuites,
	    const char *min_proto, char *err, size_t errlen);
/* Writes a self-signed certificate and key for `cn` (quickstart). */
int	 tls_make_selfsigned(const char *cert_path, const char *key_path,
	    const char *cn, char *err, size_t errlen);

#endif
