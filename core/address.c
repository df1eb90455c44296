/*
 * address.c -- the api.h services is_local_domain and rcpt_resolve: the
 * configuration (`domains`, recipient_delimiter, alias_max_*) and the
 * auth module around the pure expansion in address_resolve.c.
 */
#include <string.h>
#include <strings.h>

#include "address.h"
#include "config.h"
#include "module.h"

int
address_is_local_domain(const char *domain)
{
	const char	*list, *p;
	size_t		 len, dlen;

	if (domain == NULL || (list = config_str("domains")) == NULL)
		return 0;
	dlen = strlen(domain);
	for (p = list; *p != '\0'; p += len) {
		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len > 0 && len == dlen && strncasecmp(p, domain, len) == 0)
			return 1;
	}
	return 0;
}

int
address_rcpt_resolve(const char *address, kurir_rcpt_cb *cb, void *arg)
{
	struct address_policy	p;
	int64_t			v;

	memset(&p, 0, sizeof(p));
	p.ops = module_auth_ops();
	p.is_local = address_is_local_domain;
	p.delimiters = config_str("recipient_delimiter");
	p.max_depth = (v = config_num("alias_max_depth")) > 0 ?
	    (unsigned)v : 10;
	p.max_targets = (v = config_num("alias_max_targets")) > 0 ?
	    (unsigned)v : 1000;
	return address_resolve(&p, address, cb, arg);
}
