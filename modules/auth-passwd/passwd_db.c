/*
 * passwd_db.c -- parsing the passwd and aliases files into an immutable
 * table (see passwd.h for the formats).  A malformed line is reported
 * with its file and line number and skipped; nothing here can fail the
 * whole file except running out of memory.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

struct pw_db *
pw_db_new(void)
{
	return calloc(1, sizeof(struct pw_db));
}

void
pw_user_clear(struct pw_user *u)
{
	free(u->address);
	if (u->hash != NULL) {
		explicit_bzero(u->hash, strlen(u->hash));
		free(u->hash);
	}
	free(u->location);
	explicit_bzero(u, sizeof(*u));
}

void
pw_alias_clear(struct pw_alias *a)
{
	size_t	i;

	free(a->alias);
	for (i = 0; i < a->ntargets; i++)
		free(a->targets[i]);
	free(a->targets);
	free(a->joined);
	memset(a, 0, sizeof(*a));
}

void
pw_db_free(struct pw_db *db)
{
	size_t	i;

	if (db == NULL)
		return;
	for (i = 0; i < db->nusers; i++)
		pw_user_clear(&db->users[i]);
	for (i = 0; i < db->naliases; i++)
		pw_alias_clear(&db->aliases[i]);
	free(db->users);
	free(db->by_addr);
	free(db->aliases);
	free(db->by_alias);
	free(db);
}

void
pw_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* local@domain: printable ASCII or UTF-8, no spaces, ':' or ',', exactly
 * one '@', both sides non-empty (the local part may be empty for a
 * catch-all "@domain"), within KURIR_ADDR_MAX. */
int
pw_valid_address(const char *s, int catchall)
{
	const char	*at, *p;

	if (strlen(s) > KURIR_ADDR_MAX || (at = strchr(s, '@')) == NULL ||
	    strchr(at + 1, '@') != NULL)
		return 0;
	if ((at == s && !catchall) || at[1] == '\0' || at - s > 64)
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == ':' ||
		    *p == ',' || *p == '#')
			return 0;
	return 1;
}

static int
parse_u64(const char *s, uint64_t *v_r)
{
	char			*end;
	unsigned long long	 v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1024ULL;
		break;
	case 'm': case 'M':
		mul = 1024ULL * 1024;
		break;
	case 'g': case 'G':
		mul = 1024ULL * 1024 * 1024;
		break;
	case 't': case 'T':
		mul = 1024ULL * 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*v_r = v * mul;
	return 0;
}

int
pw_parse_attrs(char *attrs, struct pw_user *u, const char **why_r)
{
	char	*tok, *save = NULL, *eq;

	for (tok = strtok_r(attrs, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (strcmp(tok, "disabled") == 0) {
			u->disabled = 1;
			continue;
		}
		if ((eq = strchr(tok, '=')) == NULL) {
			*why_r = "unknown attribute (want quota_bytes=, "
			    "quota_messages=, location=, scram=, disabled)";
			return -1;
		}
		*eq++ = '\0';
		if (strcmp(tok, "quota_bytes") == 0) {
			if (parse_u64(eq, &u->quota_bytes) == -1) {
				*why_r = "bad quota_bytes";
				return -1;
			}
			u->quota_set |= PW_QUOTA_BYTES;
		} else if (strcmp(tok, "quota_messages") == 0) {
			if (parse_u64(eq, &u->quota_messages) == -1) {
				*why_r = "bad quota_messages";
				return -1;
			}
			u->quota_set |= PW_QUOTA_MESSAGES;
		} else if (strcmp(tok, "location") == 0) {
			if (*eq == '\0' || strlen(eq) >= 1024) {
				*why_r = "bad location";
				return -1;
			}
			free(u->location);
			if ((u->location = strdup(eq)) == NULL) {
				*why_r = "out of memory";
				return -1;
			}
		} else if (strcmp(tok, "scram") == 0) {
			if (pw_parse_scram(eq, &u->scram) == -1) {
				*why_r = "bad scram= keys (want "
				    "ITER,SALT,STOREDKEY,SERVERKEY)";
				return -1;
			}
			u->has_scram = 1;
		} else {
			*why_r = "unknown attribute (want quota_bytes=, "
			    "quota_messages=, location=, scram=, disabled)";
			return -1;
		}
	}
	return 0;
}

int
pw_parse_user_line(char *line, struct pw_user *u, const char **why_r)
{
	char	*c1, *c2, *attrs = NULL;

	memset(u, 0, sizeof(*u));
	if ((c1 = strchr(line, ':')) == NULL) {
		*why_r = "missing ':' (want user@domain:{SCHEME}hash[:attrs])";
		return -1;
	}
	*c1 = '\0';
	if ((c2 = strchr(c1 + 1, ':')) != NULL) {
		*c2 = '\0';
		attrs = c2 + 1;
	}
	if (!pw_valid_address(line, 0)) {
		*why_r = "bad address (want user@domain)";
		return -1;
	}
	if ((u->address = strdup(line)) == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	pw_lower(u->address);
	if (pw_parse_hash(c1 + 1, u, why_r) == -1)
		goto fail;
	if (attrs != NULL && pw_parse_attrs(attrs, u, why_r) == -1)
		goto fail;
	return 0;
fail:
	pw_user_clear(u);
	return -1;
}

static int
add_target(struct pw_alias *a, const char *t, size_t len)
{
	char	**tmp, *s;
	size_t	  i;

	if ((s = strndup(t, len)) == NULL)
		return -1;
	pw_lower(s);
	for (i = 0; i < a->ntargets; i++)
		if (strcmp(a->targets[i], s) == 0) {
			free(s);	/* listed twice: once is enough */
			return 0;
		}
	if ((tmp = reallocarray(a->targets, a->ntargets + 1,
	    sizeof(*tmp))) == NULL) {
		free(s);
		return -1;
	}
	a->targets = tmp;
	a->targets[a->ntargets++] = s;
	return 0;
}

int
pw_parse_alias_line(char *line, struct pw_alias *a, const char **why_r)
{
	char	*colon, *p, word[KURIR_ADDR_MAX + 2];
	size_t	 len, total = 0, i;

	memset(a, 0, sizeof(*a));
	if ((colon = strchr(line, ':')) == NULL) {
		*why_r = "missing ':' (want alias@domain: target, ...)";
		return -1;
	}
	*colon = '\0';
	if (!pw_valid_address(line, 1)) {
		*why_r = "bad alias (want alias@domain or @domain)";
		return -1;
	}
	if ((a->alias = strdup(line)) == NULL)
		goto nomem;
	pw_lower(a->alias);
	for (p = colon + 1;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t,");
		if (len > KURIR_ADDR_MAX) {
			*why_r = "target address too long";
			goto fail;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		if (!pw_valid_address(word, 0)) {
			*why_r = "bad target (want user@domain)";
			goto fail;
		}
		if (add_target(a, p, len) == -1)
			goto nomem;
		p += len;
	}
	if (a->ntargets == 0) {
		*why_r = "alias without targets";
		goto fail;
	}
	for (i = 0; i < a->ntargets; i++)
		total += strlen(a->targets[i]) + 2;
	if ((a->joined = malloc(total + 1)) == NULL)
		goto nomem;
	a->joined[0] = '\0';
	for (i = 0; i < a->ntargets; i++) {
		if (i > 0)
			strcat(a->joined, ", ");
		strcat(a->joined, a->targets[i]);
	}
	return 0;
nomem:
	*why_r = "out of memory";
fail:
	pw_alias_clear(a);
	return -1;
}

/* Read one line into buf; 1 = a line, 0 = EOF, -1 = too long (the rest
 * of it is consumed). */
static int
read_line(FILE *fp, char *buf, size_t cap)
{
	size_t	len;
	int	c;

	if (fgets(buf, (int)cap, fp) == NULL)
		return 0;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		return 1;
	}
	if (feof(fp))
		return 1;	/* last line without a newline */
	while ((c = fgetc(fp)) != EOF && c != '\n')
		;
	return -1;
}

/* Skip leading and trailing blanks; NULL for a blank or comment line. */
static char *
trim(char *s)
{
	char	*e;

	s += strspn(s, " \t");
	if (*s == '\0' || *s == '#')
		return NULL;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static void
report(pw_err_fn *err, void *arg, const char *file, unsigned line,
    const char *msg)
{
	if (err != NULL)
		err(arg, file, line, msg);
}

unsigned
pw_db_read_users(struct pw_db *db, FILE *fp, const char *file,
    pw_err_fn *err, void *arg)
{
	char		*buf, *s;
	struct pw_user	 u, *tmp;
	const char	*why;
	unsigned	 lineno = 0, bad = 0;
	size_t		 cap = 0;
	int		 r;

	if ((buf = malloc(PW_LINE_MAX)) == NULL)
		return 1;
	cap = db->nusers;
	while ((r = read_line(fp, buf, PW_LINE_MAX)) != 0) {
		lineno++;
		if (r == -1) {
			report(err, arg, file, lineno, "line too long");
			bad++;
			continue;
		}
		if ((s = trim(buf)) == NULL)
			continue;
		if (pw_parse_user_line(s, &u, &why) == -1) {
			report(err, arg, file, lineno, why);
			bad++;
			continue;
		}
		u.line = lineno;
		if (db->nusers == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((tmp = reallocarray(db->users, cap,
			    sizeof(*tmp))) == NULL) {
				pw_user_clear(&u);
				bad++;
				break;
			}
			db->users = tmp;
		}
		db->users[db->nusers++] = u;
	}
	explicit_bzero(buf, PW_LINE_MAX);
	free(buf);
	return bad;
}

unsigned
pw_db_read_aliases(struct pw_db *db, FILE *fp, const char *file,
    pw_err_fn *err, void *arg)
{
	char		*buf, *s;
	struct pw_alias	 a, *tmp;
	const char	*why;
	unsigned	 lineno = 0, bad = 0;
	size_t		 cap;
	int		 r;

	if ((buf = malloc(PW_LINE_MAX)) == NULL)
		return 1;
	cap = db->naliases;
	while ((r = read_line(fp, buf, PW_LINE_MAX)) != 0) {
		lineno++;
		if (r == -1) {
			report(err, arg, file, lineno, "line too long");
			bad++;
			continue;
		}
		if ((s = trim(buf)) == NULL)
			continue;
		if (pw_parse_alias_line(s, &a, &why) == -1) {
			report(err, arg, file, lineno, why);
			bad++;
			continue;
		}
		a.line = lineno;
		if (db->naliases == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((tmp = reallocarray(db->aliases, cap,
			    sizeof(*tmp))) == NULL) {
				pw_alias_clear(&a);
				bad++;
				break;
			}
			db->aliases = tmp;
		}
		db->aliases[db->naliases++] = a;
	}
	free(buf);
	return bad;
}

static int
cmp_user(const void *a, const void *b)
{
	const struct pw_user	*const *x = a, *const *y = b;

	return strcmp((*x)->address, (*y)->address);
}

/* Sorting order: by name, then by line so the first line comes first. */
static int
cmp_user_line(const void *a, const void *b)
{
	const struct pw_user	*const *x = a, *const *y = b;
	int			 c = cmp_user(a, b);

	if (c != 0)
		return c;
	return (*x)->line < (*y)->line ? -1 : (*x)->line > (*y)->line;
}

static int
cmp_alias(const void *a, const void *b)
{
	const struct pw_alias	*const *x = a, *const *y = b;

	return strcmp((*x)->alias, (*y)->alias);
}

static int
cmp_alias_line(const void *a, const void *b)
{
	const struct pw_alias	*const *x = a, *const *y = b;
	int			 c = cmp_alias(a, b);

	if (c != 0)
		return c;
	return (*x)->line < (*y)->line ? -1 : (*x)->line > (*y)->line;
}

unsigned
pw_db_index(struct pw_db *db, const char *ufile, const char *afile,
    pw_err_fn *err, void *arg)
{
	size_t		i, n;
	unsigned	bad = 0;

	free(db->by_addr);
	free(db->by_alias);
	db->by_addr = NULL;
	db->by_alias = NULL;
	if (db->nusers > 0) {
		if ((db->by_addr = calloc(db->nusers,
		    sizeof(*db->by_addr))) == NULL)
			return 1;
		for (i = 0; i < db->nusers; i++)
			db->by_addr[i] = &db->users[i];
		qsort(db->by_addr, db->nusers, sizeof(*db->by_addr),
		    cmp_user_line);
		/* drop later duplicates from the index */
		for (i = n = 0; i < db->nusers; i++) {
			if (n > 0 && cmp_user(&db->by_addr[n - 1],
			    &db->by_addr[i]) == 0) {
				db->by_addr[i]->dup = 1;
				report(err, arg, ufile, db->by_addr[i]->line,
				    "duplicate user (the first line wins)");
				bad++;
				continue;
			}
			db->by_addr[n++] = db->by_addr[i];
		}
		db->nindexed = n;
	}
	if (db->naliases > 0) {
		if ((db->by_alias = calloc(db->naliases,
		    sizeof(*db->by_alias))) == NULL)
			return bad + 1;
		for (i = 0; i < db->naliases; i++)
			db->by_alias[i] = &db->aliases[i];
		qsort(db->by_alias, db->naliases, sizeof(*db->by_alias),
		    cmp_alias_line);
		for (i = n = 0; i < db->naliases; i++) {
			if (n > 0 && cmp_alias(&db->by_alias[n - 1],
			    &db->by_alias[i]) == 0) {
				db->by_alias[i]->dup = 1;
				report(err, arg, afile, db->by_alias[i]->line,
				    "duplicate alias (the first line wins)");
				bad++;
				continue;
			}
			db->by_alias[n++] = db->by_alias[i];
		}
		db->naindexed = n;
	}
	return bad;
}

const struct pw_user *
pw_db_user(const struct pw_db *db, const char *addr)
{
	struct pw_user	 key, *kp = &key, **hit;
	char		 buf[KURIR_ADDR_MAX + 1];

	if (db == NULL || db->by_addr == NULL || strlen(addr) >= sizeof(buf))
		return NULL;
	strcpy(buf, addr);
	pw_lower(buf);
	key.address = buf;
	hit = bsearch(&kp, db->by_addr, db->nindexed, sizeof(*db->by_addr),
	    cmp_user);
	return hit != NULL ? *hit : NULL;
}

const struct pw_alias *
pw_db_alias(const struct pw_db *db, const char *a)
{
	struct pw_alias	 key, *kp = &key, **hit;
	char		 buf[KURIR_ADDR_MAX + 1];

	if (db == NULL || db->by_alias == NULL || strlen(a) >= sizeof(buf))
		return NULL;
	strcpy(buf, a);
	pw_lower(buf);
	key.alias = buf;
	hit = bsearch(&kp, db->by_alias, db->naindexed, sizeof(*db->by_alias),
	    cmp_alias);
	return hit != NULL ? *hit : NULL;
}
