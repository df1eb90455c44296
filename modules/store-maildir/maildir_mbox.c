/*
 * maildir_mbox.c -- the mailbox hierarchy of a user: list, create,
 * delete, rename, subscriptions and status.
 *
 * Maildir++ is flat: every folder is a ROOT/.A.B directory, and a parent
 * without a directory of its own ("A" when only ".A.B" exists) is listed
 * as \Noselect, as Dovecot and Courier do.  create makes missing parents
 * as real folders.  delete renames the folder into ROOT/tmp/ first (one
 * atomic step; the rest is cleanup), so its children stay and it becomes
 * \Noselect when it had any.  rename moves ".A" and every ".A.*" one
 * directory rename each; UIDVALIDITY travels with the folder, and a new
 * folder under the old name gets a fresh one (kurir-uidvalidity).
 * Subscriptions are UTF-8 names, one a line, in ROOT/kurir-subscriptions.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "maildir.h"

struct md_lent {
	char		*name;
	char		*dname;		/* directory name, NULL if implied */
	uint32_t	 exists;	/* has cur/ */
};

struct md_list {
	struct md_lent	*e;
	size_t		 n, cap;
};

static const struct {
	const char	*text;
	uint32_t	 bit;
} md_special[] = {
	{ "\\Drafts", KURIR_MBX_DRAFTS },
	{ "\\Sent", KURIR_MBX_SENT },
	{ "\\Trash", KURIR_MBX_TRASH },
	{ "\\Junk", KURIR_MBX_JUNK },
	{ "\\Archive", KURIR_MBX_ARCHIVE },
};
#define MD_NSPECIAL	(sizeof(md_special) / sizeof(md_special[0]))

/* Compare names so that a parent sorts right before its children. */
static int
name_cmp(const char *a, const char *b)
{
	unsigned char	 x, y;

	if (strcmp(a, "INBOX") == 0)
		return strcmp(b, "INBOX") == 0 ? 0 : -1;
	if (strcmp(b, "INBOX") == 0)
		return 1;
	for (;; a++, b++) {
		x = *a == '/' ? 1 : (unsigned char)*a;
		y = *b == '/' ? 1 : (unsigned char)*b;
		if (x != y || x == 0)
			return x < y ? -1 : x > y;
	}
}

static int
lent_cmp(const void *a, const void *b)
{
	return name_cmp(((const struct md_lent *)a)->name,
	    ((const struct md_lent *)b)->name);
}

static void
list_free(struct md_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->e[i].name);
		free(l->e[i].dname);
	}
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static struct md_lent *
list_find(struct md_list *l, const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->e[i].name) == len &&
		    strncmp(l->e[i].name, name, len) == 0)
			return &l->e[i];
	return NULL;
}

static int
list_add(struct md_list *l, const char *name, size_t len, const char *dname,
    uint32_t exists)
{
	struct md_lent	*e;
	size_t		 ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 32;
		if ((e = reallocarray(l->e, ncap, sizeof(*e))) == NULL)
			return KURIR_E_NOMEM;
		l->e = e;
		l->cap = ncap;
	}
	e = &l->e[l->n];
	memset(e, 0, sizeof(*e));
	if ((e->name = strndup(name, len)) == NULL ||
	    (dname != NULL && (e->dname = strdup(dname)) == NULL)) {
		free(e->name);
		return KURIR_E_NOMEM;
	}
	e->exists = exists;
	l->n++;
	return KURIR_OK;
}

/* Every folder directory of the user, plus INBOX, plus implied parents;
 * sorted parents first. */
static int
list_read(struct kurir_store *st, struct md_list *l)
{
	char		 name[1024], path[4096];
	struct dirent	*de;
	struct stat	 sb;
	const char	*p;
	size_t		 i, n;
	DIR		*d;
	int		 rc = KURIR_OK;

	memset(l, 0, sizeof(*l));
	if ((rc = list_add(l, "INBOX", 5, "", 1)) != KURIR_OK)
		return rc;
	if ((d = opendir(st->root)) == NULL)
		return md_errno(errno);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || md_dir_to_name(de->d_name, name,
		    sizeof(name)) == -1 || md_name_is_inbox(name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->root, de->d_name);
		if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
			continue;
		snprintf(path, sizeof(path), "%s/%s/cur", st->root,
		    de->d_name);
		if ((rc = list_add(l, name, strlen(name), de->d_name,
		    stat(path, &sb) == 0)) != KURIR_OK)
			break;
	}
	closedir(d);
	/* implied parents */
	n = l->n;
	for (i = 0; rc == KURIR_OK && i < n; i++) {
		for (p = strchr(l->e[i].name, '/'); p != NULL;
		    p = strchr(p + 1, '/')) {
			size_t len = (size_t)(p - l->e[i].name);

			if (list_find(l, l->e[i].name, len) == NULL &&
			    (rc = list_add(l, l->e[i].name, len, NULL, 0)) !=
			    KURIR_OK)
				break;
		}
	}
	qsort(l->e, l->n, sizeof(*l->e), lent_cmp);
	return rc;
}

static uint32_t
special_read(const char *dir)
{
	char	 path[4200], buf[32];
	size_t	 i;
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, MD_SPECIAL);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	for (i = 0; i < MD_NSPECIAL; i++)
		if (strcasecmp(buf, md_special[i].text) == 0)
			return md_special[i].bit;
	return 0;
}

/* Subscriptions: read into a NULL-terminated array. */
static char **
subs_read(const char *root, size_t *n_r)
{
	char	 path[4096], line[1100], **v = NULL, **nv;
	size_t	 n = 0, len;
	FILE	*fp;

	*n_r = 0;
	snprintf(path, sizeof(path), "%s/%s", root, MD_SUBS);
	if ((fp = fopen(path, "re")) == NULL)
		return calloc(1, sizeof(char *));
	while (fgets(line, sizeof(line), fp) != NULL) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (len == 0 || !md_name_valid(line))
			continue;
		if ((nv = reallocarray(v, n + 2, sizeof(*v))) == NULL)
			break;
		v = nv;
		if ((v[n] = strdup(line)) == NULL)
			break;
		v[++n] = NULL;
	}
	fclose(fp);
	if (v == NULL)
		v = calloc(1, sizeof(char *));
	*n_r = n;
	return v;
}

static void
subs_free(char **v)
{
	size_t	 i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int
subs_write(const char *root, char **v)
{
	size_t	 i, len = 0, o = 0;
	char	*buf;
	int	 rc = KURIR_OK;

	for (i = 0; v[i] != NULL; i++)
		len += strlen(v[i]) + 1;
	if ((buf = malloc(len + 1)) == NULL)
		return KURIR_E_NOMEM;
	for (i = 0; v[i] != NULL; i++)
		o += (size_t)sprintf(buf + o, "%s\n", v[i]);
	if (md_write_file(root, MD_SUBS, buf, o, 1) == -1)
		rc = md_errno(errno);
	free(buf);
	return rc;
}

/* "inbox" and "inbox/x" spelled the one way they are stored. */
static void
canon(const char *name, char *out, size_t cap)
{
	if (strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/'))
		snprintf(out, cap, "INBOX%s", name + 5);
	else
		snprintf(out, cap, "%s", name);
}

int
md_mailbox_list(struct kurir_store *st, kurir_mbx_list_cb *cb, void *arg)
{
	struct md_list	 l;
	char		 dir[4096], **subs;
	size_t		 i, k, nsubs, len;
	uint32_t	 attrs;
	int		 rc;

	if (cb == NULL)
		return KURIR_E_INVALID;
	if ((rc = list_read(st, &l)) != KURIR_OK) {
		list_free(&l);
		return rc;
	}
	if ((subs = subs_read(st->root, &nsubs)) == NULL) {
		list_free(&l);
		return KURIR_E_NOMEM;
	}
	for (i = 0; i < l.n; i++) {
		struct md_lent *e = &l.e[i];

		attrs = e->exists ? 0 : KURIR_MBX_NOSELECT;
		len = strlen(e->name);
		if (i + 1 < l.n && strncmp(l.e[i + 1].name, e->name, len) == 0
		    && l.e[i + 1].name[len] == '/')
			attrs |= KURIR_MBX_HASCHILDREN;
		else
			attrs |= KURIR_MBX_HASNOCHILDREN;
		for (k = 0; k < nsubs; k++)
			if (strcmp(subs[k], e->name) == 0)
				attrs |= KURIR_MBX_SUBSCRIBED;
		if (e->exists) {
			if (e->dname[0] == '\0')
				snprintf(dir, sizeof(dir), "%s", st->root);
			else
				snprintf(dir, sizeof(dir), "%s/%s", st->root,
				    e->dname);
			attrs |= special_read(dir);
		}
		if ((rc = cb(arg, e->name, attrs)) != 0)
			break;
	}
	subs_free(subs);
	list_free(&l);
	return rc;
}

/* Make one folder; EXISTS if it is already a mailbox. */
static int
create_one(struct kurir_store *st, const char *name, uint32_t special)
{
	char	*dir, buf[32];
	size_t	 i;
	int	 rc, existed = 0;

	if ((rc = md_folder_dir(st, name, &dir, 0)) != KURIR_OK)
		return rc;
	if (mkdir(dir, 0700) == -1) {
		char cur[4200];
		struct stat sb;

		if (errno != EEXIST) {
			rc = md_errno(errno);
			goto out;
		}
		snprintf(cur, sizeof(cur), "%s/cur", dir);
		if (stat(cur, &sb) == 0) {
			rc = KURIR_E_EXISTS;
			goto out;
		}
		existed = 1;	/* a bare parent directory: complete it */
	}
	if (md_make_maildir(dir, 1) == -1) {
		rc = md_errno(errno);
		if (!existed)
			md_rm_rf(dir);
		goto out;
	}
	for (i = 0; special != 0 && i < MD_NSPECIAL; i++) {
		if (md_special[i].bit != special)
			continue;
		snprintf(buf, sizeof(buf), "%s\n", md_special[i].text);
		if (md_write_file(dir, MD_SPECIAL, buf, strlen(buf), 0) == -1)
			rc = md_errno(errno);
	}
	md_fsync_dir(st->root);
out:
	free(dir);
	return rc;
}

static int
create_parents(struct kurir_store *st, const char *name)
{
	char		 buf[1100];
	const char	*p;
	int		 rc;

	for (p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(p - name), name);
		if (md_name_is_inbox(buf))
			continue;
		rc = create_one(st, buf, 0);
		if (rc != KURIR_OK && rc != KURIR_E_EXISTS)
			return rc;
	}
	return KURIR_OK;
}

int
md_mailbox_create(struct kurir_store *st, const char *name,
    uint32_t special_use)
{
	size_t	 i;
	int	 rc, ok = special_use == 0;

	if (name == NULL || !md_name_valid(name))
		return KURIR_E_INVALID;
	for (i = 0; i < MD_NSPECIAL; i++)
		if (md_special[i].bit == special_use)
			ok = 1;
	if (!ok)
		return KURIR_E_INVALID;
	if (md_name_is_inbox(name))
		return KURIR_E_EXISTS;
	if ((rc = create_parents(st, name)) != KURIR_OK)
		return rc;
	return create_one(st, name, special_use);
}

int
md_mailbox_delete(struct kurir_store *st, const char *name)
{
	char	*dir = NULL, uniq[512], trash[4096];
	int	 rc;

	if (name == NULL || !md_name_valid(name))
		return KURIR_E_INVALID;
	if (md_name_is_inbox(name))
		return KURIR_E_INVALID;
	if ((rc = md_folder_dir(st, name, &dir, 1)) != KURIR_OK)
		return rc;
	if (md_unique_name(uniq, sizeof(uniq)) == -1) {
		free(dir);
		return KURIR_E_INVALID;
	}
	snprintf(trash, sizeof(trash), "%s/tmp/kurir-deleted.%s", st->root,
	    uniq);
	if (rename(dir, trash) == -1) {
		rc = md_errno(errno);
		free(dir);
		return rc;
	}
	md_fsync_dir(st->root);
	if (md_rm_rf(trash) == -1)
		md_log(KURIR_LOG_WARNING, "%s: %s (left for tmp/ cleaning)",
		    trash, strerror(errno));
	md_quota_recalc_if_present(st->root);
	free(dir);
	return KURIR_OK;
}

static int
rename_inbox(struct kurir_store *st, const char *to)
{
	struct kurir_mailbox	*mb;
	struct kurir_uid_range	 all = { 1, UINT32_MAX };
	int			 rc;

	if ((rc = md_mailbox_create(st, to, 0)) != KURIR_OK)
		return rc;
	if ((rc = md_mailbox_open(st, "INBOX", &mb)) != KURIR_OK)
		return rc;
	rc = md_msg_copy(mb, &all, 1, to, 1, NULL, NULL, NULL);
	md_mailbox_close(mb);
	return rc;
}

int
md_mailbox_rename(struct kurir_store *st, const char *from, const char *to)
{
	struct md_list	 l;
	char		 f[1100], t[1100], nn[2200], dname[1024];
	char		 src[4096], dst[4096], **subs;
	size_t		 i, flen, nsubs;
	int		 rc, found = 0;

	if (from == NULL || to == NULL || !md_name_valid(from) ||
	    !md_name_valid(to))
		return KURIR_E_INVALID;
	canon(from, f, sizeof(f));
	canon(to, t, sizeof(t));
	flen = strlen(f);
	if (md_name_is_inbox(t))
		return KURIR_E_EXISTS;
	if (strcmp(f, t) == 0)
		return KURIR_E_EXISTS;
	if (strncmp(t, f, flen) == 0 && t[flen] == '/')
		return KURIR_E_INVALID;
	if (md_name_is_inbox(f))
		return rename_inbox(st, t);
	if ((rc = list_read(st, &l)) != KURIR_OK) {
		list_free(&l);
		return rc;
	}
	/* the target and its would-be children must be free */
	for (i = 0; i < l.n; i++) {
		const char *n = l.e[i].name;

		if (l.e[i].dname != NULL && strcmp(n, t) == 0) {
			rc = KURIR_E_EXISTS;
			goto out;
		}
		if (l.e[i].dname != NULL && (strcmp(n, f) == 0 ||
		    (strncmp(n, f, flen) == 0 && n[flen] == '/')))
			found = 1;
	}
	if (!found) {
		rc = KURIR_E_NOTFOUND;
		goto out;
	}
	if ((rc = create_parents(st, t)) != KURIR_OK)
		goto out;
	for (i = 0; i < l.n; i++) {
		const char *n = l.e[i].name;

		if (l.e[i].dname == NULL || (strcmp(n, f) != 0 &&
		    (strncmp(n, f, flen) != 0 || n[flen] != '/')))
			continue;
		snprintf(nn, sizeof(nn), "%s%s", t, n + flen);
		if ((rc = md_name_to_dir(nn, dname, sizeof(dname))) !=
		    KURIR_OK)
			goto out;
		snprintf(src, sizeof(src), "%s/%s", st->root, l.e[i].dname);
		snprintf(dst, sizeof(dst), "%s/%s", st->root, dname);
		if (access(dst, F_OK) == 0) {
			rc = KURIR_E_EXISTS;
			goto out;
		}
		if (rename(src, dst) == -1) {
			rc = md_errno(errno);
			goto out;
		}
	}
	md_fsync_dir(st->root);
	/* subscriptions follow the folders */
	if ((subs = subs_read(st->root, &nsubs)) != NULL) {
		int dirty = 0;

		for (i = 0; i < nsubs; i++) {
			char *s = subs[i];

			if (strcmp(s, f) != 0 && (strncmp(s, f, flen) != 0 ||
			    s[flen] != '/'))
				continue;
			snprintf(nn, sizeof(nn), "%s%s", t, s + flen);
			if ((s = strdup(nn)) != NULL) {
				free(subs[i]);
				subs[i] = s;
				dirty = 1;
			}
		}
		if (dirty)
			subs_write(st->root, subs);
		subs_free(subs);
	}
out:
	list_free(&l);
	return rc;
}

int
md_mailbox_subscribe(struct kurir_store *st, const char *name,
    uint32_t subscribed)
{
	char	 n[1100], **subs, **nv;
	size_t	 i, nsubs;
	int	 lfd, rc = KURIR_OK, found = -1;

	if (name == NULL || !md_name_valid(name))
		return KURIR_E_INVALID;
	canon(name, n, sizeof(n));
	if (md_lock(st->root, MD_ROOT_LOCK, &lfd) == -1)
		return md_errno(errno);
	if ((subs = subs_read(st->root, &nsubs)) == NULL) {
		md_unlock(lfd);
		return KURIR_E_NOMEM;
	}
	for (i = 0; i < nsubs; i++)
		if (strcmp(subs[i], n) == 0)
			found = (int)i;
	if (subscribed && found < 0) {
		if ((nv = reallocarray(subs, nsubs + 2, sizeof(*subs))) ==
		    NULL || (nv[nsubs] = strdup(n)) == NULL) {
			if (nv != NULL)
				subs = nv;
			rc = KURIR_E_NOMEM;
		} else {
			subs = nv;
			subs[nsubs + 1] = NULL;
			rc = subs_write(st->root, subs);
		}
	} else if (!subscribed && found >= 0) {
		free(subs[found]);
		memmove(&subs[found], &subs[found + 1],
		    (nsubs - (size_t)found) * sizeof(*subs));
		rc = subs_write(st->root, subs);
	}
	subs_free(subs);
	md_unlock(lfd);
	return rc;
}

int
md_mailbox_status(struct kurir_store *st, const char *name,
    struct kurir_mailbox_status *s_r)
{
	struct kurir_mailbox	*mb;
	int			 rc;

	if (s_r == NULL)
		return KURIR_E_INVALID;
	if ((rc = md_mailbox_open(st, name, &mb)) != KURIR_OK)
		return rc;
	md_status_fill(&mb->idx, s_r);
	md_mailbox_close(mb);
	return KURIR_OK;
}
