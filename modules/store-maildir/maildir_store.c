/*
 * maildir_store.c -- opening a user's Maildir: where it is (the
 * `maildir_location` template) and the folder directory of a name.
 *
 * Template: %s state_dir, %d the domain, %n the local part, %u the whole
 * address, %% a '%'.  The default "%s/maildir/%d/%n" gives
 * STATE_DIR/maildir/example.org/alice/.  kurir_user_params.location, when
 * set, is the root itself.  A local part or domain that could climb out
 * of the tree ("..", "/", a leading '.') is refused.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"

static int
part_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20)
			return 0;
	return 1;
}

int
md_location(const struct kurir_user_params *p, char *out, size_t cap)
{
	const char	*t, *at, *v;
	size_t		 o = 0, vlen;

	if (p->location != NULL && p->location[0] != '\0') {
		if ((size_t)snprintf(out, cap, "%s", p->location) >= cap)
			return KURIR_E_INVALID;
		return KURIR_OK;
	}
	if (p->user == NULL || (at = strrchr(p->user, '@')) == NULL ||
	    !part_ok(p->user, (size_t)(at - p->user)) ||
	    !part_ok(at + 1, strlen(at + 1)))
		return KURIR_E_INVALID;
	for (t = md_conf.location; *t != '\0'; t++) {
		v = t;
		vlen = 1;
		if (*t == '%') {
			switch (t[1]) {
			case 's':
				v = md_conf.state_dir;
				vlen = strlen(v);
				break;
			case 'd':
				v = at + 1;
				vlen = strlen(v);
				break;
			case 'n':
				v = p->user;
				vlen = (size_t)(at - p->user);
				break;
			case 'u':
				v = p->user;
				vlen = strlen(v);
				break;
			case '%':
				break;
			default:
				return KURIR_E_INVALID;
			}
			t++;
		}
		if (o + vlen + 1 > cap)
			return KURIR_E_INVALID;
		memcpy(out + o, v, vlen);
		o += vlen;
	}
	out[o] = '\0';
	return o == 0 ? KURIR_E_INVALID : KURIR_OK;
}

/* Has root its cur/, new/ and tmp/ already?  Three stat(2)s instead of
 * a mkdir(2) per path component at every login. */
static int
maildir_present(const char *root)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char		 p[4096];
	struct stat	 sb;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", root, sub[i]) >=
		    sizeof(p) || stat(p, &sb) == -1 || !S_ISDIR(sb.st_mode))
			return 0;
	}
	return 1;
}

int
md_store_open(const struct kurir_user_params *p, struct kurir_store **st_r)
{
	struct kurir_store	*st;
	char			 root[4096];
	int			 rc;

	*st_r = NULL;
	if (p == NULL || p->size < sizeof(struct kurir_user_params) ||
	    p->user == NULL)
		return KURIR_E_INVALID;
	if ((rc = md_location(p, root, sizeof(root))) != KURIR_OK)
		return rc;
	if (!maildir_present(root) &&
	    (md_mkdir_p(root, 0700) == -1 || md_make_maildir(root, 0) == -1)) {
		rc = md_errno(errno);
		md_log(KURIR_LOG_ERR, "%s: cannot create Maildir: %s", root,
		    strerror(errno));
		return rc;
	}
	md_clean_tmp(root, md_conf.tmp_max_age);
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->root = strdup(root)) == NULL ||
	    (st->user = strdup(p->user)) == NULL) {
		md_store_close(st);
		return KURIR_E_NOMEM;
	}
	st->quota_bytes = p->quota_bytes;
	st->quota_messages = p->quota_messages;
	*st_r = st;
	return KURIR_OK;
}

void
md_store_close(struct kurir_store *st)
{
	if (st == NULL)
		return;
	free(st->root);
	free(st->user);
	free(st);
}

/* The directory of mailbox name; must_exist: NOTFOUND unless it has a
 * cur/ (a bare parent directory of Maildir++ is no mailbox). */
int
md_folder_dir(struct kurir_store *st, const char *name, char **dir_r,
    int must_exist)
{
	char		 dname[1024], path[4096];
	struct stat	 sb;
	int		 rc;

	*dir_r = NULL;
	if (name == NULL)
		return KURIR_E_INVALID;
	if ((rc = md_name_to_dir(name, dname, sizeof(dname))) != KURIR_OK)
		return rc;
	if (dname[0] == '\0')
		snprintf(path, sizeof(path), "%s", st->root);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s", st->root,
	    dname) >= sizeof(path))
		return KURIR_E_INVALID;
	if (must_exist) {
		char	 cur[4200];

		snprintf(cur, sizeof(cur), "%s/cur", path);
		if (stat(cur, &sb) == -1 || !S_ISDIR(sb.st_mode))
			return KURIR_E_NOTFOUND;
	}
	if ((*dir_r = strdup(path)) == NULL)
		return KURIR_E_NOMEM;
	return KURIR_OK;
}
