/*
 * address_resolve.c -- recipient expansion (see address.h).  Targets are
 * gathered into a bounded list first and handed out only when the whole
 * expansion worked, so a half-expanded alias never reaches a caller.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"

struct target {
	char	*address;
	int	 is_local;
};

struct resolve {
	const struct address_policy	*p;
	struct target			*t;
	size_t				 nt;
	const char			**path;	/* aliases being expanded */
	unsigned			 depth;
};

struct strvec {
	char	**v;
	size_t	  n;
	size_t	  max;
	int	  err;
};

static int	resolve_one(struct resolve *r, const char *address,
		    int no_alias);

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
add_target(struct resolve *r, const char *address, int is_local)
{
	struct target	*tmp;
	size_t		 i;

	for (i = 0; i < r->nt; i++)
		if (strcasecmp(r->t[i].address, address) == 0)
			return KURIR_OK;	/* once per target */
	if (r->nt >= r->p->max_targets)
		return KURIR_E_TOOBIG;
	if ((tmp = reallocarray(r->t, r->nt + 1, sizeof(*tmp))) == NULL)
		return KURIR_E_NOMEM;
	r->t = tmp;
	if ((r->t[r->nt].address = strdup(address)) == NULL)
		return KURIR_E_NOMEM;
	r->t[r->nt++].is_local = is_local;
	return KURIR_OK;
}

static int
collect_cb(void *arg, const char *target)
{
	struct strvec	*v = arg;
	char		**tmp;

	if (v->n >= v->max) {
		v->err = KURIR_E_TOOBIG;
		return 1;
	}
	if ((tmp = reallocarray(v->v, v->n + 1, sizeof(*tmp))) == NULL ||
	    (v->v = tmp, (v->v[v->n] = strdup(target)) == NULL)) {
		v->err = KURIR_E_NOMEM;
		return 1;
	}
	v->n++;
	return 0;
}

static void
strvec_free(struct strvec *v)
{
	size_t	i;

	for (i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

/* Expand alias key if it is one: KURIR_OK (expanded), KURIR_E_NOTFOUND
 * (not an alias) or an error. */
static int
expand_alias(struct resolve *r, const char *key)
{
	struct strvec	v = { NULL, 0, 0, 0 };
	size_t		i;
	unsigned	d;
	int		rc, self;

	v.max = r->p->max_targets;
	rc = r->p->ops->alias_lookup(key, collect_cb, &v);
	if (rc == KURIR_OK && v.err != 0)
		rc = v.err;
	if (rc != KURIR_OK) {
		strvec_free(&v);
		return rc == KURIR_E_NOTFOUND ? rc : rc < 0 ? rc :
		    KURIR_E_TEMPFAIL;
	}
	if (r->depth >= r->p->max_depth) {
		strvec_free(&v);
		return KURIR_E_INVALID;
	}
	r->path[r->depth++] = key;
	for (i = 0; i < v.n && rc == KURIR_OK; i++) {
		self = strcasecmp(v.v[i], key) == 0;
		for (d = 0; !self && d < r->depth; d++)
			if (strcasecmp(v.v[i], r->path[d]) == 0)
				rc = KURIR_E_INVALID;	/* a loop */
		if (rc == KURIR_OK)
			rc = resolve_one(r, v.v[i], self);
	}
	r->depth--;
	strvec_free(&v);
	return rc;
}

static int
find_user(struct resolve *r, const char *key)
{
	struct kurir_auth_user	u;
	int			rc;

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	rc = r->p->ops->lookup(key, &u);
	if (rc == KURIR_OK)
		return add_target(r, u.address[0] != '\0' ? u.address : key,
		    1);
	return rc == KURIR_E_NOTFOUND ? rc : KURIR_E_TEMPFAIL;
}

static int
resolve_one(struct resolve *r, const char *address, int no_alias)
{
	char	 key[KURIR_ADDR_MAX + 1], base[KURIR_ADDR_MAX + 1];
	char	 catchall[KURIR_ADDR_MAX + 2], *at;
	size_t	 len;
	int	 rc;

	len = strlen(address);
	if (len == 0 || len > KURIR_ADDR_MAX ||
	    (at = strrchr(address, '@')) == NULL || at == address ||
	    at[1] == '\0')
		return KURIR_E_INVALID;
	memcpy(key, address, len + 1);
	at = key + (at - address);
	lower(at + 1);
	if (!r->p->is_local(at + 1))
		return add_target(r, key, 0);
	lower(key);

	if (!no_alias && (rc = expand_alias(r, key)) != KURIR_E_NOTFOUND)
		return rc;
	if ((rc = find_user(r, key)) != KURIR_E_NOTFOUND)
		return rc;
	if (no_alias)
		return KURIR_E_NOTFOUND;

	/* user+tag@domain delivers to user@domain */
	len = strcspn(key, r->p->delimiters != NULL ? r->p->delimiters : "");
	if (r->p->delimiters != NULL && *r->p->delimiters != '\0' &&
	    key + len < at && len > 0) {
		memcpy(base, key, len);
		strcpy(base + len, at);
		if ((rc = expand_alias(r, base)) != KURIR_E_NOTFOUND)
			return rc;
		if ((rc = find_user(r, base)) != KURIR_E_NOTFOUND)
			return rc;
	}

	/* the domain's catch-all */
	strcpy(catchall, at);
	for (len = 0; len < r->depth; len++)
		if (strcmp(r->path[len], catchall) == 0)
			return KURIR_E_INVALID;	/* catch-all to nobody */
	return expand_alias(r, catchall);
}

int
address_resolve(const struct address_policy *p, const char *address,
    kurir_rcpt_cb *cb, void *arg)
{
	struct resolve	r;
	size_t		i;
	int		rc;

	if (p->ops == NULL || p->ops->lookup == NULL ||
	    p->ops->alias_lookup == NULL)
		return KURIR_E_TEMPFAIL;
	memset(&r, 0, sizeof(r));
	r.p = p;
	if ((r.path = calloc(p->max_depth + 1, sizeof(*r.path))) == NULL)
		return KURIR_E_NOMEM;
	rc = resolve_one(&r, address, 0);
	if (rc == KURIR_OK && r.nt == 0)
		rc = KURIR_E_NOTFOUND;
	for (i = 0; rc == KURIR_OK && i < r.nt; i++)
		rc = cb(arg, r.t[i].address, r.t[i].is_local);
	for (i = 0; i < r.nt; i++)
		free(r.t[i].address);
	free(r.t);
	free(r.path);
	return rc;
}
