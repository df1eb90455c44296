/*
 * ctl_user.c -- kurirctl's user, alias and pw commands:
 *
 *	user add ADDRESS [--quota SIZE] [--quota-messages N]
 *	    [--location PATH] [--disabled]
 *	user passwd ADDRESS
 *	user set ADDRESS [--quota SIZE] [--quota-messages N]
 *	    [--location PATH] [--disabled | --enabled]
 *	user del ADDRESS
 *	user list
 *	user show ADDRESS
 *	alias add ALIAS TARGET...	(adds to the alias's targets)
 *	alias del ALIAS [TARGET...]	(removes those targets, or the alias)
 *	alias list
 *	pw hash [--scheme S]
 *
 * Passwords come from standard input (one line) when it is not a
 * terminal, else from a prompt without echo.  The auth module does the
 * work; its files change atomically and the server picks them up.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "address.h"
#include "config.h"
#include "ctl.h"
#include "ctl_user.h"
#include "module.h"

static uint64_t	default_quota(const char *);

#define CTL_PASS_MAX	1024
#define CTL_HASH_MAX	1024
#define CTL_ATTRS_MAX	2048

static const char *
errstr(int rc)
{
	switch (rc) {
	case KURIR_E_NOTFOUND:
		return "no such user or alias";
	case KURIR_E_EXISTS:
		return "already exists";
	case KURIR_E_INVALID:
		return "invalid address, attribute or scheme";
	case KURIR_E_TOOBIG:
		return "too long";
	case KURIR_E_UNSUPPORTED:
		return "not supported by this auth module";
	case KURIR_E_NOMEM:
		return "out of memory";
	default:
		return "failed (see the log above)";
	}
}

static const struct kurir_auth_ops *
auth_ops(const char *what)
{
	const struct kurir_auth_ops	*ops = module_auth_ops();

	if (ops == NULL)
		fprintf(stderr, "kurirctl: %s: no auth module loaded "
		    "(auth = ...)\n", what);
	return ops;
}

/* ---- passwords ---------------------------------------------------------- */

static int
read_line(FILE *fp, char *buf, size_t cap)
{
	size_t	len;

	if (fgets(buf, (int)cap, fp) == NULL)
		return -1;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	else if (!feof(fp))
		return -2;	/* longer than cap */
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return 0;
}

static int
prompt_noecho(const char *prompt, char *buf, size_t cap)
{
	struct termios	old, noecho;
	int		rc;

	if (tcgetattr(STDIN_FILENO, &old) == -1)
		return -1;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == -1)
		return -1;
	/* Prompt only now: what is typed after it is never echoed. */
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	rc = read_line(stdin, buf, cap);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return rc;
}

int
ctl_read_password(const char *prompt, int confirm, char *buf, size_t cap)
{
	char	again[CTL_PASS_MAX + 2];
	int	rc;

	if (!isatty(STDIN_FILENO)) {
		rc = read_line(stdin, buf, cap);
		if (rc == -1) {
			fprintf(stderr, "kurirctl: no password on standard "
			    "input\n");
			return -1;
		}
	} else {
		if ((rc = prompt_noecho(prompt, buf, cap)) == 0 && confirm) {
			rc = prompt_noecho("Retype password: ", again,
			    sizeof(again));
			if (rc == 0 && strcmp(buf, again) != 0) {
				OPENSSL_cleanse(again, sizeof(again));
				fprintf(stderr, "kurirctl: passwords do not "
				    "match\n");
				return -1;
			}
			OPENSSL_cleanse(again, sizeof(again));
		}
		if (rc == -1) {
			fprintf(stderr, "kurirctl: cannot read a password\n");
			return -1;
		}
	}
	if (rc == -2) {
		fprintf(stderr, "kurirctl: password longer than %zu bytes\n",
		    cap - 2);
		return -1;
	}
	if (buf[0] == '\0') {
		fprintf(stderr, "kurirctl: empty password\n");
		return -1;
	}
	return 0;
}

/* ---- user ------------------------------------------------------------- */

struct user_opts {
	char	attrs[CTL_ATTRS_MAX];
	int	any;		/* an attribute option was given */
	int	enable;		/* --enabled */
};

static int
append_attr(struct user_opts *o, const char *name, const char *value)
{
	size_t	len = strlen(o->attrs);
	int	n;

	n = snprintf(o->attrs + len, sizeof(o->attrs) - len, "%s%s%s%s",
	    len > 0 ? " " : "", name, value != NULL ? "=" : "",
	    value != NULL ? value : "");
	if (n < 0 || (size_t)n >= sizeof(o->attrs) - len)
		return -1;
	o->any = 1;
	return 0;
}

/* Options after the address: --quota, --quota-messages, --location,
 * --disabled, --enabled. */
static int
user_options(int argc, char **argv, struct user_opts *o)
{
	int64_t	v;
	char	num[32];
	int	i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--disabled") == 0) {
			if (append_attr(o, "disabled", NULL) == -1)
				return -1;
		} else if (strcmp(argv[i], "--enabled") == 0) {
			o->any = 1;
			o->enable = 1;
		} else if (i + 1 < argc && strcmp(argv[i], "--quota") == 0) {
			if (config_parse_size(argv[++i], &v) == -1) {
				fprintf(stderr, "kurirctl: bad --quota "
				    "\"%s\"\n", argv[i]);
				return -1;
			}
			snprintf(num, sizeof(num), "%" PRId64, v);
			if (append_attr(o, "quota_bytes", num) == -1)
				return -1;
		} else if (i + 1 < argc &&
		    strcmp(argv[i], "--quota-messages") == 0) {
			if (argv[++i][0] < '0' || argv[i][0] > '9' ||
			    strspn(argv[i], "0123456789") != strlen(argv[i])) {
				fprintf(stderr, "kurirctl: bad "
				    "--quota-messages \"%s\"\n", argv[i]);
				return -1;
			}
			if (append_attr(o, "quota_messages", argv[i]) == -1)
				return -1;
		} else if (i + 1 < argc &&
		    strcmp(argv[i], "--location") == 0) {
			if (strpbrk(argv[++i], " \t:\n") != NULL) {
				fprintf(stderr, "kurirctl: --location may not "
				    "contain blanks or ':'\n");
				return -1;
			}
			if (append_attr(o, "location", argv[i]) == -1)
				return -1;
		} else {
			fprintf(stderr, "kurirctl: unknown option \"%s\"\n",
			    argv[i]);
			return -1;
		}
	}
	return 0;
}

static int
user_add(const struct kurir_auth_ops *ops, int argc, char **argv)
{
	struct user_opts	 o;
	char			 pw[CTL_PASS_MAX + 2];
	const char		*at;
	int			 rc;

	if (user_options(argc - 2, argv + 2, &o) == -1)
		return 2;
	if ((at = strrchr(argv[1], '@')) != NULL &&
	    !address_is_local_domain(at + 1))
		fprintf(stderr, "kurirctl: warning: %s is not in domains; "
		    "this user will get no mail\n", at + 1);
	if (ctl_read_password("Password: ", 1, pw, sizeof(pw)) == -1)
		return 1;
	rc = ops->user_set(argv[1], pw, strlen(pw), o.any ? o.attrs : NULL,
	    KURIR_AUTH_CREATE);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != KURIR_OK) {
		fprintf(stderr, "kurirctl: user add %s: %s\n", argv[1],
		    errstr(rc));
		return 1;
	}
	return 0;
}

static int
user_passwd(const struct kurir_auth_ops *ops, const char *address)
{
	char	pw[CTL_PASS_MAX + 2];
	int	rc;

	if (ctl_read_password("New password: ", 1, pw, sizeof(pw)) == -1)
		return 1;
	rc = ops->user_set(address, pw, strlen(pw), NULL, KURIR_AUTH_UPDATE);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != KURIR_OK) {
		fprintf(stderr, "kurirctl: user passwd %s: %s\n", address,
		    errstr(rc));
		return 1;
	}
	return 0;
}

/* Merge changed attributes into the user's current ones. */
static int
user_set_attrs(const struct kurir_auth_ops *ops, int argc, char **argv)
{
	struct kurir_auth_user	u;
	struct user_opts	o, cur;
	char			num[32];
	int			rc, disabled;

	if (user_options(argc - 2, argv + 2, &o) == -1)
		return 2;
	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	if ((rc = ops->lookup(argv[1], &u)) != KURIR_OK) {
		fprintf(stderr, "kurirctl: user set %s: %s\n", argv[1],
		    errstr(rc));
		return 1;
	}
	memset(&cur, 0, sizeof(cur));
	disabled = !u.enabled;
	if (strstr(o.attrs, "disabled") != NULL)
		disabled = 1;
	if (o.enable)
		disabled = 0;
	if (strstr(o.attrs, "quota_bytes=") == NULL && u.quota_bytes > 0 &&
	    u.quota_bytes != default_quota("default_quota_bytes")) {
		snprintf(num, sizeof(num), "%" PRIu64, u.quota_bytes);
		append_attr(&cur, "quota_bytes", num);
	}
	if (strstr(o.attrs, "quota_messages=") == NULL &&
	    u.quota_messages > 0 &&
	    u.quota_messages != default_quota("default_quota_messages")) {
		snprintf(num, sizeof(num), "%" PRIu64, u.quota_messages);
		append_attr(&cur, "quota_messages", num);
	}
	if (strstr(o.attrs, "location=") == NULL && u.location[0] != '\0')
		append_attr(&cur, "location", u.location);
	if (disabled)
		append_attr(&cur, "disabled", NULL);
	/* the new values, without the flag already merged above */
	{
		char	*tok, *save = NULL;

		for (tok = strtok_r(o.attrs, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save))
			if (strcmp(tok, "disabled") != 0 &&
			    append_attr(&cur, tok, NULL) == -1)
				return 1;
	}
	rc = ops->user_set(argv[1], NULL, 0, cur.attrs, KURIR_AUTH_UPDATE);
	if (rc != KURIR_OK) {
		fprintf(stderr, "kurirctl: user set %s: %s\n", argv[1],
		    errstr(rc));
		return 1;
	}
	return 0;
}

/* The passwd module's default quota (a key only it declares): a quota
 * equal to it is the default, not carried into a rewritten line. */
static uint64_t
default_quota(const char *key)
{
	int64_t	v = config_num(key);

	return v > 0 ? (uint64_t)v : 0;
}

static int
print_line(void *arg, const char *s)
{
	printf("%s\n", s);
	return 0;
}

static int
user_show(const struct kurir_auth_ops *ops, const char *address)
{
	struct kurir_auth_user	u;
	struct kurir_scram_keys	k;
	int			rc, scram = 0;

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	if ((rc = ops->lookup(address, &u)) != KURIR_OK) {
		fprintf(stderr, "kurirctl: user show %s: %s\n", address,
		    errstr(rc));
		return 1;
	}
	memset(&k, 0, sizeof(k));
	k.size = sizeof(k);
	if (ops->scram_keys != NULL)
		scram = ops->scram_keys(u.address, "SCRAM-SHA-256", &k) ==
		    KURIR_OK;
	OPENSSL_cleanse(&k, sizeof(k));
	printf("address: %s\n", u.address);
	printf("enabled: %s\n", u.enabled ? "yes" : "no");
	printf("quota_bytes: %" PRIu64 "%s\n", u.quota_bytes,
	    u.quota_bytes == 0 ? " (none)" : u.quota_bytes ==
	    default_quota("default_quota_bytes") ? " (default)" : "");
	printf("quota_messages: %" PRIu64 "%s\n", u.quota_messages,
	    u.quota_messages == 0 ? " (none)" : u.quota_messages ==
	    default_quota("default_quota_messages") ? " (default)" : "");
	printf("location: %s\n", u.location[0] != '\0' ? u.location :
	    "(default)");
	printf("scram-sha-256: %s\n", scram ? "yes" : "no");
	return 0;
}

static int
user_usage(void)
{
	fprintf(stderr, "usage: kurirctl user add ADDRESS [--quota SIZE] "
	    "[--quota-messages N] [--location PATH] [--disabled]\n"
	    "       kurirctl user set ADDRESS [--quota SIZE] "
	    "[--quota-messages N] [--location PATH] [--disabled|--enabled]\n"
	    "       kurirctl user passwd|del|show ADDRESS\n"
	    "       kurirctl user list\n");
	return 2;
}

static int
need(const struct kurir_auth_ops *ops, const void *op, const char *what)
{
	if (op == NULL || ops->size < sizeof(*ops)) {
		fprintf(stderr, "kurirctl: %s: not supported by this auth "
		    "module\n", what);
		return 0;
	}
	return 1;
}

int
ctl_user(int argc, char **argv)
{
	const struct kurir_auth_ops	*ops;
	int				 rc;

	if (argc < 1)
		return user_usage();
	if ((ops = auth_ops("user")) == NULL)
		return 1;
	if (strcmp(argv[0], "list") == 0 && argc == 1) {
		if (!need(ops, ops->user_list, "user list"))
			return 1;
		rc = ops->user_list(print_line, NULL);
		return rc == KURIR_OK ? 0 : 1;
	}
	if (argc < 2)
		return user_usage();
	if (strcmp(argv[0], "add") == 0)
		return need(ops, ops->user_set, "user add") ?
		    user_add(ops, argc, argv) : 1;
	if (strcmp(argv[0], "set") == 0)
		return need(ops, ops->user_set, "user set") ?
		    user_set_attrs(ops, argc, argv) : 1;
	if (argc != 2)
		return user_usage();
	if (strcmp(argv[0], "passwd") == 0)
		return need(ops, ops->user_set, "user passwd") ?
		    user_passwd(ops, argv[1]) : 1;
	if (strcmp(argv[0], "show") == 0)
		return user_show(ops, argv[1]);
	if (strcmp(argv[0], "del") == 0) {
		if (!need(ops, ops->user_del, "user del"))
			return 1;
		if ((rc = ops->user_del(argv[1])) != KURIR_OK) {
			fprintf(stderr, "kurirctl: user del %s: %s\n", argv[1],
			    errstr(rc));
			return 1;
		}
		return 0;
	}
	return user_usage();
}

/* ---- alias ---------------------------------------------------------- */

struct target_set {
	char	buf[CTL_ATTRS_MAX * 4];
	int	overflow;
};

static int
has_target(const char *list, const char *t)
{
	const char	*p;
	size_t		 len, tlen = strlen(t);

	for (p = list; *p != '\0'; p += len) {
		p += strspn(p, ", ");
		len = strcspn(p, ", ");
		if (len == tlen && strncasecmp(p, t, len) == 0)
			return 1;
	}
	return 0;
}

static void
target_add(struct target_set *ts, const char *t)
{
	size_t	len = strlen(ts->buf);
	int	n;

	if (has_target(ts->buf, t))
		return;
	n = snprintf(ts->buf + len, sizeof(ts->buf) - len, "%s%s",
	    len > 0 ? ", " : "", t);
	if (n < 0 || (size_t)n >= sizeof(ts->buf) - len)
		ts->overflow = 1;
}

static int
collect_target(void *arg, const char *t)
{
	target_add(arg, t);
	return 0;
}

static int
print_alias(void *arg, const char *alias, const char *targets)
{
	printf("%s: %s\n", alias, targets);
	return 0;
}

static int
alias_usage(void)
{
	fprintf(stderr, "usage: kurirctl alias add ALIAS TARGET...\n"
	    "       kurirctl alias del ALIAS [TARGET...]\n"
	    "       kurirctl alias list\n"
	    "ALIAS is name@domain, or @domain for a catch-all\n");
	return 2;
}

int
ctl_alias(int argc, char **argv)
{
	const struct kurir_auth_ops	*ops;
	struct target_set		*cur, *next;
	const char			*p;
	char				 t[KURIR_ADDR_MAX + 2];
	size_t				 len;
	int				 i, rc;

	if (argc < 1)
		return alias_usage();
	if ((ops = auth_ops("alias")) == NULL)
		return 1;
	if (strcmp(argv[0], "list") == 0 && argc == 1) {
		if (!need(ops, ops->alias_list, "alias list"))
			return 1;
		return ops->alias_list(print_alias, NULL) == KURIR_OK ? 0 : 1;
	}
	if (argc < 2 || (strcmp(argv[0], "add") == 0 && argc < 3))
		return alias_usage();
	if (strcmp(argv[0], "add") != 0 && strcmp(argv[0], "del") != 0)
		return alias_usage();
	if (!need(ops, ops->alias_set, "alias"))
		return 1;
	if ((cur = calloc(1, sizeof(*cur))) == NULL ||
	    (next = calloc(1, sizeof(*next))) == NULL) {
		free(cur);
		return 1;
	}
	rc = ops->alias_lookup(argv[1], collect_target, cur);
	if (rc != KURIR_OK && rc != KURIR_E_NOTFOUND)
		goto fail;
	if (strcmp(argv[0], "del") == 0 && rc == KURIR_E_NOTFOUND)
		goto fail;
	if (strcmp(argv[0], "add") == 0) {
		memcpy(next, cur, sizeof(*next));
		for (i = 2; i < argc; i++)
			target_add(next, argv[i]);
	} else if (argc > 2) {
		/* keep the targets not named on the command line */
		for (p = cur->buf; *p != '\0'; p += len) {
			p += strspn(p, ", ");
			len = strcspn(p, ", ");
			if (len == 0 || len >= sizeof(t))
				continue;
			memcpy(t, p, len);
			t[len] = '\0';
			for (i = 2; i < argc; i++)
				if (strcasecmp(argv[i], t) == 0)
					break;
			if (i == argc)
				target_add(next, t);
		}
	}
	if (cur->overflow || next->overflow) {
		rc = KURIR_E_TOOBIG;
		goto fail;
	}
	rc = ops->alias_set(argv[1], next->buf);
	if (rc == KURIR_E_NOTFOUND && next->buf[0] == '\0')
		rc = KURIR_OK;	/* removed its last target */
	if (rc != KURIR_OK)
		goto fail;
	free(cur);
	free(next);
	return 0;
fail:
	fprintf(stderr, "kurirctl: alias %s %s: %s\n", argv[0], argv[1],
	    errstr(rc));
	free(cur);
	free(next);
	return 1;
}

/* ---- pw ------------------------------------------------------------------ */

int
ctl_pw(int argc, char **argv)
{
	const struct kurir_auth_ops	*ops;
	const char			*scheme = NULL;
	char				 pw[CTL_PASS_MAX + 2];
	char				 out[CTL_HASH_MAX];
	int				 rc;

	if (argc == 3 && strcmp(argv[0], "hash") == 0 &&
	    strcmp(argv[1], "--scheme") == 0)
		scheme = argv[2];
	else if (argc != 1 || strcmp(argv[0], "hash") != 0) {
		fprintf(stderr, "usage: kurirctl pw hash [--scheme "
		    "YESCRYPT|SHA512-CRYPT|BLF-CRYPT|SCRAM-SHA-256]\n");
		return 2;
	}
	if ((ops = auth_ops("pw")) == NULL ||
	    !need(ops, ops->pw_hash, "pw hash"))
		return 1;
	if (ctl_read_password("Password: ", 1, pw, sizeof(pw)) == -1)
		return 1;
	rc = ops->pw_hash(scheme, pw, strlen(pw), out, sizeof(out));
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != KURIR_OK) {
		fprintf(stderr, "kurirctl: pw hash: %s\n",
		    rc == KURIR_E_INVALID ? "unknown scheme" : errstr(rc));
		return 1;
	}
	printf("%s\n", out);
	return 0;
}
