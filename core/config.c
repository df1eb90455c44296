/*
 * config.c -- reads "key = value" files and -o overrides, then checks them
 * against the keys the core and the loaded modules declare.  Parsing and
 * checking are separate steps because which keys exist depends on which
 * modules `protocols`, `storage` and `auth` name.
 *
 * Every error names where the bad text came from: "FILE:LINE: message"
 * for the file, "-o KEY: message" for an override.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define CONFIG_LINE_MAX	8192

struct config_entry {
	char		*key;
	char		*value;
	char		*origin;	/* "FILE:LINE" or "-o KEY" */
	int		 used;		/* matched a declared key */
};

struct config_key {
	const struct kurir_conf_key *decl;
	const char	*owner;
	const char	*value;		/* effective: entry value or default */
	const char	*origin;	/* NULL for the default */
	int64_t		 num;
};

struct config {
	struct config_entry	*entries;
	size_t			 nentries;
	struct config_key	*keys;
	size_t			 nkeys;
};

static struct config	*config_cur;

static void
config_err(char *err, size_t errlen, const char *origin, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(err, errlen, "%s: ", origin);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
key_is_valid(const char *k)
{
	if (*k == '\0')
		return 0;
	for (; *k != '\0'; k++)
		if (!islower((unsigned char)*k) && !isdigit((unsigned char)*k) &&
		    *k != '_')
			return 0;
	return 1;
}

static struct config_entry *
entry_find(const struct config *cf, const char *key)
{
	size_t	i;

	for (i = 0; i < cf->nentries; i++)
		if (strcmp(cf->entries[i].key, key) == 0)
			return &cf->entries[i];
	return NULL;
}

/* Adds or replaces key; -o replaces what the file said. */
static int
entry_set(struct config *cf, const char *key, const char *value,
    const char *origin, int replace, char *err, size_t errlen)
{
	struct config_entry	*e, *n;

	if ((e = entry_find(cf, key)) != NULL) {
		if (!replace) {
			config_err(err, errlen, origin,
			    "duplicate key '%s' (first set at %s)", key,
			    e->origin);
			return -1;
		}
		free(e->value);
		free(e->origin);
	} else {
		n = reallocarray(cf->entries, cf->nentries + 1, sizeof(*n));
		if (n == NULL)
			goto nomem;
		cf->entries = n;
		e = &cf->entries[cf->nentries++];
		memset(e, 0, sizeof(*e));
		if ((e->key = strdup(key)) == NULL)
			goto nomem;
	}
	e->value = strdup(value);
	e->origin = strdup(origin);
	if (e->value == NULL || e->origin == NULL)
		goto nomem;
	return 0;
nomem:
	config_err(err, errlen, origin, "out of memory");
	return -1;
}

/* Splits "key = value"; strips one pair of surrounding double quotes. */
static int
split_assignment(char *line, char **key_r, char **value_r)
{
	char	*eq, *v;
	size_t	 vl;

	if ((eq = strchr(line, '=')) == NULL)
		return -1;
	*eq = '\0';
	*key_r = trim(line);
	v = trim(eq + 1);
	vl = strlen(v);
	if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
		v[vl - 1] = '\0';
		v++;
	}
	*value_r = v;
	return 0;
}

static int
config_read_file(struct config *cf, const char *path, char *err,
    size_t errlen)
{
	FILE	*fp;
	char	 line[CONFIG_LINE_MAX], origin[1100];
	char	*key, *value, *s;
	int	 lineno = 0, rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			config_err(err, errlen, origin, "line too long");
			rc = -1;
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (split_assignment(s, &key, &value) == -1) {
			config_err(err, errlen, origin,
			    "expected 'key = value'");
			rc = -1;
			break;
		}
		if (!key_is_valid(key)) {
			config_err(err, errlen, origin, "bad key name '%s'",
			    key);
			rc = -1;
			break;
		}
		if (entry_set(cf, key, value, origin, 0, err, errlen) == -1) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(fp);
	return rc;
}

struct config *
config_parse(const char *path, char *const *overrides, size_t noverrides,
    char *err, size_t errlen)
{
	struct config	*cf;
	char		*copy, *key, *value, origin[300];
	size_t		 i;
	int		 rc;

	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (path != NULL && config_read_file(cf, path, err, errlen) == -1)
		goto fail;
	for (i = 0; i < noverrides; i++) {
		if ((copy = strdup(overrides[i])) == NULL)
			goto fail;
		snprintf(origin, sizeof(origin), "-o %.200s", overrides[i]);
		if (split_assignment(copy, &key, &value) == -1 ||
		    !key_is_valid(key)) {
			config_err(err, errlen, origin,
			    "expected -o KEY=VALUE");
			free(copy);
			goto fail;
		}
		snprintf(origin, sizeof(origin), "-o %.200s", key);
		rc = entry_set(cf, key, value, origin, 1, err, errlen);
		free(copy);
		if (rc == -1)
			goto fail;
	}
	return cf;
fail:
	config_free(cf);
	return NULL;
}

void
config_free(struct config *cf)
{
	size_t	i;

	if (cf == NULL)
		return;
	if (config_cur == cf)
		config_cur = NULL;
	for (i = 0; i < cf->nentries; i++) {
		free(cf->entries[i].key);
		free(cf->entries[i].value);
		free(cf->entries[i].origin);
	}
	free(cf->entries);
	free(cf->keys);
	free(cf);
}

const char *
config_raw(const struct config *cf, const char *key)
{
	const struct config_entry	*e = entry_find(cf, key);

	return e != NULL ? e->value : NULL;
}

static struct config_key *
key_find(const struct config *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nkeys; i++)
		if (strcmp(cf->keys[i].decl->name, name) == 0)
			return &cf->keys[i];
	return NULL;
}

int
config_add_keys(struct config *cf, const struct kurir_conf_key *keys,
    const char *owner)
{
	struct config_key	*n;
	size_t			 count, i;

	for (count = 0; keys[count].name != NULL; count++)
		;
	n = reallocarray(cf->keys, cf->nkeys + count, sizeof(*n));
	if (n == NULL)
		return -1;
	cf->keys = n;
	for (i = 0; i < count; i++) {
		/* A key declared twice (two modules) keeps the first. */
		if (key_find(cf, keys[i].name) != NULL)
			continue;
		memset(&cf->keys[cf->nkeys], 0, sizeof(cf->keys[0]));
		cf->keys[cf->nkeys].decl = &keys[i];
		cf->keys[cf->nkeys].owner = owner;
		cf->nkeys++;
	}
	return 0;
}

static int
parse_uint(const char *s, char **end_r, int64_t *v_r)
{
	uintmax_t	v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoumax(s, end_r, 10);
	if (errno != 0 || v > INT64_MAX)
		return -1;
	*v_r = (int64_t)v;
	return 0;
}

/* Multiplies v by mult unless that overflows. */
static int
scale(int64_t v, int64_t mult, int64_t *v_r)
{
	if (v > INT64_MAX / mult)
		return -1;
	*v_r = v * mult;
	return 0;
}

int
config_parse_size(const char *s, int64_t *v_r)
{
	char	*end;
	int64_t	 v, mult = 1;

	if (parse_uint(s, &end, &v) == -1)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		mult = 1024;
		end++;
		break;
	case 'm':
		mult = 1024 * 1024;
		end++;
		break;
	case 'g':
		mult = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0')
		return -1;
	return scale(v, mult, v_r);
}

int
config_parse_duration(const char *s, int64_t *v_r)
{
	char	*end;
	int64_t	 v, mult = 1;

	if (parse_uint(s, &end, &v) == -1)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return scale(v, mult, v_r);
}

int
config_parse_bool(const char *s, int64_t *v_r)
{
	static const char *const yes[] = { "yes", "on", "true", "1" };
	static const char *const no[] = { "no", "off", "false", "0" };
	size_t	i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = 0;
			return 0;
		}
	}
	return -1;
}

static int
enum_has(const char *choices, const char *word)
{
	size_t		 wl = strlen(word);
	const char	*p = choices, *bar;

	for (;;) {
		bar = strchr(p, '|');
		if ((size_t)(bar != NULL ? bar - p : (ptrdiff_t)strlen(p)) ==
		    wl && strncmp(p, word, wl) == 0)
			return 1;
		if (bar == NULL)
			return 0;
		p = bar + 1;
	}
}

/* Checks a value against its key's type; fills *num_r. */
static int
value_check(const struct kurir_conf_key *k, const char *v, int64_t *num_r,
    const char **why_r)
{
	*num_r = -1;
	switch (k->type) {
	case KURIR_CONF_INT:
		if (parse_uint(v, (char **)&v, num_r) == -1 || *v != '\0') {
			*why_r = "expected a whole number";
			return -1;
		}
		return 0;
	case KURIR_CONF_SIZE:
		*why_r = "expected a size such as 4096, 64k, 50M or 1G";
		return config_parse_size(v, num_r);
	case KURIR_CONF_DURATION:
		*why_r = "expected a duration such as 30s, 5m, 2h or 5d";
		return config_parse_duration(v, num_r);
	case KURIR_CONF_BOOL:
		*why_r = "expected yes or no";
		return config_parse_bool(v, num_r);
	case KURIR_CONF_ENUM:
		*why_r = k->choices;
		return k->choices != NULL && enum_has(k->choices, v) ? 0 : -1;
	default:
		return 0;
	}
}

int
config_validate(struct config *cf, char *err, size_t errlen)
{
	struct config_entry	*e;
	struct config_key	*k;
	const char		*why = NULL;
	size_t			 i;

	for (i = 0; i < cf->nentries; i++) {
		e = &cf->entries[i];
		if ((k = key_find(cf, e->key)) == NULL) {
			config_err(err, errlen, e->origin, "unknown key '%s'",
			    e->key);
			return -1;
		}
		e->used = 1;
	}
	for (i = 0; i < cf->nkeys; i++) {
		k = &cf->keys[i];
		e = entry_find(cf, k->decl->name);
		k->value = e != NULL ? e->value : k->decl->def;
		k->origin = e != NULL ? e->origin : NULL;
		if (k->value == NULL)
			k->value = "";
		if (value_check(k->decl, k->value, &k->num, &why) == -1) {
			if (k->decl->type == KURIR_CONF_ENUM)
				config_err(err, errlen, e != NULL ? e->origin :
				    "default", "%s: bad value '%s' (one of %s)",
				    k->decl->name, k->value, why);
			else
				config_err(err, errlen, e != NULL ? e->origin :
				    "default", "%s: bad value '%s' (%s)",
				    k->decl->name, k->value, why);
			return -1;
		}
	}
	return 0;
}

void
config_print(const struct config *cf, FILE *fp)
{
	const struct config_key	*k;
	size_t			 i;

	for (i = 0; i < cf->nkeys; i++) {
		k = &cf->keys[i];
		if (k->decl->doc != NULL)
			fprintf(fp, "# %s (%s)\n", k->decl->doc, k->owner);
		fprintf(fp, "%s = %s\n", k->decl->name, k->value);
	}
}

void
config_set_current(struct config *cf)
{
	config_cur = cf;
}

struct config *
config_current(void)
{
	return config_cur;
}

const char *
config_origin_in(const struct config *cf, const char *key)
{
	const struct config_key	*k;

	if (cf == NULL || (k = key_find(cf, key)) == NULL)
		return "default";
	return k->origin != NULL ? k->origin : "default";
}

const char *
config_origin(const char *key)
{
	return config_origin_in(config_cur, key);
}

const char *
config_value(const struct config *cf, const char *key)
{
	const struct config_key	*k;

	if (cf == NULL || (k = key_find(cf, key)) == NULL)
		return NULL;
	return k->value;
}

const char *
config_str(const char *key)
{
	const struct config_key	*k;

	if (config_cur == NULL || (k = key_find(config_cur, key)) == NULL)
		return NULL;
	return k->value;
}

int64_t
config_num(const char *key)
{
	const struct config_key	*k;

	if (config_cur == NULL || (k = key_find(config_cur, key)) == NULL)
		return -1;
	return k->num;
}
