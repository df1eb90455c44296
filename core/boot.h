/*
 * boot.h -- one loaded configuration with its modules, listeners and TLS
 * context; see boot.c.
 */
#ifndef KURIR_CORE_BOOT_H
#define KURIR_CORE_BOOT_H

#include <openssl/ssl.h>

#include "config.h"
#include "conn.h"
#include "listen.h"

#define BOOT_NO_PROTOCOLS	0x01u	/* kurirctl: storage and auth only */
#define BOOT_NO_AUTH		0x02u	/* tools that need storage alone */

struct boot {
	struct config			*cf;
	struct kurir_conf_key		*listen_keys;	/* <service>_listen */
	struct listen_set		 ls;
	struct conn_service		*services;
	size_t				 nservices;
	const struct kurir_storage_ops	*storage;
	const struct kurir_auth_ops	*auth;
	char				 cert[4096];
	char				 key[4096];
	int				 cert_is_default;
	SSL_CTX				*tls;
};

/* Parse, open the named modules (once per process), check every key and
 * listen address.  On error: -1 and "FILE:LINE: message" in err. */
int	boot_load(struct boot *b, const char *path, char *const *overrides,
	    size_t noverrides, unsigned flags, char *err, size_t errlen);
/* Make b's config the current one (config_str) and select its modules. */
void	boot_activate(struct boot *b);
/* Build the TLS context, first making a self-signed certificate when the
 * default one is missing and make_selfsigned is set. */
int	boot_tls(struct boot *b, int make_selfsigned, char *err,
	    size_t errlen);
int	boot_service_listens(const struct boot *b, const char *service);
/* Every open module's init (master, before privileges are dropped). */
int	boot_init_modules(char *err, size_t errlen);
/* Creates the current config's state_dir (and parents) for the worker
 * user. */
int	boot_state_dir(char *err, size_t errlen);
void	boot_free(struct boot *b);

#endif
