/*
 * api.c -- assembles struct kurir_core_api, the one table through which
 * modules reach the core.  Most entries are the core's own functions;
 * the few wrappers here adapt the per-process event loop and add the
 * module's name to its log lines.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "address.h"
#include "config.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "login.h"
#include "module.h"
#include "queue.h"
#include "watch.h"

static void
api_log(struct kurir_module *mod, int level, const char *fmt, ...)
{
	char	prefix[64];
	va_list	ap;

	snprintf(prefix, sizeof(prefix), "%s:",
	    mod != NULL ? module_desc(mod)->name : "module");
	va_start(ap, fmt);
	log_msgv(level, prefix, fmt, ap);
	va_end(ap);
}

static struct kurir_timer *
api_timer_add(uint64_t ms, kurir_cb *cb, void *arg)
{
	return (struct kurir_timer *)ev_timer_add(ev_default(), ms, cb, arg);
}

static void
api_timer_del(struct kurir_timer *t)
{
	ev_timer_del((struct ev_timer *)t);
}

struct api_watch {
	struct ev_io	*io;
	kurir_fd_cb	*cb;
	void		*arg;
};

static void
api_watch_ready(int fd, uint32_t revents, void *arg)
{
	struct api_watch	*w = arg;

	w->cb(fd, w->arg);
}

static struct kurir_watch *
api_watch_fd(int fd, kurir_fd_cb *cb, void *arg)
{
	struct api_watch	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	if ((w->io = ev_io_add(ev_default(), fd, EV_READ, api_watch_ready,
	    w)) == NULL) {
		free(w);
		return NULL;
	}
	return (struct kurir_watch *)w;
}

static void
api_watch_del(struct kurir_watch *kw)
{
	struct api_watch	*w = (struct api_watch *)kw;

	if (w == NULL)
		return;
	ev_io_del(w->io);
	free(w);
}

static int
api_defer(kurir_cb *cb, void *arg)
{
	return ev_defer(ev_default(), cb, arg) == 0 ? KURIR_OK :
	    KURIR_E_NOMEM;
}

static int
api_run_blocking(kurir_cb *work, kurir_cb *done, void *arg)
{
	return ev_run_blocking(ev_default(), work, done, arg) == 0 ?
	    KURIR_OK : KURIR_E_TEMPFAIL;
}

static const struct kurir_core_api core_api = {
	.size = sizeof(struct kurir_core_api),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.version = PACKAGE_VERSION,
	.log = api_log,
	.conn_log = conn_log,
	.log_escape = log_escape,
	.conf_str = config_str,
	.conf_num = config_num,
	.conn_write = conn_write,
	.conn_printf = conn_printf,
	.conn_writable = conn_writable,
	.conn_read_bytes = conn_read_bytes,
	.conn_pause = conn_pause,
	.conn_resume = conn_resume,
	.conn_starttls = conn_starttls,
	.conn_close = conn_close,
	.conn_set_timeout = conn_set_timeout,
	.conn_is_tls = conn_is_tls,
	.conn_tls_info = conn_tls_info,
	.conn_is_loopback = conn_is_loopback,
	.conn_peer_addr = conn_peer_addr,
	.conn_peer_port = conn_peer_port,
	.conn_local_addr = conn_local_addr,
	.conn_local_port = conn_local_port,
	.conn_service = conn_service,
	.conn_id = conn_id,
	.conn_plaintext_ok = conn_plaintext_ok,
	.timer_add = api_timer_add,
	.timer_del = api_timer_del,
	.watch_fd = api_watch_fd,
	.watch_del = api_watch_del,
	.defer = api_defer,
	.run_blocking = api_run_blocking,
	.now_ms = ev_now_ms,
	.storage = module_storage_ops,
	.auth = module_auth_ops,
	.sasl_mechs = sasl_mechs,
	.sasl_start = sasl_start,
	.sasl_step = sasl_step,
	.sasl_free = sasl_free,
	.login_plain = login_plain,
	.is_local_domain = address_is_local_domain,
	.rcpt_resolve = address_rcpt_resolve,
	/* ABI 1.0, queue (core/queue*.c) */
	.queue_begin = queue_begin,
	.queue_write = queue_write,
	.queue_add_rcpt = queue_add_rcpt,
	.queue_commit = queue_commit,
	.queue_abort = queue_abort,
	.queue_scan = queue_scan,
	.queue_open = queue_open,
	.queue_info = queue_info,
	.queue_rcpt = queue_rcpt,
	.queue_read = queue_read,
	.queue_set_rcpt = queue_set_rcpt,
	.queue_save = queue_save,
	.queue_close = queue_close,
	/* ABI 1.0, queue (two-phase) */
	.queue_prepare = queue_prepare,
	/* ABI 1.0, watch_path (core/watch.c) */
	.watch_path = watch_add,
	.watch_path_del = watch_del,
	/* ABI 1.0, queue (success reports) */
	.queue_add_delivered = queue_add_delivered,
};

const struct kurir_core_api *
api_table(void)
{
	return &core_api;
}
