/*
 * pop3_drop.c -- the maildrop: at login a snapshot of INBOX (numbers and
 * sizes fixed for the session, RFC 1939 section 5), and at QUIT the
 * UPDATE state: \Seen for what was retrieved, then the DELE'd messages
 * expunged or moved to Trash.  A dropped connection only records \Seen.
 * Storage calls run on a core thread (run_blocking) while the session's
 * input is paused; the session is never touched by the loop meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

/* ---- on the blocking thread --------------------------------------- */

#define POP3_SNAPSHOT_FULL	1	/* msg_list stopped at max_messages */

static int
pop3_snapshot_cb(void *arg, const struct kurir_msg *m)
{
	struct pop3_sess *s = arg;
	struct pop3_msg *nm;
	size_t cap;

	/* The snapshot is bounded: the oldest messages are shown, the
	 * rest wait for a later session. */
	if (pop3_conf.max_messages > 0 &&
	    s->nmsgs == pop3_conf.max_messages) {
		s->truncated = 1;
		return POP3_SNAPSHOT_FULL;
	}
	if (s->nmsgs == s->msgs_cap) {
		cap = s->msgs_cap == 0 ? 64 : s->msgs_cap * 2;
		if ((nm = reallocarray(s->msgs, cap, sizeof(*nm))) == NULL)
			return KURIR_E_NOMEM;
		s->msgs = nm;
		s->msgs_cap = cap;
	}
	nm = &s->msgs[s->nmsgs++];
	nm->uid = m->uid;
	nm->size = m->size;
	nm->flags = (m->flags & KURIR_FLAG_SEEN) ? POP3_MSG_SEEN : 0;
	s->total_bytes += m->size;
	return 0;
}

/* Close what the login opened, on any thread. */
static void
pop3_drop_close(struct pop3_sess *s)
{
	const struct kurir_storage_ops *so = pop3_api->storage();

	if (so == NULL) {
		pop3_lock_release(&s->lockfd);
		return;
	}
	if (s->mb != NULL) {
		so->mailbox_close(s->mb);
		s->mb = NULL;
	}
	if (s->st != NULL) {
		so->store_close(s->st);
		s->st = NULL;
	}
	pop3_lock_release(&s->lockfd);
}

static int
pop3_open_store(struct pop3_sess *s)
{
	const struct kurir_storage_ops *so = pop3_api->storage();
	const struct kurir_auth_ops *ao = pop3_api->auth();
	struct kurir_user_params p;
	struct kurir_auth_user u;
	struct kurir_mailbox_status ms;
	int r = KURIR_OK;

	/* `storage =` empty: no maildrop to open, a temporary failure. */
	if (so == NULL)
		return KURIR_E_TEMPFAIL;
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = s->authuser;
	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	if (ao != NULL && ao->lookup != NULL &&
	    (r = ao->lookup(s->authuser, &u)) == KURIR_OK) {
		p.quota_bytes = u.quota_bytes;
		p.quota_messages = u.quota_messages;
		if (u.location[0] != '\0')
			p.location = u.location;
	} else if (ao != NULL && ao->lookup != NULL && r != KURIR_E_NOTFOUND)
		return r;
	if ((r = so->store_open(&p, &s->st)) != KURIR_OK)
		return r;
	if ((r = so->mailbox_open(s->st, "INBOX", &s->mb)) != KURIR_OK)
		return r;
	if ((r = so->mailbox_sync(s->mb, &ms)) != KURIR_OK)
		return r;
	s->uidvalidity = ms.uidvalidity;
	r = so->msg_list(s->mb, 1, UINT32_MAX, pop3_snapshot_cb, s);
	return r == POP3_SNAPSHOT_FULL ? KURIR_OK : r;
}

static void
pop3_open_work(void *arg)
{
	struct pop3_sess *s = arg;
	int r;

	if ((r = pop3_lock_take(s->authuser, &s->lockfd)) == KURIR_OK &&
	    (r = pop3_open_store(s)) != KURIR_OK) {
		pop3_drop_close(s);
		free(s->msgs);
		s->msgs = NULL;
		s->nmsgs = s->msgs_cap = 0;
		s->total_bytes = 0;
		s->truncated = 0;
	}
	s->job_status = r;
}

/* Runs of consecutive snapshot entries with `need` and without `skip`
 * become UID ranges.  UIDs between two snapshot neighbours were expunged
 * before the snapshot and never come back, so a range may span them. */
static size_t
pop3_ranges(const struct pop3_sess *s, uint32_t need, uint32_t skip,
    struct kurir_uid_range *r)
{
	size_t i, n = 0;
	int open = 0;

	for (i = 0; i < s->nmsgs; i++) {
		const struct pop3_msg *m = &s->msgs[i];

		if ((m->flags & need) && !(m->flags & skip)) {
			if (open)
				r[n - 1].last = m->uid;
			else {
				r[n].first = r[n].last = m->uid;
				n++;
			}
			open = 1;
		} else
			open = 0;
	}
	return n;
}

/* The mailbox with the \Trash special use, else pop3_trash_mailbox. */
static int
pop3_trash_cb(void *arg, const char *name, uint32_t attrs)
{
	char *out = arg;

	if ((attrs & KURIR_MBX_TRASH) && strlen(name) < 256) {
		strcpy(out, name);
		return 1;
	}
	return 0;
}

static int
pop3_trash(struct pop3_sess *s, const struct kurir_uid_range *set,
    size_t n)
{
	const struct kurir_storage_ops *so = pop3_api->storage();
	char name[256];
	uint32_t uv;
	int r;

	name[0] = '\0';
	if (so->mailbox_list(s->st, pop3_trash_cb, name) < 0 ||
	    name[0] == '\0')
		strcpy(name, pop3_conf.trash);
	r = so->msg_copy(s->mb, set, n, name, 1, &uv, NULL, NULL);
	if (r == KURIR_E_NOTFOUND) {
		r = so->mailbox_create(s->st, name, KURIR_MBX_TRASH);
		if (r == KURIR_OK || r == KURIR_E_EXISTS)
			r = so->msg_copy(s->mb, set, n, name, 1, &uv, NULL,
			    NULL);
	}
	return r;
}

/* Does pop3_commit() have anything to write? */
static int
pop3_commit_needed(const struct pop3_sess *s, int update)
{
	uint32_t skip = POP3_MSG_SEEN;
	size_t i;

	if (s->mb == NULL)
		return 0;
	if (update && s->ndele > 0)
		return 1;
	if (update && !pop3_conf.delete_trash)
		skip |= POP3_MSG_DELE;
	for (i = 0; i < s->nmsgs; i++)
		if ((s->msgs[i].flags & POP3_MSG_RETR) &&
		    !(s->msgs[i].flags & skip))
			return 1;
	return 0;
}

/* \Seen for retrieved messages; with `update`, then the deletions. */
static int
pop3_commit(struct pop3_sess *s, int update)
{
	const struct kurir_storage_ops *so = pop3_api->storage();
	struct kurir_uid_range *set;
	uint32_t skip;
	size_t n;
	int r = KURIR_OK, rs;

	if (s->mb == NULL || s->nmsgs == 0)
		return KURIR_OK;
	if ((set = calloc(s->nmsgs, sizeof(*set))) == NULL)
		return KURIR_E_NOMEM;
	/* Expunged messages need no flag; trashed ones keep theirs. */
	skip = POP3_MSG_SEEN;
	if (update && !pop3_conf.delete_trash)
		skip |= POP3_MSG_DELE;
	if ((n = pop3_ranges(s, POP3_MSG_RETR, skip, set)) > 0 &&
	    (rs = so->msg_flags(s->mb, set, n, KURIR_FLAGS_ADD,
	    KURIR_FLAG_SEEN, NULL, 0, NULL, NULL)) != KURIR_OK) {
		pop3_api->log(pop3_mod, KURIR_LOG_WARNING,
		    "%s: cannot set \\Seen: %d", s->authuser, rs);
	}
	if (update && (n = pop3_ranges(s, POP3_MSG_DELE, 0, set)) > 0) {
		if (pop3_conf.delete_trash)
			r = pop3_trash(s, set, n);
		else
			r = so->msg_expunge(s->mb, set, n);
		if (r == KURIR_OK)
			s->nexpunged = s->ndele;
	}
	free(set);
	return r;
}

static void
pop3_update_work(void *arg)
{
	struct pop3_sess *s = arg;

	s->job_status = pop3_commit(s, 1);
	pop3_drop_close(s);
}

static void
pop3_abandon_work(void *arg)
{
	struct pop3_sess *s = arg;

	(void)pop3_commit(s, 0);
	pop3_drop_close(s);
}

/* ---- on the loop ---------------------------------------------------- */

static void
pop3_open_done(void *arg)
{
	struct pop3_sess *s = arg;

	s->job = 0;
	if (s->gone) {
		pop3_drop_abandon(s);
		return;
	}
	switch (s->job_status) {
	case KURIR_OK:
		pop3_api->conn_log(s->c, KURIR_LOG_INFO,
		    "login: user=%s method=%s messages=%zu%s", s->authuser,
		    s->mech, s->nmsgs, s->truncated ?
		    " (pop3_max_messages reached, more in INBOX)" : "");
		pop3_reply(s, "+OK Logged in, %zu messages (%llu octets).",
		    s->nmsgs, (unsigned long long)s->total_bytes);
		pop3_resume(s, POP3_ST_TRANS);
		return;
	case KURIR_E_BUSY:
		pop3_api->conn_log(s->c, KURIR_LOG_INFO,
		    "login: user=%s refused: maildrop in use", s->authuser);
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another "
		    "POP3 session.");
		break;
	default:
		pop3_api->conn_log(s->c, KURIR_LOG_ERR,
		    "login: user=%s: cannot open INBOX: %d", s->authuser,
		    s->job_status);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try "
		    "again later.");
		break;
	}
	explicit_bzero(s->authuser, sizeof(s->authuser));
	pop3_resume(s, POP3_ST_AUTH);
}

/* Authenticated as s->authuser: lock and snapshot (input paused). */
void
pop3_drop_open(struct pop3_sess *s)
{
	pop3_pause(s, POP3_ST_WAIT);
	s->job = 1;
	if (pop3_api->run_blocking(pop3_open_work, pop3_open_done, s) < 0) {
		s->job = 0;
		pop3_reply(s, "-ERR [SYS/TEMP] Server busy, try again later.");
		pop3_resume(s, POP3_ST_AUTH);
	}
}

static void
pop3_update_done(void *arg)
{
	struct pop3_sess *s = arg;

	s->job = 0;
	if (!s->gone)
		pop3_api->conn_log(s->c, KURIR_LOG_INFO,
		    "logout: user=%s retr=%u/%llu dele=%u expunged=%u%s",
		    s->authuser, s->nretr, (unsigned long long)s->retr_bytes,
		    s->ndele, s->nexpunged,
		    s->job_status == KURIR_OK ? "" : " update failed");
	if (s->gone) {
		pop3_sess_free(s);
		return;
	}
	if (s->job_status == KURIR_OK)
		pop3_reply(s, "+OK kurir POP3 server signing off (%u "
		    "messages deleted).", s->nexpunged);
	else
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages were "
		    "not removed.");
	s->state = POP3_ST_CLOSED;
	pop3_api->conn_close(s->c);
}

/* QUIT in TRANSACTION: the UPDATE state, then the end.  With nothing
 * to write (no new \Seen, no DELE) closing the maildrop is quick and
 * done here, without the round trip through a thread. */
void
pop3_drop_update(struct pop3_sess *s)
{
	if (!pop3_commit_needed(s, 1)) {
		s->state = POP3_ST_UPDATE;
		pop3_drop_close(s);
		s->job_status = KURIR_OK;
		pop3_update_done(s);
		return;
	}
	pop3_pause(s, POP3_ST_UPDATE);
	s->job = 1;
	if (pop3_api->run_blocking(pop3_update_work, pop3_update_done,
	    s) < 0) {
		/* No thread to take it: do it here rather than lose it. */
		pop3_update_work(s);
		pop3_update_done(s);
	}
}

static void
pop3_abandon_done(void *arg)
{
	pop3_sess_free(arg);
}

/* The connection is gone with no job running: record \Seen, release
 * the maildrop and the lock, free the session. */
void
pop3_drop_abandon(struct pop3_sess *s)
{
	if (s->mb == NULL && s->st == NULL && s->lockfd < 0) {
		pop3_sess_free(s);
		return;
	}
	if (!pop3_commit_needed(s, 0)) {
		pop3_drop_close(s);
		pop3_sess_free(s);
		return;
	}
	s->job = 1;
	if (pop3_api->run_blocking(pop3_abandon_work, pop3_abandon_done,
	    s) < 0) {
		pop3_abandon_work(s);
		pop3_abandon_done(s);
	}
}

/* The message a client's number names, or NULL for a bad number. */
struct pop3_msg *
pop3_drop_msg(struct pop3_sess *s, const char *arg)
{
	uint32_t n;

	if (pop3_parse_num(arg, &n) < 0 || n == 0 || n > s->nmsgs)
		return NULL;
	return &s->msgs[n - 1];
}

/* RFC 1939 unique-id: 16 hex digits of UIDVALIDITY and UID, so stable
 * across sessions and restarts and never reused. */
void
pop3_drop_uidl(const struct pop3_sess *s, const struct pop3_msg *m,
    char *buf, size_t cap)
{
	snprintf(buf, cap, "%08x%08x", s->uidvalidity, m->uid);
}
