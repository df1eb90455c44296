/*
 * imap_mock.c -- the in-memory core used by check_imap_session: a
 * services table with connections as byte buffers, synchronous
 * run_blocking/defer, fd and path watches (an inotify instance each)
 * polled on request, timers fired only by that poll, a fake SASL
 * (password "secret"), and the real storage module.
 */
#include <sys/inotify.h>

#include <dlfcn.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kurir/module.h>

#include "imap_mock.h"

#define MAX_CONF	32
#define MAX_WATCH	64
#define MAX_TIMER	64

static struct {
	const char	*key;
	int64_t		 v;
} conf[MAX_CONF];
static size_t nconf;
static char state_dir[256];
static void *h_imap, *h_store;
static const struct kurir_module_desc *d_imap, *d_store;
static size_t high_water;
static struct kurir_core_api api;

struct kurir_watch {
	int		 fd;
	kurir_fd_cb	*cb;
	void		*arg;
	int		 used;
	kurir_cb	*pcb;		/* a path watch: fd is its inotify */
};
static struct kurir_watch watches[MAX_WATCH];

struct kurir_timer {
	uint64_t	 due;
	kurir_cb	*cb;
	void		*arg;
	int		 used;
};
static struct kurir_timer timers[MAX_TIMER];

struct kurir_sasl {
	struct kurir_conn *c;
	kurir_sasl_cb	*cb;
	void		*arg;
};

void
mock_conf_set(const char *key, int64_t v)
{
	size_t i;

	for (i = 0; i < nconf; i++)
		if (strcmp(conf[i].key, key) == 0) {
			conf[i].v = v;
			return;
		}
	if (nconf < MAX_CONF) {
		conf[nconf].key = key;
		conf[nconf].v = v;
		nconf++;
	}
}

void
mock_set_high_water(size_t bytes)
{
	high_water = bytes;
}

static void
m_log(struct kurir_module *mod, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > KURIR_LOG_WARNING || getenv("MOCK_QUIET") != NULL)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
m_conn_log(struct kurir_conn *c, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > KURIR_LOG_WARNING)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static char *
m_log_escape(char *out, size_t cap, const void *buf, size_t len)
{
	snprintf(out, cap, "%.*s", (int)len, (const char *)buf);
	return out;
}

static const char *
m_conf_str(const char *key)
{
	if (strcmp(key, "state_dir") == 0)
		return state_dir;
	return NULL;
}

static int64_t
m_conf_num(const char *key)
{
	size_t i;

	for (i = 0; i < nconf; i++)
		if (strcmp(conf[i].key, key) == 0)
			return conf[i].v;
	return -1;
}

static int
m_write(struct kurir_conn *c, const void *buf, size_t len)
{
	if (c->closed)
		return KURIR_E_INVALID;
	if (c->out_len + len + 1 > c->out_cap) {
		size_t n = c->out_cap == 0 ? 65536 : c->out_cap;

		while (n < c->out_len + len + 1)
			n *= 2;
		c->out = realloc(c->out, n);
		c->out_cap = n;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	c->out[c->out_len] = '\0';
	c->queued += len;
	return 0;
}

static int
m_printf(struct kurir_conn *c, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return m_write(c, buf, (size_t)n);
}

static int
m_writable(struct kurir_conn *c)
{
	return high_water == 0 || c->queued < high_water;
}

static int
m_read_bytes(struct kurir_conn *c, uint64_t n)
{
	c->lit_left = n;
	return 0;
}

static void
m_pause(struct kurir_conn *c)
{
	c->paused = 1;
}

static void
m_resume(struct kurir_conn *c)
{
	c->paused = 0;
}

static int
m_starttls(struct kurir_conn *c)
{
	return KURIR_E_UNSUPPORTED;
}

static void
m_close(struct kurir_conn *c)
{
	c->close_requested = 1;
}

static void
m_set_timeout(struct kurir_conn *c, uint32_t s)
{
}

static int
m_zero(struct kurir_conn *c)
{
	return 0;
}

static int
m_one(struct kurir_conn *c)
{
	return 1;
}

static const char *
m_tls_info(struct kurir_conn *c)
{
	return NULL;
}

static const char *
m_addr(struct kurir_conn *c)
{
	return "127.0.0.1";
}

static uint16_t
m_port(struct kurir_conn *c)
{
	return 2143;
}

static const char *
m_service(struct kurir_conn *c)
{
	return "imap";
}

static uint64_t
m_id(struct kurir_conn *c)
{
	return (uint64_t)(uintptr_t)c;
}

static uint64_t m_now_ms(void);

static struct kurir_timer *
m_timer_add(uint64_t ms, kurir_cb *cb, void *arg)
{
	size_t i;

	for (i = 0; i < MAX_TIMER; i++)
		if (!timers[i].used) {
			timers[i].used = 1;
			timers[i].due = m_now_ms() + ms;
			timers[i].cb = cb;
			timers[i].arg = arg;
			return &timers[i];
		}
	return NULL;
}

static void
m_timer_del(struct kurir_timer *t)
{
	if (t != NULL)
		t->used = 0;
}

static struct kurir_watch *
m_watch_fd(int fd, kurir_fd_cb *cb, void *arg)
{
	size_t i;

	for (i = 0; i < MAX_WATCH; i++)
		if (!watches[i].used) {
			watches[i].used = 1;
			watches[i].fd = fd;
			watches[i].cb = cb;
			watches[i].arg = arg;
			return &watches[i];
		}
	return NULL;
}

static void
m_watch_del(struct kurir_watch *w)
{
	w->used = 0;
}

/* What the core's watch service does: one inotify instance for all,
 * a kernel watch per path (the same wd for the same path). */
static int ino = -1;

static struct kurir_pathwatch *
m_watch_path(const char *path, uint32_t events, kurir_cb *cb, void *arg)
{
	size_t i;
	int wd;

	if (ino == -1 && (ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return NULL;
	if ((wd = inotify_add_watch(ino, path, IN_MODIFY | IN_ATTRIB |
	    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
	    IN_DELETE_SELF)) == -1)
		return NULL;
	for (i = 0; i < MAX_WATCH; i++)
		if (!watches[i].used) {
			watches[i].used = 1;
			watches[i].fd = wd;
			watches[i].pcb = cb;
			watches[i].arg = arg;
			return (struct kurir_pathwatch *)(void *)&watches[i];
		}
	return NULL;
}

static void
m_watch_path_del(struct kurir_pathwatch *pw)
{
	struct kurir_watch *w = (struct kurir_watch *)(void *)pw;
	size_t i;

	if (w == NULL)
		return;
	w->used = 0;
	w->pcb = NULL;
	for (i = 0; i < MAX_WATCH; i++)
		if (watches[i].used && watches[i].pcb != NULL &&
		    watches[i].fd == w->fd)
			return;
	(void)inotify_rm_watch(ino, w->fd);
}

static int
m_defer(kurir_cb *cb, void *arg)
{
	cb(arg);
	return 0;
}

static int
m_run_blocking(kurir_cb *work, kurir_cb *done, void *arg)
{
	work(arg);
	done(arg);
	return 0;
}

static uint64_t
m_now_ms(void)
{
	return 0;
}

static const struct kurir_storage_ops *
m_storage(void)
{
	return d_store->ops;
}

static const struct kurir_auth_ops *
m_auth(void)
{
	return NULL;
}

static const char *
m_sasl_mechs(struct kurir_conn *c)
{
	return "PLAIN";
}

static int
m_sasl_start(struct kurir_conn *c, const char *mech, const char *initial,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **sasl_r)
{
	struct kurir_sasl *s;

	if (strcasecmp(mech, "PLAIN") != 0) {
		cb(arg, KURIR_SASL_BADPROTO, "");
		*sasl_r = NULL;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	s->c = c;
	s->cb = cb;
	s->arg = arg;
	*sasl_r = s;
	/* "AGFsaWNlQGxvY2FsaG9zdABzZWNyZXQ=": \0alice@localhost\0secret */
	if (initial == NULL)
		cb(arg, KURIR_SASL_CONTINUE, "");
	else if (strcmp(initial, "AGFsaWNlQGxvY2FsaG9zdABzZWNyZXQ=") == 0)
		cb(arg, KURIR_SASL_OK, "alice@localhost");
	else
		cb(arg, KURIR_SASL_FAIL, "");
	return 0;
}

static int
m_sasl_step(struct kurir_sasl *s, const char *resp)
{
	if (strcmp(resp, "AGFsaWNlQGxvY2FsaG9zdABzZWNyZXQ=") == 0)
		s->cb(s->arg, KURIR_SASL_OK, "alice@localhost");
	else
		s->cb(s->arg, KURIR_SASL_FAIL, "");
	return 0;
}

static void
m_sasl_free(struct kurir_sasl *s)
{
	free(s);
}

static int
m_login_plain(struct kurir_conn *c, const char *user, const char *pw,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **sasl_r)
{
	struct kurir_sasl *s = calloc(1, sizeof(*s));

	*sasl_r = s;
	if (strcmp(pw, "secret") == 0)
		cb(arg, KURIR_SASL_OK, user);
	else
		cb(arg, KURIR_SASL_FAIL, "");
	return 0;
}

static int
m_is_local(const char *d)
{
	return 1;
}

static int
m_rcpt_resolve(const char *a, kurir_rcpt_cb *cb, void *arg)
{
	return cb(arg, a, 1);
}

static void
api_fill(void)
{
	memset(&api, 0, sizeof(api));
	api.size = sizeof(api);
	api.abi_major = KURIR_ABI_MAJOR;
	api.abi_minor = KURIR_ABI_MINOR;
	api.version = "mock";
	api.log = m_log;
	api.conn_log = m_conn_log;
	api.log_escape = m_log_escape;
	api.conf_str = m_conf_str;
	api.conf_num = m_conf_num;
	api.conn_write = m_write;
	api.conn_printf = m_printf;
	api.conn_writable = m_writable;
	api.conn_read_bytes = m_read_bytes;
	api.conn_pause = m_pause;
	api.conn_resume = m_resume;
	api.conn_starttls = m_starttls;
	api.conn_close = m_close;
	api.conn_set_timeout = m_set_timeout;
	api.conn_is_tls = m_zero;
	api.conn_tls_info = m_tls_info;
	api.conn_is_loopback = m_one;
	api.conn_peer_addr = m_addr;
	api.conn_peer_port = m_port;
	api.conn_local_addr = m_addr;
	api.conn_local_port = m_port;
	api.conn_service = m_service;
	api.conn_id = m_id;
	api.conn_plaintext_ok = m_one;
	api.timer_add = m_timer_add;
	api.timer_del = m_timer_del;
	api.watch_fd = m_watch_fd;
	api.watch_del = m_watch_del;
	api.watch_path = m_watch_path;
	api.watch_path_del = m_watch_path_del;
	api.defer = m_defer;
	api.run_blocking = m_run_blocking;
	api.now_ms = m_now_ms;
	api.storage = m_storage;
	api.auth = m_auth;
	api.sasl_mechs = m_sasl_mechs;
	api.sasl_start = m_sasl_start;
	api.sasl_step = m_sasl_step;
	api.sasl_free = m_sasl_free;
	api.login_plain = m_login_plain;
	api.is_local_domain = m_is_local;
	api.rcpt_resolve = m_rcpt_resolve;
}

static const struct kurir_module_desc *
load(const char *name, void **h_r)
{
	char path[1024], sym[128];
	const char *b = getenv("KURIR_BUILDDIR");
	const struct kurir_module_desc *(*entry)(void);
	const struct kurir_module_desc *d;
	const char *why = NULL;

	snprintf(path, sizeof(path), "%s/modules/.libs/%s.so",
	    b != NULL ? b : ".", name);
	if ((*h_r = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return NULL;
	snprintf(sym, sizeof(sym), "%s_LTX_kurir_module_entry", name);
	*(void **)&entry = dlsym(*h_r, sym);
	if (entry == NULL)
		return NULL;
	d = entry();
	if (d->init != NULL && d->init(NULL, &api, &why) != 0) {
		fprintf(stderr, "%s: init: %s\n", name, why ? why : "?");
		return NULL;
	}
	if (d->init_worker != NULL && d->init_worker(NULL, &why) != 0) {
		fprintf(stderr, "%s: init_worker: %s\n", name, why ? why : "?");
		return NULL;
	}
	return d;
}

int
mock_setup(const char *storage)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/imap-mock.XXXXXX");
	if (mkdtemp(state_dir) == NULL)
		return 99;
	api_fill();
	memset(watches, 0, sizeof(watches));
	memset(timers, 0, sizeof(timers));
	if ((d_store = load(storage, &h_store)) == NULL)
		return 77;
	if ((d_imap = load("imap", &h_imap)) == NULL)
		return 77;
	return 0;
}

void
mock_teardown(void)
{
	char cmd[512];

	if (d_store != NULL && d_store->fini != NULL)
		d_store->fini(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", state_dir);
}

const struct kurir_proto_ops *
mock_imap(void)
{
	return d_imap->ops;
}

const struct kurir_storage_ops *
mock_storage(void)
{
	return d_store->ops;
}

struct kurir_conn *
mock_connect(void)
{
	struct kurir_conn *c = calloc(1, sizeof(*c));

	if (mock_imap()->on_connect(c, &c->sess) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

void
mock_disconnect(struct kurir_conn *c)
{
	if (!c->closed)
		mock_imap()->on_close(c->sess);
	free(c->out);
	free(c);
}

/* Let a paused job run: the "socket" drains. */
static void
drain(struct kurir_conn *c)
{
	int guard = 0;

	while (c->paused && !c->closed && guard++ < 1000000) {
		c->queued = 0;
		if (mock_imap()->on_drain != NULL)
			mock_imap()->on_drain(c->sess);
		if (c->paused && c->queued == 0)
			break;		/* waiting for something else */
	}
	c->queued = 0;
}

const char *
mock_send(struct kurir_conn *c, const char *bytes, size_t len)
{
	size_t start = c->out_len, pos = 0;
	static char line[1 << 16];

	while (pos < len && !c->closed) {
		if (c->lit_left > 0) {
			size_t n = len - pos;

			/* odd chunk sizes, like a real socket */
			if (n > 1000)
				n = 1000;
			if (n > c->lit_left)
				n = (size_t)c->lit_left;
			c->lit_left -= n;
			mock_imap()->on_data(c->sess, bytes + pos, n,
			    c->lit_left);
			pos += n;
		} else {
			const char *nl = memchr(bytes + pos, '\n', len - pos);
			size_t n, ll;
			uint32_t fl = KURIR_LINE_LF;

			if (nl == NULL)
				break;
			n = (size_t)(nl - (bytes + pos));
			ll = n;
			if (ll > 0 && bytes[pos + ll - 1] == '\r') {
				ll--;
				fl = KURIR_LINE_CRLF;
			}
			if (ll >= sizeof(line))
				ll = sizeof(line) - 1;
			memcpy(line, bytes + pos, ll);
			line[ll] = '\0';
			pos += n + 1;
			mock_imap()->on_line(c->sess, line, ll, fl);
		}
		drain(c);
		if (c->close_requested && !c->closed) {
			mock_imap()->on_close(c->sess);
			c->closed = 1;
		}
	}
	drain(c);
	if (c->out == NULL)
		return "";
	return c->out + start;
}

const char *
mock_sends(struct kurir_conn *c, const char *str)
{
	return mock_send(c, str, strlen(str));
}

/* The path watches whose wd is in the inotify events read now. */
static void
poll_paths(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(
	    struct inotify_event))));
	const struct inotify_event *ie;
	int hit[MAX_WATCH];
	ssize_t n, off;
	size_t i;

	memset(hit, 0, sizeof(hit));
	while ((n = read(ino, buf, sizeof(buf))) > 0)
		for (off = 0; off + (ssize_t)sizeof(*ie) <= n;
		    off += (ssize_t)sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(void *)(buf + off);
			for (i = 0; i < MAX_WATCH; i++)
				if (watches[i].used && watches[i].pcb != NULL &&
				    watches[i].fd == ie->wd)
					hit[i] = 1;
		}
	for (i = 0; i < MAX_WATCH; i++)
		if (hit[i] && watches[i].used && watches[i].pcb != NULL)
			watches[i].pcb(watches[i].arg);
}

void
mock_poll_watches(int timeout_ms)
{
	struct pollfd pfd[MAX_WATCH + 1];
	size_t idx[MAX_WATCH], n = 0, i;
	uint64_t now;
	int fired;

	for (i = 0; i < MAX_WATCH; i++)
		if (watches[i].used && watches[i].pcb == NULL) {
			pfd[n].fd = watches[i].fd;
			pfd[n].events = POLLIN;
			idx[n++] = i;
		}
	if (ino != -1) {
		pfd[n].fd = ino;
		pfd[n].events = POLLIN;
		idx[n++] = MAX_WATCH;
	}
	if (n == 0 || poll(pfd, n, timeout_ms) <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		if (idx[i] == MAX_WATCH)
			poll_paths();
		else if (watches[idx[i]].used)
			watches[idx[i]].cb(watches[idx[i]].fd,
			    watches[idx[i]].arg);
	}
	/* then the timers that are due, as the loop would */
	do {
		fired = 0;
		now = m_now_ms();
		for (i = 0; i < MAX_TIMER; i++)
			if (timers[i].used && timers[i].due <= now) {
				timers[i].used = 0;
				timers[i].cb(timers[i].arg);
				fired = 1;
			}
	} while (fired);
}

size_t
mock_mark(struct kurir_conn *c)
{
	return c->out_len;
}

const char *
mock_since(struct kurir_conn *c, size_t mark)
{
	return c->out != NULL ? c->out + mark : "";
}
