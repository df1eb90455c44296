/*
 * memstore.c -- EXAMPLE ONLY: a minimal in-memory kurir storage module.
 *
 * It shows how a storage backend is written against the installed
 * headers (<kurir/...>) and built with `pkg-config --cflags --libs
 * kurir`; see doc/plugin-guide.md.  Everything lives in this process's
 * memory, so mail is lost when the process exits and other processes
 * (other kurird workers) never see it: do not use it for real mail.
 * The conformance suite runs it with KURIR_CONFORMANCE_LOCAL=1, which
 * skips the cases that need state shared between processes.
 *
 * Design, kept simple on purpose: one lock for everything; lists, not
 * trees; callbacks are called on a copy made under the lock, never with
 * the lock held, so they may call back into the module.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <kurir/api.h>
#include <kurir/module.h>
#include <kurir/storage.h>

#define MS_NAME_MAX	1024
#define MS_KW_MAX	4096

struct ms_msg {
	struct ms_msg	*next;
	uint32_t	 uid;
	uint32_t	 flags;
	uint64_t	 modseq;
	int64_t		 date;
	char		*kw;		/* normalized, "" for none */
	unsigned char	*data;
	uint64_t	 size;
	void		*cache;
	size_t		 clen;
	int		 has_cache;
};

struct ms_tomb {
	struct ms_tomb	*next;
	uint32_t	 uid;
	uint64_t	 modseq;
};

struct ms_mbox {
	struct ms_mbox	*next;
	char		*name;
	uint32_t	 id;
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint32_t	 special_use;
	uint32_t	 noselect;
	uint32_t	 subscribed;
	uint64_t	 hms;
	struct ms_msg	*head;
	struct ms_msg	*tail;
	struct ms_tomb	*tombs;
};

struct ms_user {
	struct ms_user	*next;
	char		*name;
	struct ms_mbox	*mboxes;
};

struct kurir_store {
	struct ms_user	*u;
	uint64_t	 qbytes;
	uint64_t	 qmsgs;
};

struct kurir_mailbox {
	struct kurir_store *st;
	uint32_t	 id;
	uint32_t	 snap_uidnext;
};

struct kurir_append {
	struct kurir_store *st;
	char		*mailbox;
	uint32_t	 flags;
	char		 kw[MS_KW_MAX + 1];
	int64_t		 date;
	unsigned char	*data;
	uint64_t	 size;
	uint64_t	 cap;
};

struct kurir_delivery {
	struct kurir_store **st;
	size_t		 n;
	struct kurir_append body;	/* the bytes, shared by all users */
};

static pthread_mutex_t ms_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ms_user *ms_users;
static uint32_t ms_next_id = 1;
static uint32_t ms_last_uidvalidity;
static const struct kurir_core_api *ms_api;

/* ---- names and keywords ------------------------------------------ */

/* A valid UTF-8 name with '/' between non-empty parts; INBOX (any case)
 * as the first part is stored as "INBOX".  Returns a malloc'd copy. */
static char *
ms_name(const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i, n, len;
	char *out;

	if (in == NULL || (len = strlen(in)) == 0 || len > MS_NAME_MAX ||
	    in[0] == '/' || in[len - 1] == '/' || strstr(in, "//") != NULL)
		return NULL;
	for (i = 0; i < len; i += n) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return NULL;
		n = s[i] < 0x80 ? 1 : s[i] >= 0xc2 && s[i] <= 0xdf ? 2 :
		    s[i] >= 0xe0 && s[i] <= 0xef ? 3 :
		    s[i] >= 0xf0 && s[i] <= 0xf4 ? 4 : 0;
		if (n == 0 || i + n > len)
			return NULL;
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return NULL;
	}
	if ((out = strdup(in)) == NULL)
		return NULL;
	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return out;
}

static int
kw_has(const char *list, const char *w, size_t n)
{
	const char *p = list;

	while (*p != '\0') {
		size_t l = strcspn(p, " ");

		if (l == n && strncasecmp(p, w, n) == 0)
			return 1;
		p += l;
		p += strspn(p, " ");
	}
	return 0;
}

/* Append the words of `add` not in out and not in `drop`. */
static int
kw_merge(char *out, const char *add, const char *drop)
{
	const char *p = add;
	size_t olen = strlen(out);

	p += strspn(p, " ");
	while (*p != '\0') {
		size_t l = strcspn(p, " ");

		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] <= 0x20 ||
			    (unsigned char)p[i] >= 0x7f ||
			    strchr("(){%*\"\\]", p[i]) != NULL)
				return KURIR_E_INVALID;
		if (!kw_has(out, p, l) && (drop == NULL ||
		    !kw_has(drop, p, l))) {
			if (olen + l + 2 > MS_KW_MAX)
				return KURIR_E_TOOBIG;
			if (olen > 0)
				out[olen++] = ' ';
			memcpy(out + olen, p, l);
			olen += l;
			out[olen] = '\0';
		}
		p += l;
		p += strspn(p, " ");
	}
	return KURIR_OK;
}

/* ---- lookups (ms_lock held) --------------------------------------- */

static struct ms_mbox *
mbox_by_name(struct ms_user *u, const char *name)
{
	struct ms_mbox *m;

	for (m = u->mboxes; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static struct ms_mbox *
mbox_by_id(struct ms_user *u, uint32_t id)
{
	struct ms_mbox *m;

	for (m = u->mboxes; m != NULL; m = m->next)
		if (m->id == id)
			return m;
	return NULL;
}

static struct ms_msg *
msg_by_uid(struct ms_mbox *m, uint32_t uid)
{
	struct ms_msg *g;

	for (g = m->head; g != NULL && g->uid <= uid; g = g->next)
		if (g->uid == uid)
			return g;
	return NULL;
}

static int
in_set(const struct kurir_uid_range *set, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t a = set[i].first, b = set[i].last;

		if ((a <= uid && uid <= b) || (b <= uid && uid <= a))
			return 1;
	}
	return 0;
}

static void
usage(struct ms_user *u, uint64_t *bytes, uint64_t *msgs)
{
	*bytes = *msgs = 0;
	for (struct ms_mbox *m = u->mboxes; m != NULL; m = m->next)
		for (struct ms_msg *g = m->head; g != NULL; g = g->next) {
			*bytes += g->size;
			(*msgs)++;
		}
}

static int
over_quota(struct kurir_store *st, uint64_t size, uint64_t count)
{
	uint64_t b, n;

	usage(st->u, &b, &n);
	return (st->qbytes != 0 && b + size > st->qbytes) ||
	    (st->qmsgs != 0 && n + count > st->qmsgs);
}

static struct ms_mbox *
mbox_new(struct ms_user *u, const char *name, uint32_t special_use)
{
	struct ms_mbox *m;
	uint32_t now = (uint32_t)time(NULL);

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup(name)) == NULL) {
		free(m);
		return NULL;
	}
	m->id = ms_next_id++;
	m->uidvalidity = ms_last_uidvalidity = now > ms_last_uidvalidity ?
	    now : ms_last_uidvalidity + 1;
	m->uidnext = 1;
	m->hms = 1;
	m->special_use = special_use;
	m->next = u->mboxes;
	u->mboxes = m;
	return m;
}

static void
msg_free(struct ms_msg *g)
{
	free(g->kw);
	free(g->data);
	free(g->cache);
	free(g);
}

/* Unlink and free the messages of m matching the set (all if set is
 * NULL), leaving tombstones with modseq (0: none). */
static int
remove_msgs(struct ms_mbox *m, const struct kurir_uid_range *set, size_t n,
    uint64_t modseq)
{
	struct ms_msg **pp = &m->head, *g;
	struct ms_tomb *t;

	m->tail = NULL;
	while ((g = *pp) != NULL) {
		if (set != NULL && !in_set(set, n, g->uid)) {
			m->tail = g;
			pp = &g->next;
			continue;
		}
		if (modseq != 0) {
			if ((t = calloc(1, sizeof(*t))) == NULL)
				return KURIR_E_NOMEM;
			t->uid = g->uid;
			t->modseq = modseq;
			t->next = m->tombs;
			m->tombs = t;
			m->hms = modseq;
		}
		*pp = g->next;
		msg_free(g);
	}
	return KURIR_OK;
}

static int
add_msg(struct ms_mbox *m, struct ms_msg *g)
{
	if (m->uidnext == UINT32_MAX)
		return KURIR_E_PERMFAIL;
	g->uid = m->uidnext++;
	g->modseq = ++m->hms;
	g->next = NULL;
	if (m->tail != NULL)
		m->tail->next = g;
	else
		m->head = g;
	m->tail = g;
	return KURIR_OK;
}

/* ---- store and mailboxes ----------------------------------------- */

static int
ms_store_open(const struct kurir_user_params *p, struct kurir_store **st_r)
{
	struct kurir_store *st;
	struct ms_user *u;

	*st_r = NULL;
	if (p == NULL || p->user == NULL || strchr(p->user, '@') == NULL)
		return KURIR_E_INVALID;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return KURIR_E_NOMEM;
	pthread_mutex_lock(&ms_lock);
	for (u = ms_users; u != NULL; u = u->next)
		if (strcmp(u->name, p->user) == 0)
			break;
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL ||
		    (u->name = strdup(p->user)) == NULL ||
		    mbox_new(u, "INBOX", 0) == NULL) {
			pthread_mutex_unlock(&ms_lock);
			free(u);
			free(st);
			return KURIR_E_NOMEM;
		}
		u->next = ms_users;
		ms_users = u;
	}
	pthread_mutex_unlock(&ms_lock);
	st->u = u;
	st->qbytes = p->quota_bytes;
	st->qmsgs = p->quota_messages;
	*st_r = st;
	return KURIR_OK;
}

static void
ms_store_close(struct kurir_store *st)
{
	free(st);	/* the mail stays: it is the process's memory */
}

static int
ms_quota_usage(struct kurir_store *st, uint64_t *bytes_r,
    uint64_t *messages_r)
{
	uint64_t b, n;

	pthread_mutex_lock(&ms_lock);
	usage(st->u, &b, &n);
	pthread_mutex_unlock(&ms_lock);
	if (bytes_r != NULL)
		*bytes_r = b;
	if (messages_r != NULL)
		*messages_r = n;
	return KURIR_OK;
}

static int
has_children(struct ms_user *u, const char *name)
{
	size_t n = strlen(name);

	for (struct ms_mbox *m = u->mboxes; m != NULL; m = m->next)
		if (strncmp(m->name, name, n) == 0 && m->name[n] == '/')
			return 1;
	return 0;
}

struct list_ent {
	char		*name;
	uint32_t	 attrs;
};

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_ent *)a)->name,
	    ((const struct list_ent *)b)->name);
}

static int
ms_mailbox_list(struct kurir_store *st, kurir_mbx_list_cb *cb, void *arg)
{
	struct list_ent *e = NULL;
	size_t n = 0, i;
	int rc = KURIR_OK;

	pthread_mutex_lock(&ms_lock);
	for (struct ms_mbox *m = st->u->mboxes; m != NULL; m = m->next)
		n++;
	if ((e = calloc(n, sizeof(*e))) == NULL) {
		pthread_mutex_unlock(&ms_lock);
		return KURIR_E_NOMEM;
	}
	i = 0;
	for (struct ms_mbox *m = st->u->mboxes; m != NULL; m = m->next, i++) {
		e[i].name = strdup(m->name);
		e[i].attrs = m->special_use |
		    (m->noselect ? KURIR_MBX_NOSELECT : 0) |
		    (m->subscribed ? KURIR_MBX_SUBSCRIBED : 0) |
		    (has_children(st->u, m->name) ? KURIR_MBX_HASCHILDREN :
		    KURIR_MBX_HASNOCHILDREN);
		if (e[i].name == NULL)
			rc = KURIR_E_NOMEM;
	}
	pthread_mutex_unlock(&ms_lock);
	/* Sorted, a parent (a prefix) comes before its children. */
	if (rc == KURIR_OK)
		qsort(e, n, sizeof(*e), ent_cmp);
	for (i = 0; i < n && rc == KURIR_OK; i++)
		rc = cb(arg, e[i].name, e[i].attrs);
	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
	return rc;
}

static int
make_parents(struct ms_user *u, const char *name)
{
	char buf[MS_NAME_MAX + 1];

	for (const char *p = strchr(name, '/'); p != NULL;
	    p = strchr(p + 1, '/')) {
		memcpy(buf, name, (size_t)(p - name));
		buf[p - name] = '\0';
		if (mbox_by_name(u, buf) == NULL && mbox_new(u, buf, 0) == NULL)
			return KURIR_E_NOMEM;
	}
	return KURIR_OK;
}

static int
ms_mailbox_create(struct kurir_store *st, const char *name,
    uint32_t special_use)
{
	struct ms_mbox *m;
	char *n;
	int rc = KURIR_OK;

	if (special_use != 0 && special_use != KURIR_MBX_DRAFTS &&
	    special_use != KURIR_MBX_SENT && special_use != KURIR_MBX_TRASH &&
	    special_use != KURIR_MBX_JUNK && special_use != KURIR_MBX_ARCHIVE)
		return KURIR_E_INVALID;
	if ((n = ms_name(name)) == NULL)
		return KURIR_E_INVALID;
	pthread_mutex_lock(&ms_lock);
	if ((m = mbox_by_name(st->u, n)) != NULL) {
		if (!m->noselect)
			rc = KURIR_E_EXISTS;
		m->noselect = 0;
		m->special_use = special_use;
	} else if ((rc = make_parents(st->u, n)) == KURIR_OK &&
	    mbox_new(st->u, n, special_use) == NULL)
		rc = KURIR_E_NOMEM;
	pthread_mutex_unlock(&ms_lock);
	free(n);
	return rc;
}

static void
mbox_unlink(struct ms_user *u, struct ms_mbox *m)
{
	struct ms_mbox **pp;

	for (pp = &u->mboxes; *pp != m; pp = &(*pp)->next)
		;
	*pp = m->next;
	(void)remove_msgs(m, NULL, 0, 0);
	while (m->tombs != NULL) {
		struct ms_tomb *t = m->tombs;

		m->tombs = t->next;
		free(t);
	}
	free(m->name);
	free(m);
}

static int
ms_mailbox_delete(struct kurir_store *st, const char *name)
{
	struct ms_mbox *m;
	char *n;
	int rc = KURIR_OK;

	if ((n = ms_name(name)) == NULL || strcmp(n, "INBOX") == 0) {
		free(n);
		return KURIR_E_INVALID;
	}
	pthread_mutex_lock(&ms_lock);
	if ((m = mbox_by_name(st->u, n)) == NULL)
		rc = KURIR_E_NOTFOUND;
	else if (has_children(st->u, n)) {
		if (m->noselect)
			rc = KURIR_E_INVALID;
		else {
			/* Keep the name as \Noselect, with a fresh id and
			 * UIDVALIDITY for a later CREATE. */
			mbox_unlink(st->u, m);
			if ((m = mbox_new(st->u, n, 0)) == NULL)
				rc = KURIR_E_NOMEM;
			else
				m->noselect = 1;
		}
	} else
		mbox_unlink(st->u, m);
	pthread_mutex_unlock(&ms_lock);
	free(n);
	return rc;
}

static int
ms_mailbox_rename(struct kurir_store *st, const char *from, const char *to)
{
	struct ms_mbox *m, *src;
	char *f = ms_name(from), *t = ms_name(to), *nn;
	size_t fl;
	int rc = KURIR_OK;

	if (f == NULL || t == NULL) {
		rc = KURIR_E_INVALID;
		goto out;
	}
	fl = strlen(f);
	if (strcmp(f, t) == 0 || strcmp(t, "INBOX") == 0) {
		rc = KURIR_E_EXISTS;
		goto out;
	}
	if (strncmp(t, f, fl) == 0 && t[fl] == '/') {
		rc = KURIR_E_INVALID;
		goto out;
	}
	pthread_mutex_lock(&ms_lock);
	if ((src = mbox_by_name(st->u, f)) == NULL)
		rc = KURIR_E_NOTFOUND;
	else if (mbox_by_name(st->u, t) != NULL)
		rc = KURIR_E_EXISTS;
	else if ((rc = make_parents(st->u, t)) != KURIR_OK)
		;
	else if (strcmp(f, "INBOX") == 0) {
		/* The mail moves with the mailbox; INBOX starts over. */
		if ((nn = strdup(t)) == NULL)
			rc = KURIR_E_NOMEM;
		else {
			free(src->name);
			src->name = nn;
			if (mbox_new(st->u, "INBOX", 0) == NULL)
				rc = KURIR_E_NOMEM;
		}
	} else {
		for (m = st->u->mboxes; m != NULL; m = m->next) {
			if (m != src && (strncmp(m->name, f, fl) != 0 ||
			    m->name[fl] != '/'))
				continue;
			if ((nn = malloc(strlen(t) + strlen(m->name) - fl +
			    1)) == NULL) {
				rc = KURIR_E_NOMEM;
				break;
			}
			strcpy(nn, t);
			strcat(nn, m->name + fl);
			free(m->name);
			m->name = nn;
		}
	}
	pthread_mutex_unlock(&ms_lock);
out:
	free(f);
	free(t);
	return rc;
}

static int
ms_mailbox_subscribe(struct kurir_store *st, const char *name,
    uint32_t subscribed)
{
	struct ms_mbox *m;
	char *n;
	int rc = KURIR_OK;

	if ((n = ms_name(name)) == NULL)
		return KURIR_E_INVALID;
	pthread_mutex_lock(&ms_lock);
	/* (A real backend also keeps subscriptions to absent names.) */
	if ((m = mbox_by_name(st->u, n)) != NULL)
		m->subscribed = subscribed != 0;
	else if (subscribed)
		rc = KURIR_E_NOTFOUND;
	pthread_mutex_unlock(&ms_lock);
	free(n);
	return rc;
}

static void
fill_status(struct ms_mbox *m, struct kurir_mailbox_status *s)
{
	memset(s, 0, sizeof(*s));
	s->uidvalidity = m->uidvalidity;
	s->uidnext = m->uidnext;
	s->highestmodseq = m->hms;
	for (struct ms_msg *g = m->head; g != NULL; g = g->next) {
		s->messages++;
		s->bytes += g->size;
		if (!(g->flags & KURIR_FLAG_SEEN))
			s->unseen++;
	}
}

/* The selectable mailbox called name, with ms_lock held on success. */
static struct ms_mbox *
lock_mbox(struct kurir_store *st, const char *name, int *rc)
{
	struct ms_mbox *m;
	char *n;

	if ((n = ms_name(name)) == NULL) {
		*rc = KURIR_E_INVALID;
		return NULL;
	}
	pthread_mutex_lock(&ms_lock);
	m = mbox_by_name(st->u, n);
	free(n);
	if (m == NULL || m->noselect) {
		pthread_mutex_unlock(&ms_lock);
		*rc = KURIR_E_NOTFOUND;
		return NULL;
	}
	*rc = KURIR_OK;
	return m;
}

static int
ms_mailbox_status(struct kurir_store *st, const char *name,
    struct kurir_mailbox_status *s_r)
{
	struct ms_mbox *m;
	int rc;

	if ((m = lock_mbox(st, name, &rc)) == NULL)
		return rc;
	fill_status(m, s_r);
	pthread_mutex_unlock(&ms_lock);
	return KURIR_OK;
}

static int
ms_mailbox_open(struct kurir_store *st, const char *name,
    struct kurir_mailbox **mb_r)
{
	struct kurir_mailbox *mb;
	struct ms_mbox *m;
	int rc;

	*mb_r = NULL;
	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return KURIR_E_NOMEM;
	if ((m = lock_mbox(st, name, &rc)) == NULL) {
		free(mb);
		return rc;
	}
	mb->st = st;
	mb->id = m->id;
	mb->snap_uidnext = m->uidnext;
	pthread_mutex_unlock(&ms_lock);
	*mb_r = mb;
	return KURIR_OK;
}

static void
ms_mailbox_close(struct kurir_mailbox *mb)
{
	free(mb);
}

/* The open mailbox's record, with ms_lock held on success. */
static struct ms_mbox *
lock_open(struct kurir_mailbox *mb)
{
	struct ms_mbox *m;

	pthread_mutex_lock(&ms_lock);
	if ((m = mbox_by_id(mb->st->u, mb->id)) == NULL)
		pthread_mutex_unlock(&ms_lock);
	return m;
}

static int
ms_mailbox_sync(struct kurir_mailbox *mb, struct kurir_mailbox_status *s_r)
{
	struct kurir_mailbox_status s;
	struct ms_mbox *m;

	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	fill_status(m, &s);
	mb->snap_uidnext = m->uidnext;
	pthread_mutex_unlock(&ms_lock);
	if (s_r != NULL)
		*s_r = s;
	return KURIR_OK;
}

/* ---- messages ----------------------------------------------------- */

/* Copy the messages with uid in [first, last] and modseq > since. */
static int
snapshot(struct kurir_mailbox *mb, uint32_t first, uint32_t last,
    uint64_t since, struct kurir_msg **v_r, size_t *n_r)
{
	struct kurir_msg *v = NULL, *nv;
	struct ms_mbox *m;
	size_t n = 0;

	*v_r = NULL;
	*n_r = 0;
	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	for (struct ms_msg *g = m->head; g != NULL; g = g->next) {
		if (g->uid < first || g->uid > last ||
		    g->uid >= mb->snap_uidnext || g->modseq <= since)
			continue;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL)
			goto nomem;
		v = nv;
		v[n].uid = g->uid;
		v[n].flags = g->flags;
		v[n].modseq = g->modseq;
		v[n].size = g->size;
		v[n].internal_date = g->date;
		if ((v[n].keywords = strdup(g->kw)) == NULL)
			goto nomem;
		n++;
	}
	pthread_mutex_unlock(&ms_lock);
	*v_r = v;
	*n_r = n;
	return KURIR_OK;
nomem:
	pthread_mutex_unlock(&ms_lock);
	while (n > 0)
		free((char *)v[--n].keywords);
	free(v);
	return KURIR_E_NOMEM;
}

static int
run_list(struct kurir_msg *v, size_t n, kurir_msg_cb *cb, void *arg)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && cb != NULL)
			rc = cb(arg, &v[i]);
		free((char *)v[i].keywords);
	}
	free(v);
	return rc;
}

static int
ms_msg_list(struct kurir_mailbox *mb, uint32_t first, uint32_t last,
    kurir_msg_cb *cb, void *arg)
{
	struct kurir_msg *v;
	size_t n;
	int rc;

	if ((rc = snapshot(mb, first, last, 0, &v, &n)) != KURIR_OK)
		return rc;
	return run_list(v, n, cb, arg);
}

static int
ms_msg_read(struct kurir_mailbox *mb, uint32_t uid, uint64_t offset,
    void *buf, size_t len, size_t *n_r)
{
	struct ms_mbox *m;
	struct ms_msg *g;

	*n_r = 0;
	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	if ((g = msg_by_uid(m, uid)) == NULL) {
		pthread_mutex_unlock(&ms_lock);
		return KURIR_E_NOTFOUND;
	}
	if (offset < g->size) {
		*n_r = g->size - offset < len ? (size_t)(g->size - offset) :
		    len;
		memcpy(buf, g->data + offset, *n_r);
	}
	pthread_mutex_unlock(&ms_lock);
	return KURIR_OK;
}

static int
ms_msg_flags(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, uint32_t op, uint32_t flags, const char *keywords,
    uint64_t unchangedsince, kurir_uid_cb *failed_cb, void *arg)
{
	char norm[MS_KW_MAX + 1] = "", kw[MS_KW_MAX + 1];
	uint32_t *failed = NULL, *nf, nfailed = 0;
	struct ms_mbox *m;
	uint64_t modseq;
	int rc = KURIR_OK, changed = 0;

	if (op < KURIR_FLAGS_SET || op > KURIR_FLAGS_REMOVE ||
	    (flags & ~0x1fu) != 0)
		return KURIR_E_INVALID;
	if (keywords != NULL && (rc = kw_merge(norm, keywords, NULL)) != 0)
		return rc;
	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	modseq = m->hms + 1;
	for (struct ms_msg *g = m->head; g != NULL; g = g->next) {
		uint32_t fl;

		if (!in_set(set, nset, g->uid))
			continue;
		if (unchangedsince != 0 && g->modseq > unchangedsince) {
			if ((nf = realloc(failed, (nfailed + 1) *
			    sizeof(*nf))) == NULL) {
				rc = KURIR_E_NOMEM;
				break;
			}
			failed = nf;
			failed[nfailed++] = g->uid;
			continue;
		}
		fl = op == KURIR_FLAGS_SET ? flags : op == KURIR_FLAGS_ADD ?
		    g->flags | flags : g->flags & ~flags;
		kw[0] = '\0';
		if (keywords == NULL)
			strcpy(kw, g->kw);
		else if (op == KURIR_FLAGS_SET)
			strcpy(kw, norm);
		else if ((rc = kw_merge(kw, g->kw, op == KURIR_FLAGS_REMOVE ?
		    norm : NULL)) != 0 || (op == KURIR_FLAGS_ADD &&
		    (rc = kw_merge(kw, norm, NULL)) != 0))
			break;
		if (fl == g->flags && strcmp(kw, g->kw) == 0)
			continue;
		char *k = strdup(kw);

		if (k == NULL) {
			rc = KURIR_E_NOMEM;
			break;
		}
		free(g->kw);
		g->kw = k;
		g->flags = fl;
		g->modseq = modseq;
		changed = 1;
	}
	if (changed)
		m->hms = modseq;
	pthread_mutex_unlock(&ms_lock);
	for (uint32_t i = 0; i < nfailed && rc == KURIR_OK && failed_cb;
	    i++)
		rc = failed_cb(arg, failed[i]);
	free(failed);
	return rc;
}

static int
ms_msg_expunge(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset)
{
	struct ms_mbox *m;
	int rc;

	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	rc = remove_msgs(m, set, nset, m->hms + 1);
	pthread_mutex_unlock(&ms_lock);
	return rc;
}

static struct ms_msg *
msg_dup(const struct ms_msg *g)
{
	struct ms_msg *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	*c = *g;
	c->kw = strdup(g->kw);
	c->data = malloc(g->size > 0 ? g->size : 1);
	c->cache = g->has_cache ? malloc(g->clen > 0 ? g->clen : 1) : NULL;
	if (c->kw == NULL || c->data == NULL ||
	    (g->has_cache && c->cache == NULL)) {
		msg_free(c);
		return NULL;
	}
	memcpy(c->data, g->data, g->size);
	if (g->has_cache)
		memcpy(c->cache, g->cache, g->clen);
	return c;
}

static int
ms_msg_copy(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, const char *dest, uint32_t move,
    uint32_t *dest_uidvalidity_r, kurir_uid_map_cb *map_cb, void *arg)
{
	struct ms_mbox *m, *d;
	struct ms_msg *g, *c, *copies = NULL, **tail = &copies;
	uint32_t *map = NULL, n = 0, count = 0;
	uint64_t bytes = 0;
	char *dn;
	int rc = KURIR_OK;

	if ((dn = ms_name(dest)) == NULL)
		return KURIR_E_INVALID;
	if ((m = lock_open(mb)) == NULL) {
		free(dn);
		return KURIR_E_NOTFOUND;
	}
	d = mbox_by_name(mb->st->u, dn);
	free(dn);
	if (d == NULL || d->noselect) {
		pthread_mutex_unlock(&ms_lock);
		return KURIR_E_NOTFOUND;
	}
	if (d == m && move) {
		pthread_mutex_unlock(&ms_lock);
		return KURIR_E_INVALID;
	}
	/* Copy everything first, so a failure changes nothing. */
	for (g = m->head; g != NULL; g = g->next) {
		if (!in_set(set, nset, g->uid))
			continue;
		if ((c = msg_dup(g)) == NULL) {
			rc = KURIR_E_NOMEM;
			break;
		}
		c->uid = g->uid;	/* the source uid, for now */
		c->next = NULL;
		*tail = c;
		tail = &c->next;
		bytes += g->size;
		count++;
	}
	if (rc == KURIR_OK && !move && over_quota(mb->st, bytes, count))
		rc = KURIR_E_OVERQUOTA;
	if (rc == KURIR_OK && count > 0 &&
	    (map = calloc(count * 2, sizeof(*map))) == NULL)
		rc = KURIR_E_NOMEM;
	while ((c = copies) != NULL) {
		copies = c->next;
		if (rc != KURIR_OK) {
			msg_free(c);
			continue;
		}
		map[n * 2] = c->uid;
		if ((rc = add_msg(d, c)) != KURIR_OK) {
			msg_free(c);
			continue;
		}
		map[n * 2 + 1] = c->uid;
		n++;
	}
	if (rc == KURIR_OK && move && n > 0) {
		struct kurir_uid_range *r = calloc(n, sizeof(*r));

		if (r == NULL)
			rc = KURIR_E_NOMEM;
		for (uint32_t i = 0; r != NULL && i < n; i++)
			r[i].first = r[i].last = map[i * 2];
		if (r != NULL)
			rc = remove_msgs(m, r, n, m->hms + 1);
		free(r);
	}
	if (dest_uidvalidity_r != NULL)
		*dest_uidvalidity_r = d->uidvalidity;
	pthread_mutex_unlock(&ms_lock);
	for (uint32_t i = 0; i < n && rc == KURIR_OK && map_cb != NULL; i++)
		rc = map_cb(arg, map[i * 2], map[i * 2 + 1]);
	free(map);
	return rc;
}

static int
ms_changes_since(struct kurir_mailbox *mb, uint64_t modseq,
    kurir_msg_cb *changed_cb, kurir_uid_cb *expunged_cb, void *arg)
{
	struct kurir_msg *v;
	struct ms_mbox *m;
	uint32_t *ex = NULL, *ne, nex = 0;
	size_t n;
	int rc;

	if ((rc = snapshot(mb, 1, UINT32_MAX, modseq, &v, &n)) != KURIR_OK)
		return rc;
	if ((rc = run_list(v, n, changed_cb, arg)) != 0 || expunged_cb == NULL)
		return rc;
	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	for (struct ms_tomb *t = m->tombs; t != NULL; t = t->next) {
		if (t->modseq <= modseq)
			continue;
		if ((ne = realloc(ex, (nex + 1) * sizeof(*ne))) == NULL) {
			rc = KURIR_E_NOMEM;
			break;
		}
		ex = ne;
		ex[nex++] = t->uid;
	}
	pthread_mutex_unlock(&ms_lock);
	for (uint32_t i = 0; i < nex && rc == 0; i++)
		rc = expunged_cb(arg, ex[i]);
	free(ex);
	return rc;
}

static int
ms_cache_get(struct kurir_mailbox *mb, uint32_t uid, void *buf, size_t cap,
    size_t *len_r)
{
	struct ms_mbox *m;
	struct ms_msg *g;
	int rc = KURIR_OK;

	*len_r = 0;
	if ((m = lock_open(mb)) == NULL)
		return KURIR_E_NOTFOUND;
	if ((g = msg_by_uid(m, uid)) == NULL || !g->has_cache)
		rc = KURIR_E_NOTFOUND;
	else if ((*len_r = g->clen) > cap)
		rc = KURIR_E_TOOBIG;
	else
		memcpy(buf, g->cache, g->clen);
	pthread_mutex_unlock(&ms_lock);
	return rc;
}

static int
ms_cache_set(struct kurir_mailbox *mb, uint32_t uid, const void *blob,
    size_t len)
{
	struct ms_mbox *m;
	struct ms_msg *g;
	void *c;

	if ((c = malloc(len > 0 ? len : 1)) == NULL)
		return KURIR_E_NOMEM;
	memcpy(c, blob, len);
	if ((m = lock_open(mb)) == NULL) {
		free(c);
		return KURIR_E_NOTFOUND;
	}
	if ((g = msg_by_uid(m, uid)) == NULL) {
		pthread_mutex_unlock(&ms_lock);
		free(c);
		return KURIR_E_NOTFOUND;
	}
	free(g->cache);
	g->cache = c;
	g->clen = len;
	g->has_cache = 1;
	pthread_mutex_unlock(&ms_lock);
	return KURIR_OK;
}

/* No other process shares this memory: nothing to watch. */
static int
ms_notify_fd(struct kurir_mailbox *mb)
{
	(void)mb;
	return -1;
}

static void
ms_notify_clear(struct kurir_mailbox *mb)
{
	(void)mb;
}

/* ---- append and delivery ----------------------------------------- */

static int
ms_append_begin(struct kurir_store *st, const char *mailbox, uint32_t flags,
    const char *keywords, int64_t internal_date, struct kurir_append **ap_r)
{
	struct kurir_append *ap;
	struct ms_mbox *m;
	int rc;

	*ap_r = NULL;
	if ((flags & ~0x1fu) != 0)
		return KURIR_E_INVALID;
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return KURIR_E_NOMEM;
	if ((ap->mailbox = ms_name(mailbox)) == NULL ||
	    (rc = kw_merge(ap->kw, keywords != NULL ? keywords : "",
	    NULL)) != KURIR_OK) {
		free(ap->mailbox);
		free(ap);
		return KURIR_E_INVALID;
	}
	if ((m = lock_mbox(st, ap->mailbox, &rc)) == NULL) {
		free(ap->mailbox);
		free(ap);
		return rc;
	}
	pthread_mutex_unlock(&ms_lock);
	ap->st = st;
	ap->flags = flags;
	ap->date = internal_date != 0 ? internal_date : (int64_t)time(NULL);
	*ap_r = ap;
	return KURIR_OK;
}

static int
ms_append_write(struct kurir_append *ap, const void *buf, size_t len)
{
	unsigned char *p;
	uint64_t cap;

	if (ap->size + len > ap->cap) {
		cap = ap->cap == 0 ? 65536 : ap->cap;
		while (cap < ap->size + len)
			cap *= 2;
		if ((p = realloc(ap->data, cap)) == NULL)
			return KURIR_E_NOMEM;
		ap->data = p;
		ap->cap = cap;
	}
	memcpy(ap->data + ap->size, buf, len);
	ap->size += len;
	return KURIR_OK;
}

static void
ms_append_abort(struct kurir_append *ap)
{
	if (ap == NULL)
		return;
	free(ap->data);
	free(ap->mailbox);
	free(ap);
}

/* Store a copy of ap's bytes in the store's mailbox (ms_lock held). */
static int
store_copy(struct kurir_store *st, const struct kurir_append *ap,
    const char *mailbox, uint32_t *uidv_r, uint32_t *uid_r)
{
	struct ms_mbox *m;
	struct ms_msg *g;
	int rc;

	if ((m = mbox_by_name(st->u, mailbox)) == NULL || m->noselect)
		return KURIR_E_NOTFOUND;
	if (over_quota(st, ap->size, 1))
		return KURIR_E_OVERQUOTA;
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->kw = strdup(ap->kw)) == NULL ||
	    (g->data = malloc(ap->size > 0 ? ap->size : 1)) == NULL) {
		if (g != NULL)
			msg_free(g);
		return KURIR_E_NOMEM;
	}
	memcpy(g->data, ap->data, ap->size);
	g->size = ap->size;
	g->flags = ap->flags;
	g->date = ap->date;
	if ((rc = add_msg(m, g)) != KURIR_OK) {
		msg_free(g);
		return rc;
	}
	if (uidv_r != NULL)
		*uidv_r = m->uidvalidity;
	if (uid_r != NULL)
		*uid_r = g->uid;
	return KURIR_OK;
}

static int
ms_append_commit(struct kurir_append *ap, uint32_t *uidvalidity_r,
    uint32_t *uid_r)
{
	int rc;

	pthread_mutex_lock(&ms_lock);
	rc = store_copy(ap->st, ap, ap->mailbox, uidvalidity_r, uid_r);
	pthread_mutex_unlock(&ms_lock);
	ms_append_abort(ap);
	return rc;
}

static void
ms_deliver_abort(struct kurir_delivery *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		ms_store_close(d->st[i]);
	free(d->body.data);
	free(d->st);
	free(d);
}

static int
ms_deliver_begin(const struct kurir_user_params *const *users,
    size_t nusers, int64_t internal_date, struct kurir_delivery **d_r)
{
	struct kurir_delivery *d;
	int rc;

	*d_r = NULL;
	if (users == NULL || nusers == 0)
		return KURIR_E_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->st = calloc(nusers, sizeof(*d->st))) == NULL) {
		free(d);
		return KURIR_E_NOMEM;
	}
	d->body.date = internal_date != 0 ? internal_date :
	    (int64_t)time(NULL);
	for (; d->n < nusers; d->n++)
		if ((rc = ms_store_open(users[d->n], &d->st[d->n])) != 0) {
			ms_deliver_abort(d);
			return rc;
		}
	*d_r = d;
	return KURIR_OK;
}

static int
ms_deliver_write(struct kurir_delivery *d, const void *buf, size_t len)
{
	return ms_append_write(&d->body, buf, len);
}

static int
ms_deliver_commit(struct kurir_delivery *d)
{
	int rc = KURIR_OK;
	size_t i;

	/* Under the one lock, checking everyone first is all-or-nothing. */
	pthread_mutex_lock(&ms_lock);
	for (i = 0; i < d->n && rc == KURIR_OK; i++)
		if (over_quota(d->st[i], d->body.size, 1))
			rc = KURIR_E_OVERQUOTA;
	for (i = 0; i < d->n && rc == KURIR_OK; i++)
		rc = store_copy(d->st[i], &d->body, "INBOX", NULL, NULL);
	pthread_mutex_unlock(&ms_lock);
	ms_deliver_abort(d);
	return rc;
}

/* ---- the module --------------------------------------------------- */

static int
ms_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	(void)errstr_r;
	ms_api = api;
	if (KURIR_HAS(api, log))
		api->log(mod, KURIR_LOG_NOTICE, "memstore is an example: mail "
		    "is kept in memory only");
	return KURIR_OK;
}

static const struct kurir_storage_ops ms_ops = {
	.size = sizeof(struct kurir_storage_ops),
	.store_open = ms_store_open,
	.store_close = ms_store_close,
	.quota_usage = ms_quota_usage,
	.mailbox_list = ms_mailbox_list,
	.mailbox_create = ms_mailbox_create,
	.mailbox_delete = ms_mailbox_delete,
	.mailbox_rename = ms_mailbox_rename,
	.mailbox_subscribe = ms_mailbox_subscribe,
	.mailbox_status = ms_mailbox_status,
	.mailbox_open = ms_mailbox_open,
	.mailbox_close = ms_mailbox_close,
	.mailbox_sync = ms_mailbox_sync,
	.msg_list = ms_msg_list,
	.msg_read = ms_msg_read,
	.msg_flags = ms_msg_flags,
	.msg_expunge = ms_msg_expunge,
	.msg_copy = ms_msg_copy,
	.changes_since = ms_changes_since,
	.cache_get = ms_cache_get,
	.cache_set = ms_cache_set,
	.notify_fd = ms_notify_fd,
	.notify_clear = ms_notify_clear,
	.append_begin = ms_append_begin,
	.append_write = ms_append_write,
	.append_commit = ms_append_commit,
	.append_abort = ms_append_abort,
	.deliver_begin = ms_deliver_begin,
	.deliver_write = ms_deliver_write,
	.deliver_commit = ms_deliver_commit,
	.deliver_abort = ms_deliver_abort,
};

static const struct kurir_module_desc ms_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_STORAGE,
	.name = "memstore",	/* must equal the file name: memstore.so */
	.version = "example",
	.conf_keys = NULL,
	.init = ms_init,
	.ops = &ms_ops,
};

KURIR_MODULE(memstore, ms_desc)
