/*
 * imap_idle.c -- IDLE (RFC 2177): while idling, the storage backend's
 * change notification for the selected mailbox is on, so mail delivered
 * by another process, and flag changes and expunges by other sessions,
 * are pushed at once.
 *
 * notify_set() (the backends build it on the core's per-process path
 * watches, which also own the polling fallback) is preferred; a backend
 * without it may offer the older notify_fd() descriptor; one with
 * neither is polled here once a second.  A notification only schedules
 * a sync at the end of the loop iteration (a zero timer), so the several
 * directories a Maildir change touches cost one sync.
 */
#include <string.h>
#include <strings.h>

#include "imap.h"

#define IDLE_POLL_MS	1000

static void idle_timer_cb(void *arg);

int
imap_notify_set_ok(const struct kurir_storage_ops *st)
{
	return st != NULL && KURIR_HAS(st, notify_set) &&
	    st->notify_set != NULL;
}

static void
idle_update(struct imap_sess *s)
{
	const struct kurir_storage_ops *st = imap_api->storage();

	if (s->view == NULL)
		return;
	if (st->notify_clear != NULL)
		st->notify_clear(s->view->mb);
	imap_view_sync(s, 1);
}

static void
idle_fd_cb(int fd, void *arg)
{
	idle_update(arg);
}

static void
idle_timer_cb(void *arg)
{
	struct imap_sess *s = arg;

	s->idle_timer = NULL;
	if (!s->idle)
		return;
	idle_update(s);
	s->idle_timer = imap_api->timer_add(IDLE_POLL_MS, idle_timer_cb, s);
}

static void
idle_flush_cb(void *arg)
{
	struct imap_sess *s = arg;

	s->idle_timer = NULL;
	if (s->idle)
		idle_update(s);
}

/* The storage says the mailbox may have changed. */
static void
idle_notify_cb(void *arg)
{
	struct imap_sess *s = arg;

	if (s->idle && s->idle_timer == NULL)
		s->idle_timer = imap_api->timer_add(0, idle_flush_cb, s);
}

void
imap_cmd_idle(struct imap_sess *s, struct imap_arg *a)
{
	const struct kurir_storage_ops *st = imap_api->storage();

	if (a != NULL) {
		imap_done(s, "BAD", "IDLE takes no arguments");
		return;
	}
	imap_printf(s, "+ idling\r\n");
	s->idle = 1;
	imap_api->conn_set_timeout(s->c, imap_conf.idle_timeout);
	if (s->view == NULL)
		return;
	/* on before the first sync: no change falls in between */
	if (imap_notify_set_ok(st) &&
	    st->notify_set(s->view->mb, idle_notify_cb, s) == KURIR_OK) {
		idle_update(s);
		return;
	}
	idle_update(s);
	if (s->view->notify_fd >= 0)
		s->watch = imap_api->watch_fd(s->view->notify_fd, idle_fd_cb,
		    s);
	if (s->watch == NULL)
		s->idle_timer = imap_api->timer_add(IDLE_POLL_MS,
		    idle_timer_cb, s);
}

void
imap_idle_stop(struct imap_sess *s)
{
	const struct kurir_storage_ops *st;

	if (s->idle && s->view != NULL) {
		st = imap_api->storage();
		if (imap_notify_set_ok(st))
			(void)st->notify_set(s->view->mb, NULL, NULL);
	}
	if (s->watch != NULL) {
		imap_api->watch_del(s->watch);
		s->watch = NULL;
	}
	if (s->idle_timer != NULL) {
		imap_api->timer_del(s->idle_timer);
		s->idle_timer = NULL;
	}
	if (s->idle) {
		s->idle = 0;
		if (s->c != NULL && !s->closing)
			imap_api->conn_set_timeout(s->c, imap_conf.autologout);
	}
}

void
imap_idle_line(struct imap_sess *s, const char *line, size_t len)
{
	imap_idle_stop(s);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_done(s, "OK", "IDLE terminated");
	else
		imap_done(s, "BAD", "Expected DONE");
}
