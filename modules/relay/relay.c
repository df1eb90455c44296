/*
 * relay.c -- the relay module: delivers the core's outbound queue to
 * other SMTP servers (see relay.h).  A protocol module without services:
 * it only runs in the background of a worker.  Exactly one worker runs
 * the queue, the one holding STATE_DIR/queue/runner.lock (flock); the
 * others try again every few seconds, so the queue keeps running when
 * that worker dies.  The loop only watches the queue directory with
 * inotify and passes the changed ids to the scheduler thread; when no
 * inotify instance is to be had (a per-user limit), it polls the
 * directory's modification time once a second instead.
 */
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kurir/module.h>
#include <kurir/proto.h>

#include "relay.h"

#ifndef RELAY_NAME
#define RELAY_NAME	relay
#endif

#define LOCK_RETRY_MS	3000
#define POLL_MS		1000	/* without inotify */

const struct kurir_core_api	*relay_api;
struct kurir_module		*relay_mod;
struct relay_conf		 relay_conf;

static int			 lock_fd = -1, ino_fd = -1;
static struct kurir_timer	*lock_timer, *poll_timer;
static struct kurir_watch	*ino_watch;
static struct timespec		 poll_mtime;

static const struct kurir_conf_key relay_keys[] = {
	{ "outbound_tls", KURIR_CONF_ENUM, "opportunistic",
	    "none|opportunistic|verify",
	    "STARTTLS to other servers: never, when offered, or required "
	    "with a verified certificate" },
	{ "queue_lifetime", KURIR_CONF_DURATION, "5d", NULL,
	    "how long a message is retried before it bounces" },
	{ "queue_retry_schedule", KURIR_CONF_LIST, "1m,5m,15m,30m,1h", NULL,
	    "waits between delivery attempts; the last one repeats" },
	{ "relay_concurrency", KURIR_CONF_INT, "20", NULL,
	    "outbound SMTP connections at once (delivery threads)" },
	{ "relay_destination_concurrency", KURIR_CONF_INT, "10", NULL,
	    "deliveries at once to one destination domain" },
	{ "relay_timeout", KURIR_CONF_DURATION, "5m", NULL,
	    "longest wait for a reply from another server" },
	{ "relay_connect_timeout", KURIR_CONF_DURATION, "30s", NULL,
	    "longest wait for a connection to another server" },
	{ "dns_stub", KURIR_CONF_STRING, "", NULL,
	    "tests: a file of \"name TYPE value\" lines that replaces DNS" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct kurir_service_desc relay_services[] = {
	{ NULL, NULL, 0 }
};

static int
relay_init(struct kurir_module *mod, const struct kurir_core_api *api,
    const char **errstr_r)
{
	relay_mod = mod;
	relay_api = api;
	if (!KURIR_HAS(api, queue_close)) {
		*errstr_r = "the core has no outbound queue (ABI too old)";
		return KURIR_E_UNSUPPORTED;
	}
	return KURIR_OK;
}

static void
conf_load(void)
{
	const char	*s, *p;
	char		 word[32];
	size_t		 len;
	int64_t		 v;

	memset(&relay_conf, 0, sizeof(relay_conf));
	s = relay_api->conf_str("outbound_tls");
	relay_conf.tls = s != NULL && strcmp(s, "none") == 0 ? RELAY_TLS_NONE :
	    s != NULL && strcmp(s, "verify") == 0 ? RELAY_TLS_VERIFY :
	    RELAY_TLS_OPPORTUNISTIC;
	v = relay_api->conf_num("relay_concurrency");
	relay_conf.concurrency = v > 0 && v < 1000 ? (uint32_t)v : 20;
	v = relay_api->conf_num("relay_destination_concurrency");
	relay_conf.dest_concurrency = v > 0 ? (uint32_t)v : 10;
	v = relay_api->conf_num("relay_timeout");
	relay_conf.timeout = v > 0 ? (uint32_t)v : 300;
	v = relay_api->conf_num("relay_connect_timeout");
	relay_conf.connect_timeout = v > 0 ? (uint32_t)v : 30;
	v = relay_api->conf_num("queue_lifetime");
	relay_conf.lifetime = v >= 0 ? v : 5 * 86400;
	/* "1m,5m,15m": each a duration like the config's own. */
	s = relay_api->conf_str("queue_retry_schedule");
	for (p = s != NULL ? s : ""; *p != '\0' &&
	    relay_conf.nretry < RELAY_MAX_RETRIES; p += len) {
		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0 || len >= sizeof(word))
			continue;
		memcpy(word, p, len);
		word[len] = '\0';
		v = strtoll(word, NULL, 10);
		switch (word[len - 1]) {
		case 'd': v *= 86400; break;
		case 'h': v *= 3600; break;
		case 'm': v *= 60; break;
		}
		relay_conf.retry[relay_conf.nretry++] = v > 0 ? v : 1;
	}
	s = relay_api->conf_str("hostname");
	if (s == NULL || *s == '\0') {
		if (gethostname(relay_conf.hostname,
		    sizeof(relay_conf.hostname) - 1) == -1)
			strcpy(relay_conf.hostname, "localhost");
	} else
		snprintf(relay_conf.hostname, sizeof(relay_conf.hostname),
		    "%s", s);
	s = relay_api->conf_str("dns_stub");
	snprintf(relay_conf.dns_stub, sizeof(relay_conf.dns_stub), "%s",
	    s != NULL ? s : "");
	s = relay_api->conf_str("state_dir");
	snprintf(relay_conf.state_dir, sizeof(relay_conf.state_dir), "%s",
	    s != NULL ? s : ".");
}

static void
ino_ready(int fd, void *arg)
{
	char			 buf[8192] __attribute__((aligned(8)));
	const struct inotify_event *ev;
	char			 id[KURIR_QID_MAX + 1];
	ssize_t			 n;
	size_t			 off, len;

	(void)arg;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n; off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW) {
				relay_run_changed(NULL);
				continue;
			}
			if (ev->len == 0)
				continue;
			len = strlen(ev->name);
			if (len < 5 || len - 4 > KURIR_QID_MAX ||
			    strcmp(ev->name + len - 4, ".env") != 0 ||
			    strncmp(ev->name, "tmp.", 4) == 0)
				continue;
			memcpy(id, ev->name, len - 4);
			id[len - 4] = '\0';
			relay_run_changed(id);
		}
	}
}

static void
poll_dir(void *arg)
{
	char		path[PATH_MAX + 64];
	struct stat	st;

	(void)arg;
	snprintf(path, sizeof(path), "%s/queue", relay_conf.state_dir);
	if (stat(path, &st) == 0 &&
	    (st.st_mtim.tv_sec != poll_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != poll_mtime.tv_nsec)) {
		poll_mtime = st.st_mtim;
		relay_run_changed(NULL);	/* rescan */
	}
	poll_timer = relay_api->timer_add(POLL_MS, poll_dir, NULL);
}

/* KURIR_RELAY_POLL=1 in the environment forces polling (tests). */
static int
watch_dir(const char *path)
{
	const char	*force = getenv("KURIR_RELAY_POLL");

	errno = ENOSYS;
	if ((force != NULL && strcmp(force, "1") == 0) ||
	    (ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(ino_fd, path, IN_MOVED_TO | IN_DELETE) == -1 ||
	    (ino_watch = relay_api->watch_fd(ino_fd, ino_ready, NULL)) ==
	    NULL) {
		relay_api->log(relay_mod, KURIR_LOG_WARNING, "cannot watch "
		    "%s (%s): polling it every %d ms", path, strerror(errno),
		    POLL_MS);
		if (ino_fd != -1)
			close(ino_fd);
		ino_fd = -1;
		poll_dir(NULL);
	}
	return 0;
}

static void
release_lock(void)
{
	if (lock_fd != -1)
		close(lock_fd);
	lock_fd = -1;
}

static int
become_runner(void)
{
	char		 path[PATH_MAX + 64];
	const char	*err = NULL;
	int		 fd;

	snprintf(path, sizeof(path), "%s/queue", relay_conf.state_dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/queue/runner.lock",
	    relay_conf.state_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return 0;	/* another worker runs the queue */
	}
	if (relay_run_start(&err) == -1) {
		/* Let another worker (or a later try) run the queue. */
		relay_api->log(relay_mod, KURIR_LOG_ERR, "%s", err);
		close(fd);
		return -1;
	}
	lock_fd = fd;
	snprintf(path, sizeof(path), "%s/queue", relay_conf.state_dir);
	watch_dir(path);
	relay_api->log(relay_mod, KURIR_LOG_INFO, "this worker runs the "
	    "outbound queue (%u delivery threads)", relay_conf.concurrency);
	return 1;
}

static void
lock_retry(void *arg)
{
	(void)arg;
	lock_timer = NULL;
	if (become_runner() != 1)
		lock_timer = relay_api->timer_add(LOCK_RETRY_MS, lock_retry,
		    NULL);
}

static int
relay_init_worker(struct kurir_module *mod, const char **errstr_r)
{
	(void)mod;
	conf_load();
	if (relay_tls_init(errstr_r) == -1)
		return KURIR_E_TEMPFAIL;
	/* A failure here must not take the worker's other protocols
	 * down: log it and keep trying. */
	lock_retry(NULL);
	return KURIR_OK;
}

static void
relay_fini(struct kurir_module *mod)
{
	(void)mod;
	if (lock_timer != NULL) {
		relay_api->timer_del(lock_timer);
		lock_timer = NULL;
	}
	if (poll_timer != NULL) {
		relay_api->timer_del(poll_timer);
		poll_timer = NULL;
	}
	relay_run_stop();
	if (ino_watch != NULL) {
		relay_api->watch_del(ino_watch);
		ino_watch = NULL;
	}
	if (ino_fd != -1) {
		close(ino_fd);
		ino_fd = -1;
	}
	release_lock();
}

static const struct kurir_proto_ops relay_ops = {
	.size = sizeof(struct kurir_proto_ops),
	.services = relay_services,
};

static const struct kurir_module_desc relay_desc = {
	.size = sizeof(struct kurir_module_desc),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.kind = KURIR_MOD_PROTOCOL,
	.name = "relay",
	.version = "0.1.0",
	.conf_keys = relay_keys,
	.init = relay_init,
	.init_worker = relay_init_worker,
	.fini = relay_fini,
	.ops = &relay_ops,
};

KURIR_MODULE(RELAY_NAME, relay_desc)
