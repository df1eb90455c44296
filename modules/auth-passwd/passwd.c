/*
 * passwd.c -- the "passwd" auth module: users from a passwd file and
 * aliases from an aliases file (formats in passwd.h), both under
 * state_dir by default.  The files are parsed into an immutable table
 * that is swapped under a read-write lock whenever either file changes
 * (inode, size or mtime), so every op is thread-safe and edits made by
 * kurirctl show up without a restart.  kurirctl's edits go through
 * passwd_write.c (atomic replace under a lock file).
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include <kurir/api.h>
#include <kurir/auth.h>
#include <kurir/module.h>

#include "passwd.h"

#define PW_PATH_MAX	4096
#define PW_PASS_MAX	1024	/* longest password we hash */

struct fstamp {
	int		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtim;
};

static const struct kurir_core_api	*api;
static struct kurir_module		*self;
static pthread_rwlock_t			 db_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t			 reload_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct pw_db			*db;
static struct fstamp			 ustamp, astamp;
static char				 upath[PW_PATH_MAX];
static char				 apath[PW_PATH_MAX];
static int				 def_scheme = PW_SCHEME_YESCRYPT;
static unsigned long			 crypt_cost;
static int				 store_scram = 1;
static uint32_t				 scram_iter = 4096;
static uint64_t				 def_quota_bytes;
static uint64_t				 def_quota_messages;

static const struct kurir_conf_key passwd_keys[] = {
	{ "passwd_file", KURIR_CONF_STRING, "", NULL,
	    "passwd file (user@domain:{SCHEME}hash:attrs); "
	    "empty: STATE_DIR/passwd" },
	{ "aliases_file", KURIR_CONF_STRING, "", NULL,
	    "aliases file (alias@domain: target, ...); "
	    "empty: STATE_DIR/aliases" },
	{ "passwd_scheme", KURIR_CONF_ENUM, "yescrypt",
	    "yescrypt|sha512-crypt|blf-crypt|scram-sha-256",
	    "hash scheme kurirctl uses for new passwords" },
	{ "passwd_crypt_cost", KURIR_CONF_INT, "0", NULL,
	    "crypt cost for new hashes (yescrypt 1-11, bcrypt 4-31, "
	    "sha512 rounds); 0: libxcrypt's default" },
	{ "passwd_scram", KURIR_CONF_BOOL, "yes", NULL,
	    "store SCRAM-SHA-256 keys next to new crypt hashes so "
	    "SCRAM-SHA-256 logins work" },
	{ "passwd_scram_iterations", KURIR_CONF_INT, "4096", NULL,
	    "PBKDF2 iterations for new SCRAM-SHA-256 keys (RFC 7677: "
	    "at least 4096)" },
	{ "default_quota_bytes", KURIR_CONF_SIZE, "0", NULL,
	    "mailbox quota in bytes of a user whose passwd line sets no "
	    "quota_bytes; 0: none" },
	{ "default_quota_messages", KURIR_CONF_INT, "0", NULL,
	    "message count quota of a user whose passwd line sets no "
	    "quota_messages; 0: none" },
	{ NULL, 0, NULL, NULL, NULL }
};

/* ---- loading -------------------------------------------------------- */

static void
log_bad_line(void *arg, const char *file, unsigned line, const char *msg)
{
	if (api != NULL)
		api->log(self, KURIR_LOG_WARNING, "%s:%u: %s; line skipped",
		    file, line, msg);
}

static int
stamp_same(const struct fstamp *a, const struct stat *st, int exists)
{
	if (!exists)
		return !a->exists;
	return a->exists && a->dev == st->st_dev && a->ino == st->st_ino &&
	    a->size == st->st_size &&
	    a->mtim.tv_sec == st->st_mtim.tv_sec &&
	    a->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static void
stamp_set(struct fstamp *a, const struct stat *st, int exists)
{
	memset(a, 0, sizeof(*a));
	if (!exists)
		return;
	a->exists = 1;
	a->dev = st->st_dev;
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->mtim = st->st_mtim;
}

/* Open path and stat it; *exists_r = 0 when it is missing (an empty
 * table, not an error: a fresh server has no users yet). */
static FILE *
open_stat(const char *path, struct stat *st, int *exists_r)
{
	FILE	*fp;

	*exists_r = 0;
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno != ENOENT && api != NULL)
			api->log(self, KURIR_LOG_ERR, "%s: %s", path,
			    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), st) == -1) {
		fclose(fp);
		return NULL;
	}
	*exists_r = 1;
	return fp;
}

/* Reload when either file changed since the last load. */
static void
refresh(void)
{
	struct stat	 ust, ast, nst_u, nst_a;
	struct pw_db	*ndb, *old;
	FILE		*fp;
	int		 ue, ae, nue, nae;

	ue = stat(upath, &ust) == 0;
	ae = stat(apath, &ast) == 0;
	pthread_mutex_lock(&reload_mtx);
	if (db != NULL && stamp_same(&ustamp, &ust, ue) &&
	    stamp_same(&astamp, &ast, ae)) {
		pthread_mutex_unlock(&reload_mtx);
		return;
	}
	if ((ndb = pw_db_new()) == NULL)
		goto out;
	memset(&nst_u, 0, sizeof(nst_u));
	memset(&nst_a, 0, sizeof(nst_a));
	if ((fp = open_stat(upath, &nst_u, &nue)) != NULL) {
		pw_db_read_users(ndb, fp, upath, log_bad_line, NULL);
		fclose(fp);
	}
	if ((fp = open_stat(apath, &nst_a, &nae)) != NULL) {
		pw_db_read_aliases(ndb, fp, apath, log_bad_line, NULL);
		fclose(fp);
	}
	pw_db_index(ndb, upath, apath, log_bad_line, NULL);
	pthread_rwlock_wrlock(&db_lock);
	old = db;
	db = ndb;
	pthread_rwlock_unlock(&db_lock);
	pw_db_free(old);
	stamp_set(&ustamp, &nst_u, nue);
	stamp_set(&astamp, &nst_a, nae);
	if (api != NULL)
		api->log(self, KURIR_LOG_DEBUG, "loaded %zu users from %s, "
		    "%zu aliases from %s", ndb->nindexed, upath,
		    ndb->naindexed, apath);
out:
	pthread_mutex_unlock(&reload_mtx);
}

/* ---- lookups (any thread) ---------------------------------------------- */

static int
norm_address(const char *in, char *out, size_t outlen)
{
	if (in == NULL || strlen(in) >= outlen)
		return -1;
	strcpy(out, in);
	pw_lower(out);
	return 0;
}

static int
passwd_lookup(const char *address, struct kurir_auth_user *u_r)
{
	const struct pw_user	*u;
	char			 a[KURIR_ADDR_MAX + 1];
	int			 rc = KURIR_E_NOTFOUND;

	if (norm_address(address, a, sizeof(a)) == -1)
		return KURIR_E_NOTFOUND;
	refresh();
	pthread_rwlock_rdlock(&db_lock);
	if ((u = pw_db_user(db, a)) != NULL) {
		u_r->enabled = !u->disabled;
		snprintf(u_r->address, sizeof(u_r->address), "%s",
		    u->address);
		/* A quota the line does not give is the configured
		 * default; quota_bytes=0 on the line means "none". */
		u_r->quota_bytes = (u->quota_set & PW_QUOTA_BYTES) ?
		    u->quota_bytes : def_quota_bytes;
		u_r->quota_messages = (u->quota_set & PW_QUOTA_MESSAGES) ?
		    u->quota_messages : def_quota_messages;
		snprintf(u_r->location, sizeof(u_r->location), "%s",
		    u->location != NULL ? u->location : "");
		rc = KURIR_OK;
	}
	pthread_rwlock_unlock(&db_lock);
	return rc;
}

static int
passwd_verify(const char *address, const char *password, size_t len)
{
	const struct pw_user	*u;
	struct pw_user		 copy;
	char			 a[KURIR_ADDR_MAX + 1], *pw;
	int			 found = 0, rc;

	if (len > PW_PASS_MAX)
		len = PW_PASS_MAX;	/* same work, and fails below */
	if ((pw = malloc(len + 1)) == NULL)
		return KURIR_E_TEMPFAIL;
	memcpy(pw, password, len);
	pw[len] = '\0';
	memset(&copy, 0, sizeof(copy));
	if (norm_address(address, a, sizeof(a)) == 0) {
		refresh();
		pthread_rwlock_rdlock(&db_lock);
		/* copy what we need: crypt runs without the lock held */
		if ((u = pw_db_user(db, a)) != NULL) {
			copy = *u;
			copy.address = NULL;
			copy.location = NULL;
			copy.hash = u->hash != NULL ? strdup(u->hash) : NULL;
			found = u->hash == NULL || copy.hash != NULL;
		}
		pthread_rwlock_unlock(&db_lock);
	}
	rc = pw_verify(found ? &copy : NULL, pw, len);
	pw_user_clear(&copy);
	explicit_bzero(pw, len);
	free(pw);
	return rc;
}

static int
passwd_scram_keys(const char *address, const char *mech,
    struct kurir_scram_keys *k_r)
{
	const struct pw_user	*u;
	char			 a[KURIR_ADDR_MAX + 1];
	uint32_t		 size;
	int			 rc = KURIR_E_NOTFOUND;

	if (strcasecmp(mech, "SCRAM-SHA-256") != 0)
		return KURIR_E_UNSUPPORTED;
	if (k_r->size < sizeof(*k_r))
		return KURIR_E_INVALID;
	if (norm_address(address, a, sizeof(a)) == -1)
		return KURIR_E_NOTFOUND;
	refresh();
	pthread_rwlock_rdlock(&db_lock);
	if ((u = pw_db_user(db, a)) != NULL && u->has_scram &&
	    !u->disabled) {
		size = k_r->size;
		*k_r = u->scram;
		k_r->size = size;
		rc = KURIR_OK;
	}
	pthread_rwlock_unlock(&db_lock);
	return rc;
}

/* A private copy of a list of strings, taken under the lock, so the
 * callbacks run without it (they may call back into us). */
struct strlist {
	char	**v;
	size_t	  n;
};

static int
strlist_add(struct strlist *l, const char *s)
{
	char	**tmp;

	if ((tmp = reallocarray(l->v, l->n + 1, sizeof(*tmp))) == NULL)
		return -1;
	l->v = tmp;
	if ((l->v[l->n] = strdup(s)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static void
strlist_free(struct strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
passwd_alias_lookup(const char *address, kurir_alias_cb *cb, void *arg)
{
	const struct pw_alias	*al;
	struct strlist		 l = { NULL, 0 };
	char			 a[KURIR_ADDR_MAX + 1];
	size_t			 i;
	int			 rc = KURIR_E_NOTFOUND;

	if (norm_address(address, a, sizeof(a)) == -1)
		return KURIR_E_NOTFOUND;
	refresh();
	pthread_rwlock_rdlock(&db_lock);
	if ((al = pw_db_alias(db, a)) != NULL) {
		rc = KURIR_OK;
		for (i = 0; i < al->ntargets; i++)
			if (strlist_add(&l, al->targets[i]) == -1) {
				rc = KURIR_E_TEMPFAIL;
				break;
			}
	}
	pthread_rwlock_unlock(&db_lock);
	for (i = 0; rc == KURIR_OK && i < l.n; i++)
		if (cb(arg, l.v[i]) != 0)
			break;
	strlist_free(&l);
	return rc;
}

static int
passwd_user_list(kurir_alias_cb *cb, void *arg)
{
	struct strlist	l = { NULL, 0 };
	size_t		i;
	int		rc = KURIR_OK;

	refresh();
	pthread_rwlock_rdlock(&db_lock);
	for (i = 0; db != NULL && i < db->nusers; i++)
		if (!db->users[i].dup &&
		    strlist_add(&l, db->users[i].address) == -1) {
			rc = KURIR_E_NOMEM;
			break;
		}
	pthread_rwlock_unlock(&db_lock);
	for (i = 0; rc == KURIR_OK && i < l.n; i++)
		if (cb(arg, l.v[i]) != 0)
			break;
	strlist_free(&l);
	return rc;
}

static int
passwd_alias_list(kurir_alias_list_cb *cb, void *arg)
{
	struct strlist	l = { NULL, 0 };
	size_t		i;
	int		rc = KURIR_OK;

	refresh();
	pthread_rwlock_rdlock(&db_lock);
	for (i = 0; db != NULL && i < db->naliases; i++)
		if (!db->aliases[i].dup &&
		    (strlist_add(&l, db->aliases[i].alias) == -1 ||
		    strlist_add(&l, db->aliases[i].joined) == -1)) {
			rc = KURIR_E_NOMEM;
			break;
		}
	pthread_rwlock_unlock(&db_lock);
	for (i = 0; rc == KURIR_OK && i + 1 < l.n; i += 2)
		if (cb(arg, l.v[i], l.v[i + 1]) != 0)
			break;
	strlist_free(&l);
	return rc;
}

/* ---- administration (kurirctl) --------------------------------------- */

static int
passwd_pw_hash(const char *scheme, const char *password, size_t len,
    char *out, size_t outlen)
{
	int	id = def_scheme;

	if (scheme != NULL && (id = pw_scheme_id(scheme)) == -1)
		return KURIR_E_INVALID;
	if (len > PW_PASS_MAX)
		return KURIR_E_TOOBIG;
	return pw_hash_make(id, password, len, crypt_cost, scram_iter, out,
	    outlen);
}

/* The address field of a raw line, lower-cased, or "" for comments,
 * blank and unparseable lines. */
static void
line_key(const char *line, char *key, size_t keylen)
{
	size_t	len;

	key[0] = '\0';
	line += strspn(line, " \t");
	if (*line == '#' || *line == '\0')
		return;
	len = strcspn(line, ":");
	if (line[len] != ':' || len >= keylen)
		return;
	memcpy(key, line, len);
	key[len] = '\0';
	while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t'))
		key[--len] = '\0';
	pw_lower(key);
}

struct user_edit {
	const char	*address;	/* lower-cased */
	const char	*pwfield;	/* new "{SCHEME}hash" or NULL */
	const char	*scram;		/* new "scram=..." or NULL */
	const char	*extra;		/* new attrs or NULL */
	uint32_t	 flags;
	int		 del;
	int		 found;
	int		 rc;
};

/* Rebuild one user line from the old one and the requested changes. */
static const char *
user_line(struct user_edit *e, const char *old, char *buf, size_t buflen)
{
	char		 copy[PW_LINE_MAX], *pw = NULL, *attrs = NULL;
	char		 keep[PW_LINE_MAX], *tok, *save = NULL;
	const char	*oldscram = NULL;
	int		 n;

	keep[0] = '\0';
	if (old != NULL) {
		snprintf(copy, sizeof(copy), "%s", old);
		if ((pw = strchr(copy, ':')) != NULL) {
			*pw++ = '\0';
			if ((attrs = strchr(pw, ':')) != NULL)
				*attrs++ = '\0';
		}
		for (tok = attrs != NULL ? strtok_r(attrs, " \t", &save) :
		    NULL; tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
			if (strncmp(tok, "scram=", 6) == 0) {
				oldscram = tok;
				continue;
			}
			if (e->extra != NULL)
				continue;
			if (keep[0] != '\0')
				strcat(keep, " ");
			strcat(keep, tok);
		}
	}
	if (e->extra != NULL)
		snprintf(keep, sizeof(keep), "%s", e->extra);
	if (e->pwfield != NULL)
		oldscram = e->scram;	/* new password: new keys (or none) */
	n = snprintf(buf, buflen, "%s:%s%s%s%s%s", e->address,
	    e->pwfield != NULL ? e->pwfield : pw != NULL ? pw : "",
	    oldscram != NULL || keep[0] != '\0' ? ":" : "",
	    oldscram != NULL ? oldscram : "",
	    oldscram != NULL && keep[0] != '\0' ? " " : "", keep);
	if (n < 0 || (size_t)n >= buflen) {
		e->rc = KURIR_E_TOOBIG;
		return pw_edit_abort;
	}
	return buf;
}

static const char *
user_edit_cb(void *arg, const char *line, char *buf, size_t buflen)
{
	struct user_edit	*e = arg;
	char			 key[KURIR_ADDR_MAX + 1];

	if (line == NULL) {
		if (e->found || e->del) {
			if (!e->found) {
				e->rc = KURIR_E_NOTFOUND;
				return pw_edit_abort;
			}
			return NULL;
		}
		if (e->flags & KURIR_AUTH_UPDATE) {
			e->rc = KURIR_E_NOTFOUND;
			return pw_edit_abort;
		}
		if (e->pwfield == NULL) {
			e->rc = KURIR_E_INVALID;
			return pw_edit_abort;
		}
		e->found = 1;
		return user_line(e, NULL, buf, buflen);
	}
	line_key(line, key, sizeof(key));
	if (strcmp(key, e->address) != 0)
		return NULL;
	if (e->found || e->del) {
		e->found = 1;
		return "";	/* deleted, or a stale duplicate */
	}
	if (e->flags & KURIR_AUTH_CREATE) {
		e->rc = KURIR_E_EXISTS;
		return pw_edit_abort;
	}
	e->found = 1;
	return user_line(e, line, buf, buflen);
}

static int
file_edit(const char *path, pw_edit_fn *fn, void *arg, int *rc_r)
{
	char	err[512];
	int	rc;

	rc = pw_file_edit(path, fn, arg, err, sizeof(err));
	if (rc == 1)
		return *rc_r;
	if (rc != KURIR_OK) {
		api->log(self, KURIR_LOG_ERR, "%s", err);
		return rc;
	}
	return *rc_r;
}

static int
passwd_user_set(const char *address, const char *password, size_t len,
    const char *extra, uint32_t flags)
{
	struct user_edit	 e;
	struct pw_user		 probe;
	struct kurir_scram_keys	 k;
	char			 a[KURIR_ADDR_MAX + 1], field[PW_HASH_MAX];
	char			 scram[400], keys[300], attrs[PW_LINE_MAX];
	const char		*why;
	uint8_t			 salt[16];
	int			 rc;

	if (norm_address(address, a, sizeof(a)) == -1 ||
	    !pw_valid_address(a, 0))
		return KURIR_E_INVALID;
	memset(&e, 0, sizeof(e));
	e.address = a;
	e.flags = flags;
	if (extra != NULL) {
		/* check the attributes parse, scram= is ours to write */
		if (strlen(extra) >= sizeof(attrs) ||
		    strstr(extra, "scram=") != NULL ||
		    strchr(extra, ':') != NULL || strchr(extra, '\n') != NULL)
			return KURIR_E_INVALID;
		strcpy(attrs, extra);
		memset(&probe, 0, sizeof(probe));
		rc = pw_parse_attrs(attrs, &probe, &why);
		pw_user_clear(&probe);
		if (rc == -1)
			return KURIR_E_INVALID;
		e.extra = extra;
	}
	if (password != NULL) {
		if ((rc = passwd_pw_hash(NULL, password, len, field,
		    sizeof(field))) != KURIR_OK)
			return rc;
		e.pwfield = field;
		if (store_scram && def_scheme != PW_SCHEME_SCRAM) {
			if (RAND_bytes(salt, sizeof(salt)) != 1 ||
			    pw_scram_derive(password, len, salt,
			    sizeof(salt), scram_iter, &k) == -1 ||
			    pw_format_scram(&k, keys, sizeof(keys)) == -1)
				return KURIR_E_TEMPFAIL;
			snprintf(scram, sizeof(scram), "scram=%s", keys);
			e.scram = scram;
		}
	}
	e.rc = KURIR_OK;
	rc = file_edit(upath, user_edit_cb, &e, &e.rc);
	explicit_bzero(field, sizeof(field));
	return rc;
}

static int
passwd_user_del(const char *address)
{
	struct user_edit	e;
	char			a[KURIR_ADDR_MAX + 1];

	if (norm_address(address, a, sizeof(a)) == -1)
		return KURIR_E_INVALID;
	memset(&e, 0, sizeof(e));
	e.address = a;
	e.del = 1;
	e.rc = KURIR_OK;
	return file_edit(upath, user_edit_cb, &e, &e.rc);
}

struct alias_edit {
	const char	*alias;
	const char	*line;		/* new line, or NULL to delete */
	int		 found;
	int		 rc;
};

static const char *
alias_edit_cb(void *arg, const char *line, char *buf, size_t buflen)
{
	struct alias_edit	*e = arg;
	char			 key[KURIR_ADDR_MAX + 1];

	if (line == NULL) {
		if (e->found)
			return NULL;
		if (e->line == NULL) {
			e->rc = KURIR_E_NOTFOUND;
			return pw_edit_abort;
		}
		return e->line;
	}
	line_key(line, key, sizeof(key));
	if (strcmp(key, e->alias) != 0)
		return NULL;
	if (e->found || e->line == NULL) {
		e->found = 1;
		return "";
	}
	e->found = 1;
	return e->line;
}

static int
passwd_alias_set(const char *alias, const char *targets)
{
	struct alias_edit	 e;
	struct pw_alias		 probe;
	char			 a[KURIR_ADDR_MAX + 1], *line = NULL, *copy;
	const char		*why;
	int			 rc;

	if (norm_address(alias, a, sizeof(a)) == -1 ||
	    !pw_valid_address(a, 1))
		return KURIR_E_INVALID;
	memset(&e, 0, sizeof(e));
	e.alias = a;
	if (targets != NULL && *targets != '\0') {
		if (strlen(targets) > PW_LINE_MAX - KURIR_ADDR_MAX - 4 ||
		    strchr(targets, '\n') != NULL)
			return KURIR_E_TOOBIG;
		if (asprintf(&copy, "%s: %s", a, targets) == -1)
			return KURIR_E_NOMEM;
		rc = pw_parse_alias_line(copy, &probe, &why);
		free(copy);
		if (rc == -1)
			return KURIR_E_INVALID;
		if (asprintf(&line, "%s: %s", probe.alias, probe.joined) ==
		    -1) {
			pw_alias_clear(&probe);
			return KURIR_E_NOMEM;
		}
		pw_alias_clear(&probe);
		e.line = line;
	}
	e.rc = KURIR_OK;
	rc = file_edit(apath, alias_edit_cb, &e, &e.rc);
	free(line);
	return rc;
}

/* ---- module ------------------------------------------------------------ */

/* The module's keys, read as a whole so a bad value changes nothing. */
struct pw_settings {
	char		upath[PW_PATH_MAX];
	char		apath[PW_PATH_MAX];
	int		scheme;
	unsigned long	cost;
	int		scram;
	uint32_t	iter;
	uint64_t	quota_bytes;
	uint64_t	quota_messages;
};

static int
resolve_path(const char *key, const char *base, char *out, size_t outlen)
{
	const char	*v = api->conf_str(key), *sd;
	int		 n;

	if (v != NULL && *v != '\0')
		n = snprintf(out, outlen, "%s", v);
	else {
		sd = api->conf_str("state_dir");
		n = snprintf(out, outlen, "%s/%s", sd != NULL && *sd != '\0' ?
		    sd : ".", base);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
settings_read(struct pw_settings *st, const char **why_r)
{
	const char	*s;
	int64_t		 v;

	memset(st, 0, sizeof(*st));
	if (resolve_path("passwd_file", "passwd", st->upath,
	    sizeof(st->upath)) == -1 || resolve_path("aliases_file",
	    "aliases", st->apath, sizeof(st->apath)) == -1) {
		*why_r = "passwd_file or aliases_file: path too long";
		return KURIR_E_INVALID;
	}
	st->scheme = PW_SCHEME_YESCRYPT;
	if ((s = api->conf_str("passwd_scheme")) != NULL &&
	    (st->scheme = pw_scheme_id(s)) == -1) {
		*why_r = "passwd_scheme: unknown scheme";
		return KURIR_E_INVALID;
	}
	st->cost = (v = api->conf_num("passwd_crypt_cost")) > 0 ?
	    (unsigned long)v : 0;
	st->scram = api->conf_num("passwd_scram") != 0;
	st->iter = 4096;
	if ((v = api->conf_num("passwd_scram_iterations")) > 0) {
		if (v > 10000000) {
			*why_r = "passwd_scram_iterations: too large";
			return KURIR_E_INVALID;
		}
		st->iter = (uint32_t)v;
	}
	st->quota_bytes = (v = api->conf_num("default_quota_bytes")) > 0 ?
	    (uint64_t)v : 0;
	st->quota_messages = (v = api->conf_num("default_quota_messages")) >
	    0 ? (uint64_t)v : 0;
	return KURIR_OK;
}

/* Before any hashing thread runs (init, init_worker). */
static void
settings_apply(const struct pw_settings *st)
{
	pthread_mutex_lock(&reload_mtx);
	if (strcmp(upath, st->upath) != 0 || strcmp(apath, st->apath) != 0) {
		/* other files: load them whatever their stamps say */
		memset(&ustamp, 0, sizeof(ustamp));
		memset(&astamp, 0, sizeof(astamp));
		pthread_rwlock_wrlock(&db_lock);
		pw_db_free(db);
		db = NULL;
		pthread_rwlock_unlock(&db_lock);
		memcpy(upath, st->upath, sizeof(upath));
		memcpy(apath, st->apath, sizeof(apath));
	}
	pthread_mutex_unlock(&reload_mtx);
	def_scheme = st->scheme;
	crypt_cost = st->cost;
	store_scram = st->scram;
	scram_iter = st->iter;
	def_quota_bytes = st->quota_bytes;
	def_quota_messages = st->quota_messages;
	pw_set_dummy_scheme(def_scheme, crypt_cost);
}

static int
passwd_init(struct kurir_module *mod, const struct kurir_core_api *a,
    const char **errstr_r)
{
	struct pw_settings	st;
	int			rc;

	if (!KURIR_HAS(a, rcpt_resolve)) {
		*errstr_r = "core too old for the passwd module";
		return KURIR_E_UNSUPPORTED;
	}
	api = a;
	self = mod;
	if ((rc = settings_read(&st, errstr_r)) != KURIR_OK)
		return rc;
	settings_apply(&st);
	/* Load now so malformed lines are reported at start (and by -t). */
	refresh();
	return KURIR_OK;
}

/*
 * Each worker reads the keys again: a SIGHUP reload forks new workers
 * with the new configuration, but runs no module's init.  A value only
 * this module rejects keeps the previous settings rather than stop the
 * worker (which the master would restart into the same error).
 */
static int
passwd_init_worker(struct kurir_module *mod, const char **errstr_r)
{
	struct pw_settings	 st;
	const char		*why = NULL;

	if (settings_read(&st, &why) != KURIR_OK)
		api->log(self, KURIR_LOG_WARNING, "%s; keeping the previous "
		    "passwd settings", why);
	else
		settings_apply(&st);
	refresh();
	return KURIR_OK;
}

static void
passwd_fini(struct kurir_module *mod)
{
	pthread_mutex_lock(&reload_mtx);
	pthread_rwlock_wrlock(&db_lock);
	pw_db_free(db);
	db = NULL;
	pthread_rwlock_unlock(&db_lock);
	memset(&ustamp, 0, sizeof(ustamp));
	memset(&astamp, 0, sizeof(astamp));
	pthread_mutex_unlock(&reload_mtx);
}

static const struct kurir_auth_ops passwd_ops = {
	.size = sizeof(struct kurir_auth_ops),
	.lookup = passwd_lookup,
	.verify_password = passwd_verify,
	.scram_keys = passwd_scram_keys,
	.alias_lookup = passwd_alias_lookup,
	.pw_hash = passwd_pw_hash,
	.user_set = passwd_user_set,
	.user_del = passwd_user_del,
	.user_list = passwd_user_list,
	.alias_set = passwd_alias_set,
	.alias_list = passwd_alias_list,
};

static const struct kurir_module_desc passwd_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_AUTH,
	.name = "passwd",
	.version = "0.1.0",
	.conf_keys = passwd_keys,
	.init = passwd_init,
	.init_worker = passwd_init_worker,
	.fini = passwd_fini,
	.ops = &passwd_ops,
};

KURIR_MODULE(passwd, passwd_desc)
