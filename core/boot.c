/*
 * boot.c -- turns a config file and -o overrides into a running set-up:
 * the modules that `protocols`, `storage` and `auth` name, every key
 * checked (core's, modules', and one `<service>_listen` per service), the
 * listen addresses, and the TLS context.  kurird, kurird -t/-n, a reload
 * and kurirctl all go through boot_load(), so they agree on what a valid
 * configuration is.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "config_keys.h"
#include "log.h"
#include "module.h"
#include "privsep.h"
#include "tls.h"

static int
open_module(const char *dir, const char *name, uint32_t kind, char *err,
    size_t errlen)
{
	if (module_find(name) != NULL)
		return 0;
	return module_open(dir, name, kind, err, errlen) != NULL ? 0 : -1;
}

/* Opens the modules the raw config names (first boot only). */
static int
boot_open_modules(const struct config *cf, unsigned flags, char *err,
    size_t errlen)
{
	const char	*dir, *protos, *name;
	char		*copy, *word, *save = NULL;
	int		 rc = 0;

	if ((dir = config_raw(cf, "module_dir")) == NULL)
		dir = KURIR_MODULE_DIR;
	/* An empty `auth` or `storage` runs without one (core tests). */
	if ((flags & BOOT_NO_AUTH) == 0) {
		name = config_raw(cf, "auth");
		if ((name == NULL || *name != '\0') && open_module(dir,
		    name ? name : "passwd", KURIR_MOD_AUTH, err, errlen) == -1)
			return -1;
	}
	name = config_raw(cf, "storage");
	if ((name == NULL || *name != '\0') && open_module(dir,
	    name ? name : "lmdb", KURIR_MOD_STORAGE, err, errlen) == -1)
		return -1;
	if (flags & BOOT_NO_PROTOCOLS)
		return 0;
	if ((protos = config_raw(cf, "protocols")) == NULL)
		protos = KURIR_DEFAULT_PROTOCOLS;
	if ((copy = strdup(protos)) == NULL)
		return -1;
	for (word = strtok_r(copy, " ,\t", &save); word != NULL;
	    word = strtok_r(NULL, " ,\t", &save))
		if ((rc = open_module(dir, word, KURIR_MOD_PROTOCOL, err,
		    errlen)) == -1)
			break;
	free(copy);
	return rc;
}

/* Declares every open module's keys and each service's _listen key. */
static int
boot_declare_keys(struct boot *b)
{
	const struct kurir_proto_ops	*ops;
	const struct kurir_service_desc	*sd;
	struct kurir_module		*m;
	struct kurir_conf_key		*k;
	size_t				 n = 0, i = 0;

	if (config_add_keys(b->cf, core_conf_keys, "core") == -1 ||
	    config_add_keys(b->cf, core_listen_keys, "core") == -1 ||
	    config_add_keys(b->cf, core_auth_conf_keys, "core") == -1)
		return -1;
	for (m = module_next(NULL); m != NULL; m = module_next(m)) {
		const struct kurir_module_desc *d = module_desc(m);

		if (d->conf_keys != NULL &&
		    config_add_keys(b->cf, d->conf_keys, d->name) == -1)
			return -1;
		if (d->kind != KURIR_MOD_PROTOCOL)
			continue;
		ops = d->ops;
		for (sd = ops->services; sd != NULL && sd->name != NULL; sd++)
			n++;
	}
	if ((b->listen_keys = calloc(n + 1, sizeof(*k))) == NULL)
		return -1;
	for (m = module_next(NULL); m != NULL; m = module_next(m)) {
		if (module_desc(m)->kind != KURIR_MOD_PROTOCOL)
			continue;
		ops = module_desc(m)->ops;
		for (sd = ops->services; sd != NULL && sd->name != NULL;
		    sd++) {
			k = &b->listen_keys[i++];
			if (asprintf((char **)&k->name, "%s_listen",
			    sd->name) == -1)
				return -1;
			k->type = KURIR_CONF_LIST;
			k->def = sd->default_listen;
			k->doc = "addresses this service listens on (HOST:PORT "
			    "or [V6]:PORT; empty: off)";
		}
	}
	return config_add_keys(b->cf, b->listen_keys, "core");
}

static int
boot_add_service(struct boot *b, const struct kurir_proto_ops *ops,
    const struct kurir_service_desc *sd, char *err, size_t errlen)
{
	struct conn_service	*svc;
	char			 key[64];

	snprintf(key, sizeof(key), "%s_listen", sd->name);
	if (listen_parse(&b->ls, sd->name, config_value(b->cf, key),
	    config_origin_in(b->cf, key), err, errlen) == -1)
		return -1;
	svc = reallocarray(b->services, b->nservices + 1, sizeof(*svc));
	if (svc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->services = svc;
	svc = &b->services[b->nservices++];
	svc->name = sd->name;
	svc->ops = ops;
	svc->implicit_tls = sd->implicit_tls != 0;
	svc->tls = NULL;
	return 0;
}

/* One conn_service and its listeners per service of each protocol that
 * `protocols` names. */
static int
boot_services(struct boot *b, char *err, size_t errlen)
{
	const struct kurir_proto_ops	*ops;
	const struct kurir_service_desc	*sd;
	struct kurir_module		*m;
	char				*copy, *word, *save = NULL;
	int				 rc = 0;

	if ((copy = strdup(config_value(b->cf, "protocols"))) == NULL)
		return -1;
	for (word = strtok_r(copy, " ,\t", &save); word != NULL && rc == 0;
	    word = strtok_r(NULL, " ,\t", &save)) {
		if ((m = module_find(word)) == NULL ||
		    module_desc(m)->kind != KURIR_MOD_PROTOCOL) {
			snprintf(err, errlen, "%s: protocol '%s' is not "
			    "loaded; changing modules needs a restart",
			    config_origin_in(b->cf, "protocols"), word);
			rc = -1;
			break;
		}
		ops = module_desc(m)->ops;
		for (sd = ops->services; sd != NULL && sd->name != NULL &&
		    rc == 0; sd++)
			rc = boot_add_service(b, ops, sd, err, errlen);
	}
	free(copy);
	return rc;
}

/* Every standard listen key must parse, used or not (kurird -t). */
static int
boot_check_listen_keys(struct boot *b, char *err, size_t errlen)
{
	const struct kurir_conf_key	*k;
	struct listen_set		 scratch = { NULL, 0 };
	char				 service[64];
	int				 rc = 0;

	for (k = core_listen_keys; k->name != NULL && rc == 0; k++) {
		snprintf(service, sizeof(service), "%.*s",
		    (int)(strlen(k->name) - strlen("_listen")), k->name);
		rc = listen_parse(&scratch, service, config_value(b->cf,
		    k->name), config_origin_in(b->cf, k->name), err, errlen);
	}
	listen_free(&scratch);
	return rc;
}

/* Fills in the default certificate paths under state_dir. */
static void
boot_tls_paths(struct boot *b)
{
	const char	*sd = config_value(b->cf, "state_dir");
	const char	*c = config_value(b->cf, "tls_cert");
	const char	*k = config_value(b->cf, "tls_key");

	if (*c != '\0')
		snprintf(b->cert, sizeof(b->cert), "%s", c);
	else
		snprintf(b->cert, sizeof(b->cert), "%s/tls/cert.pem", sd);
	if (*k != '\0')
		snprintf(b->key, sizeof(b->key), "%s", k);
	else
		snprintf(b->key, sizeof(b->key), "%s/tls/key.pem", sd);
	b->cert_is_default = *c == '\0';
}

int
boot_tls(struct boot *b, int make_selfsigned, char *err, size_t errlen)
{
	const char	*host = config_value(b->cf, "hostname");
	char		 dir[4096];
	size_t		 i;

	if (b->cert_is_default && access(b->cert, F_OK) == -1 &&
	    make_selfsigned) {
		snprintf(dir, sizeof(dir), "%s/tls",
		    config_value(b->cf, "state_dir"));
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
		if (tls_make_selfsigned(b->cert, b->key,
		    *host != '\0' ? host : "localhost", err, errlen) == -1)
			return -1;
		log_info("made a self-signed certificate %s", b->cert);
	}
	b->tls = tls_server_ctx(b->cert, b->key,
	    config_value(b->cf, "tls_chain"), config_value(b->cf,
	    "tls_ciphers"), config_value(b->cf, "tls_ciphersuites"),
	    config_value(b->cf, "tls_min_protocol"), err, errlen);
	if (b->tls == NULL) {
		/* Without a certificate the plain services still run; an
		 * implicit-TLS service cannot. */
		for (i = 0; i < b->nservices; i++)
			if (b->services[i].implicit_tls &&
			    boot_service_listens(b, b->services[i].name))
				return -1;
		log_warnx("TLS disabled: %s", err);
		return 0;
	}
	for (i = 0; i < b->nservices; i++)
		b->services[i].tls = b->tls;
	return 0;
}

int
boot_service_listens(const struct boot *b, const char *service)
{
	size_t	i;

	for (i = 0; i < b->ls.n; i++)
		if (strcmp(b->ls.l[i].service, service) == 0)
			return 1;
	return 0;
}

int
boot_load(struct boot *b, const char *path, char *const *overrides,
    size_t noverrides, unsigned flags, char *err, size_t errlen)
{
	const char	*name;
	struct kurir_module *m;

	memset(b, 0, sizeof(*b));
	if ((b->cf = config_parse(path, overrides, noverrides, err,
	    errlen)) == NULL)
		return -1;
	if (boot_open_modules(b->cf, flags, err, errlen) == -1)
		goto fail;
	if (boot_declare_keys(b) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (config_validate(b->cf, err, errlen) == -1)
		goto fail;
	/* A reload may not switch modules under running workers. */
	name = config_value(b->cf, "storage");
	if (*name == '\0')
		m = NULL;
	else if ((m = module_find(name)) == NULL ||
	    module_desc(m)->kind != KURIR_MOD_STORAGE) {
		snprintf(err, errlen, "%s: storage '%s' is not loaded; "
		    "changing modules needs a restart",
		    config_origin_in(b->cf, "storage"), name);
		goto fail;
	}
	b->storage = m != NULL ? module_desc(m)->ops : NULL;
	if ((flags & BOOT_NO_AUTH) == 0 && *config_value(b->cf, "auth") !=
	    '\0') {
		name = config_value(b->cf, "auth");
		if ((m = module_find(name)) == NULL ||
		    module_desc(m)->kind != KURIR_MOD_AUTH) {
			snprintf(err, errlen, "%s: auth '%s' is not loaded; "
			    "changing modules needs a restart",
			    config_origin_in(b->cf, "auth"), name);
			goto fail;
		}
		b->auth = module_desc(m)->ops;
	}
	if (boot_check_listen_keys(b, err, errlen) == -1)
		goto fail;
	if ((flags & BOOT_NO_PROTOCOLS) == 0 &&
	    boot_services(b, err, errlen) == -1)
		goto fail;
	boot_tls_paths(b);
	return 0;
fail:
	boot_free(b);
	return -1;
}

void
boot_activate(struct boot *b)
{
	int	level;

	config_set_current(b->cf);
	module_set_storage(b->storage);
	module_set_auth(b->auth);
	if ((level = log_level_parse(config_str("log_level"))) != -1)
		log_set_level(level);
}

int
boot_init_modules(char *err, size_t errlen)
{
	struct kurir_module	*m;

	for (m = module_next(NULL); m != NULL; m = module_next(m))
		if (module_init(m, err, errlen) == -1)
			return -1;
	return 0;
}

/* Creates state_dir (and parents) and gives it to the worker user. */
int
boot_state_dir(char *err, size_t errlen)
{
	char	path[4096], *p;

	snprintf(path, sizeof(path), "%s", config_str("state_dir"));
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(path, 0750) == -1 && errno != EEXIST)
		goto fail;
	if (privsep_chown(path) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "state_dir %s: %s", path, strerror(errno));
	return -1;
}

void
boot_free(struct boot *b)
{
	struct kurir_conf_key	*k;

	listen_free(&b->ls);
	free(b->services);
	if (b->tls != NULL)
		SSL_CTX_free(b->tls);
	config_free(b->cf);
	for (k = b->listen_keys; k != NULL && k->name != NULL; k++)
		free((char *)k->name);
	free(b->listen_keys);
	memset(b, 0, sizeof(*b));
}
