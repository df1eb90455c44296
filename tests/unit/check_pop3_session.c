/*
 * check_pop3_session.c -- the POP3 session against a fake core and an
 * in-memory mailbox: every command and state, pipelining, async logins,
 * IN-USE, UPDATE vs a dropped connection, streaming paced by the output
 * queue, STLS reset, AUTH exchanges and error limits.  The module is
 * driven only through its descriptor and the services table, as the real
 * core drives it.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kurir/api.h>
#include <kurir/module.h>
#include <kurir/proto.h>
#include <kurir/storage.h>

const struct kurir_module_desc *pop3_LTX_kurir_module_entry(void);

/* ---- a fake connection ---------------------------------------------- */

struct kurir_conn {
	char		*out;
	size_t		 outlen, outcap, since_drain;
	int		 paused, closed, tls, plaintext_ok, blocked;
	int		 starttls;
	uint32_t	 timeout;
	void		*sess;
	char		 lines[64][512];
	size_t		 nlines, nextline;
};

static size_t	budget = (size_t)-1;	/* output before "not writable" */
static int	async_login = 0;	/* login results come later */
static char	statedir[] = "/tmp/check_pop3_XXXXXX";
static const char *delete_action = "expunge";
static const char *max_line = "255";
static int max_errors = 20;
static int64_t idle_timeout = 600;
static int64_t max_messages = 100000;
static int no_storage;		/* `storage =` empty: storage() is NULL */
static size_t max_read;		/* largest msg_read() asked for */
static int64_t fail_read_at = -1;	/* msg_read() from here fails */

static void
out_add(struct kurir_conn *c, const void *buf, size_t len)
{
	if (c->outlen + len + 1 > c->outcap) {
		c->outcap = (c->outlen + len + 1) * 2;
		c->out = realloc(c->out, c->outcap);
		ck_assert_ptr_nonnull(c->out);
	}
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
	c->out[c->outlen] = '\0';
	c->since_drain += len;
}

static int
f_conn_write(struct kurir_conn *c, const void *buf, size_t len)
{
	ck_assert(!c->closed);
	out_add(c, buf, len);
	return 0;
}

static int
f_conn_printf(struct kurir_conn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out_add(c, buf, (size_t)n);
	return 0;
}

static int
f_conn_writable(struct kurir_conn *c)
{
	if (c->since_drain >= budget) {
		c->blocked = 1;
		return 0;
	}
	return 1;
}

static void f_conn_pause(struct kurir_conn *c) { c->paused = 1; }
static void f_conn_resume(struct kurir_conn *c) { c->paused = 0; }
static int f_conn_starttls(struct kurir_conn *c) { c->starttls = 1; return 0; }
static void f_conn_close(struct kurir_conn *c) { c->closed = 1; }
static void f_conn_set_timeout(struct kurir_conn *c, uint32_t s) { c->timeout = s; }
static int f_conn_is_tls(struct kurir_conn *c) { return c->tls; }
static int f_conn_plaintext_ok(struct kurir_conn *c) { return c->plaintext_ok; }
static uint64_t f_conn_id(struct kurir_conn *c) { return 1; }

static void
f_log(struct kurir_module *m, int level, const char *fmt, ...)
{
}

static void
f_conn_log(struct kurir_conn *c, int level, const char *fmt, ...)
{
}

static const char *
f_conf_str(const char *key)
{
	if (strcmp(key, "state_dir") == 0)
		return statedir;
	if (strcmp(key, "pop3_delete_action") == 0)
		return delete_action;
	if (strcmp(key, "pop3_trash_mailbox") == 0)
		return "Trash";
	if (strcmp(key, "tls_cert") == 0)
		return "/dev/null";
	return NULL;
}

static int64_t
f_conf_num(const char *key)
{
	if (strcmp(key, "pop3_max_errors") == 0)
		return max_errors;
	if (strcmp(key, "pop3_max_line_length") == 0)
		return atoi(max_line);
	if (strcmp(key, "pop3_idle_timeout") == 0)
		return idle_timeout;
	if (strcmp(key, "pop3_max_messages") == 0)
		return max_messages;
	return -1;
}

/* run_blocking jobs and late SASL results wait here for pump(). */
struct job {
	kurir_cb	*work, *done;
	void		*arg;
	kurir_sasl_cb	*scb;
	int		 status;
	char		 text[64];
};
static struct job jobs[16];
static size_t njobs;
static size_t nblocking;	/* run_blocking calls, ever */

static int
f_run_blocking(kurir_cb *work, kurir_cb *done, void *arg)
{
	ck_assert_uint_lt(njobs, 16);
	nblocking++;
	memset(&jobs[njobs], 0, sizeof(jobs[0]));
	jobs[njobs].work = work;
	jobs[njobs].done = done;
	jobs[njobs++].arg = arg;
	return 0;
}

struct kurir_sasl {
	int		 step;
	int		 freed;
};
static struct kurir_sasl sasl_obj;

static int
sasl_result(kurir_sasl_cb *cb, void *arg, int status, const char *text)
{
	if (async_login) {
		memset(&jobs[njobs], 0, sizeof(jobs[0]));
		jobs[njobs].scb = cb;
		jobs[njobs].arg = arg;
		jobs[njobs].status = status;
		snprintf(jobs[njobs++].text, 64, "%s", text);
	} else
		cb(arg, status, text);
	return 0;
}

static kurir_sasl_cb *sasl_cb;
static void *sasl_arg;

static int
f_login_plain(struct kurir_conn *c, const char *user, const char *pw,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **s_r)
{
	memset(&sasl_obj, 0, sizeof(sasl_obj));
	*s_r = &sasl_obj;
	if (!c->plaintext_ok)
		return sasl_result(cb, arg, KURIR_SASL_PLAINDENIED, "");
	if ((strcmp(user, "alice") == 0 || strcmp(user, "bob") == 0) &&
	    strcmp(pw, "se cret") == 0)
		return sasl_result(cb, arg, KURIR_SASL_OK, strcmp(user,
		    "alice") == 0 ? "alice@localhost" : "bob@localhost");
	return sasl_result(cb, arg, KURIR_SASL_FAIL, "");
}

/* PLAIN "\0alice\0se cret" is AGFsaWNlAHNlIGNyZXQ= */
static int
f_sasl_start(struct kurir_conn *c, const char *mech, const char *initial,
    kurir_sasl_cb *cb, void *arg, struct kurir_sasl **s_r)
{
	memset(&sasl_obj, 0, sizeof(sasl_obj));
	*s_r = &sasl_obj;
	sasl_cb = cb;
	sasl_arg = arg;
	if (strcmp(mech, "PLAIN") != 0)
		return sasl_result(cb, arg, KURIR_SASL_BADPROTO, "");
	if (initial == NULL)
		return sasl_result(cb, arg, KURIR_SASL_CONTINUE, "");
	return sasl_result(cb, arg, strcmp(initial,
	    "AGFsaWNlAHNlIGNyZXQ=") == 0 ? KURIR_SASL_OK : KURIR_SASL_FAIL,
	    "alice@localhost");
}

static int
f_sasl_step(struct kurir_sasl *s, const char *resp)
{
	return sasl_result(sasl_cb, sasl_arg, strcmp(resp,
	    "AGFsaWNlAHNlIGNyZXQ=") == 0 ? KURIR_SASL_OK : KURIR_SASL_FAIL,
	    "alice@localhost");
}

static void f_sasl_free(struct kurir_sasl *s) { s->freed++; }
static const char *f_sasl_mechs(struct kurir_conn *c) {
	return c->plaintext_ok ? "PLAIN SCRAM-SHA-256" : "SCRAM-SHA-256";
}

/* ---- an in-memory store: one INBOX per user, and a Trash ------------ */

struct fmsg {
	uint32_t	 uid, flags, box;	/* box 0 INBOX, 1 Trash */
	char		*data;
	size_t		 len;
	int		 gone;
};
static struct fmsg fmsgs[64];
static size_t nfmsgs;
static uint32_t uidnext = 1;
static int trash_exists, fail_open;
struct kurir_store { int dummy; };
struct kurir_mailbox { uint32_t uidnext; };
static struct kurir_store the_store;

static void
fstore_add(const char *data)
{
	struct fmsg *m = &fmsgs[nfmsgs++];

	m->uid = uidnext++;
	m->data = strdup(data);
	m->len = strlen(data);
	m->flags = 0;
	m->box = 0;
	m->gone = 0;
}

static int
fs_store_open(const struct kurir_user_params *p, struct kurir_store **st_r)
{
	if (fail_open)
		return KURIR_E_TEMPFAIL;
	*st_r = &the_store;
	return 0;
}
static void fs_store_close(struct kurir_store *st) { }

static int
fs_mailbox_open(struct kurir_store *st, const char *name,
    struct kurir_mailbox **mb_r)
{
	struct kurir_mailbox *mb = calloc(1, sizeof(*mb));

	mb->uidnext = uidnext;
	*mb_r = mb;
	return 0;
}
static void fs_mailbox_close(struct kurir_mailbox *mb) { free(mb); }

static int
fs_mailbox_sync(struct kurir_mailbox *mb, struct kurir_mailbox_status *s)
{
	mb->uidnext = uidnext;
	memset(s, 0, sizeof(*s));
	s->uidvalidity = 0x1234abcd;
	return 0;
}

static int
fs_msg_list(struct kurir_mailbox *mb, uint32_t first, uint32_t last,
    kurir_msg_cb *cb, void *arg)
{
	struct kurir_msg km;
	size_t i;
	int r;

	for (i = 0; i < nfmsgs; i++) {
		if (fmsgs[i].gone || fmsgs[i].box != 0 ||
		    fmsgs[i].uid >= mb->uidnext)
			continue;
		memset(&km, 0, sizeof(km));
		km.uid = fmsgs[i].uid;
		km.flags = fmsgs[i].flags;
		km.size = fmsgs[i].len;
		km.keywords = "";
		if ((r = cb(arg, &km)) != 0)
			return r;
	}
	return 0;
}

static struct fmsg *
fs_find(uint32_t uid)
{
	size_t i;

	for (i = 0; i < nfmsgs; i++)
		if (fmsgs[i].uid == uid && !fmsgs[i].gone &&
		    fmsgs[i].box == 0)
			return &fmsgs[i];
	return NULL;
}

static int
fs_msg_read(struct kurir_mailbox *mb, uint32_t uid, uint64_t off,
    void *buf, size_t len, size_t *n_r)
{
	struct fmsg *m = fs_find(uid);

	if (m == NULL)
		return KURIR_E_NOTFOUND;
	if (len > max_read)
		max_read = len;
	if (fail_read_at >= 0 && off >= (uint64_t)fail_read_at)
		return KURIR_E_TEMPFAIL;
	if (off > m->len)
		off = m->len;
	*n_r = m->len - off < len ? m->len - off : len;
	memcpy(buf, m->data + off, *n_r);
	return 0;
}

static int
in_set(uint32_t uid, const struct kurir_uid_range *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (uid >= set[i].first && uid <= set[i].last)
			return 1;
	return 0;
}

static int
fs_msg_flags(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, uint32_t op, uint32_t flags, const char *kw, uint64_t ucs,
    kurir_uid_cb *fcb, void *arg)
{
	size_t i;

	ck_assert_uint_eq(op, KURIR_FLAGS_ADD);
	for (i = 0; i < nfmsgs; i++)
		if (!fmsgs[i].gone && fmsgs[i].box == 0 &&
		    in_set(fmsgs[i].uid, set, nset))
			fmsgs[i].flags |= flags;
	return 0;
}

static int
fs_msg_expunge(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset)
{
	size_t i;

	for (i = 0; i < nfmsgs; i++)
		if (fmsgs[i].box == 0 && in_set(fmsgs[i].uid, set, nset))
			fmsgs[i].gone = 1;
	return 0;
}

static int
fs_msg_copy(struct kurir_mailbox *mb, const struct kurir_uid_range *set,
    size_t nset, const char *dest, uint32_t move, uint32_t *uv,
    kurir_uid_map_cb *cb, void *arg)
{
	size_t i;

	ck_assert_str_eq(dest, "Trash");
	ck_assert_uint_eq(move, 1);
	if (!trash_exists)
		return KURIR_E_NOTFOUND;
	for (i = 0; i < nfmsgs; i++)
		if (fmsgs[i].box == 0 && !fmsgs[i].gone &&
		    in_set(fmsgs[i].uid, set, nset))
			fmsgs[i].box = 1;
	return 0;
}

static int
fs_mailbox_create(struct kurir_store *st, const char *name, uint32_t su)
{
	ck_assert_str_eq(name, "Trash");
	trash_exists = 1;
	return 0;
}

static int
fs_mailbox_list(struct kurir_store *st, kurir_mbx_list_cb *cb, void *arg)
{
	int r = cb(arg, "INBOX", 0);

	if (r == 0 && trash_exists)
		r = cb(arg, "Trash", 0);
	return r;
}

static const struct kurir_storage_ops fstore = {
	.size = sizeof(struct kurir_storage_ops),
	.store_open = fs_store_open,
	.store_close = fs_store_close,
	.mailbox_list = fs_mailbox_list,
	.mailbox_create = fs_mailbox_create,
	.mailbox_open = fs_mailbox_open,
	.mailbox_close = fs_mailbox_close,
	.mailbox_sync = fs_mailbox_sync,
	.msg_list = fs_msg_list,
	.msg_read = fs_msg_read,
	.msg_flags = fs_msg_flags,
	.msg_expunge = fs_msg_expunge,
	.msg_copy = fs_msg_copy,
};

static const struct kurir_storage_ops *
f_storage(void)
{
	return no_storage ? NULL : &fstore;
}
static const struct kurir_auth_ops *f_auth(void) { return NULL; }

static const struct kurir_core_api fapi = {
	.size = sizeof(struct kurir_core_api),
	.abi_major = KURIR_ABI_MAJOR,
	.abi_minor = KURIR_ABI_MINOR,
	.version = "test",
	.log = f_log,
	.conn_log = f_conn_log,
	.conf_str = f_conf_str,
	.conf_num = f_conf_num,
	.conn_write = f_conn_write,
	.conn_printf = f_conn_printf,
	.conn_writable = f_conn_writable,
	.conn_pause = f_conn_pause,
	.conn_resume = f_conn_resume,
	.conn_starttls = f_conn_starttls,
	.conn_close = f_conn_close,
	.conn_set_timeout = f_conn_set_timeout,
	.conn_is_tls = f_conn_is_tls,
	.conn_id = f_conn_id,
	.conn_plaintext_ok = f_conn_plaintext_ok,
	.run_blocking = f_run_blocking,
	.storage = f_storage,
	.auth = f_auth,
	.sasl_mechs = f_sasl_mechs,
	.sasl_start = f_sasl_start,
	.sasl_step = f_sasl_step,
	.sasl_free = f_sasl_free,
	.login_plain = f_login_plain,
};

/* ---- driving a session ---------------------------------------------- */

static const struct kurir_proto_ops *ops;

static void
setup(void)
{
	const struct kurir_module_desc *d = pop3_LTX_kurir_module_entry();
	const char *err = NULL;
	size_t i;

	if (strstr(statedir, "XXXXXX") != NULL)
		ck_assert_ptr_nonnull(mkdtemp(statedir));
	ck_assert_int_eq(d->init(NULL, &fapi, &err), 0);
	ck_assert_int_eq(d->init_worker(NULL, &err), 0);
	ops = d->ops;
	for (i = 0; i < nfmsgs; i++)
		free(fmsgs[i].data);
	nfmsgs = 0;
	njobs = 0;
	uidnext = 1;
	trash_exists = 0;
	fail_open = 0;
	no_storage = 0;
	max_read = 0;
	fail_read_at = -1;
	budget = (size_t)-1;
	async_login = 0;
}

static struct kurir_conn *
conn_open(void)
{
	struct kurir_conn *c = calloc(1, sizeof(*c));

	c->plaintext_ok = 1;
	ck_assert_int_eq(ops->on_connect(c, &c->sess), 0);
	return c;
}

/* Queue input as a client would send it (CRLF-separated). */
static void
feed(struct kurir_conn *c, const char *data)
{
	const char *p = data, *e;

	while (*p != '\0') {
		e = strstr(p, "\r\n");
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_lt(c->nlines, 64);
		snprintf(c->lines[c->nlines++], 512, "%.*s", (int)(e - p), p);
		p = e + 2;
	}
}

/* Run the loop until nothing moves: jobs, lines (unless paused),
 * drains (when the writer was blocked). */
static void
pump(struct kurir_conn *c)
{
	char line[600];
	size_t i;

	for (;;) {
		if (njobs > 0) {
			struct job j = jobs[0];

			for (i = 1; i < njobs; i++)
				jobs[i - 1] = jobs[i];
			njobs--;
			if (j.scb != NULL)
				j.scb(j.arg, j.status, j.text);
			else {
				j.work(j.arg);
				j.done(j.arg);
			}
			continue;
		}
		if (c->blocked) {
			c->blocked = 0;
			c->since_drain = 0;
			ops->on_drain(c->sess);
			continue;
		}
		if (!c->paused && !c->closed && c->nextline < c->nlines) {
			size_t len = strlen(c->lines[c->nextline]);

			memcpy(line, c->lines[c->nextline++], len + 1);
			ops->on_line(c->sess, line, len, KURIR_LINE_CRLF);
			continue;
		}
		break;
	}
}

/* Everything written since the last call. */
static char *
take(struct kurir_conn *c)
{
	char *s = strdup(c->out != NULL ? c->out : "");

	c->outlen = 0;
	if (c->out != NULL)
		c->out[0] = '\0';
	return s;
}

static void
expect(struct kurir_conn *c, const char *in, const char *want)
{
	char *got;

	if (in != NULL)
		feed(c, in);
	pump(c);
	got = take(c);
	ck_assert_msg(strcmp(got, want) == 0, "sent %s\ngot  [%s]\nwant [%s]",
	    in != NULL ? in : "(nothing)", got, want);
	free(got);
}

/* Like expect, but only the start of the answer. */
static void
expect_prefix(struct kurir_conn *c, const char *in, const char *want)
{
	char *got;

	if (in != NULL)
		feed(c, in);
	pump(c);
	got = take(c);
	ck_assert_msg(strncmp(got, want, strlen(want)) == 0,
	    "sent %s\ngot  [%s]\nwant [%s...]", in, got, want);
	free(got);
}

static void
conn_drop(struct kurir_conn *c)
{
	ops->on_close(c->sess);
	pump(c);
	free(c->out);
	free(c);
}

#define GREETING	"+OK kurir POP3 server ready.\r\n"
#define M1		"Subject: one\r\n\r\nhello\r\n.dot line\r\n"
#define M2		"Subject: two\n\nbare\nlf\n"
#define M3		"Subject: three\r\n\r\nbody"

static void
three_messages(void)
{
	fstore_add(M1);
	fstore_add(M2);
	fstore_add(M3);
}

static struct kurir_conn *
login(void)
{
	struct kurir_conn *c = conn_open();

	expect(c, NULL, GREETING);
	expect(c, "USER alice\r\n", "+OK\r\n");
	expect_prefix(c, "PASS se cret\r\n", "+OK Logged in");
	return c;
}

START_TEST(test_capa_quit)
{
	struct kurir_conn *c = conn_open();

	expect(c, NULL, GREETING);
	expect(c, "CAPA\r\n", "+OK Capability list follows\r\nTOP\r\n"
	    "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\n"
	    "SASL PLAIN SCRAM-SHA-256\r\nSTLS\r\nIMPLEMENTATION kurir\r\n"
	    ".\r\n");
	expect(c, "STAT\r\n", "-ERR STAT not valid before login.\r\n");
	expect(c, "QUIT\r\n", "+OK kurir POP3 server signing off.\r\n");
	ck_assert(c->closed);
	conn_drop(c);
}
END_TEST

START_TEST(test_transaction)
{
	struct kurir_conn *c;

	three_messages();
	fmsgs[2].flags = KURIR_FLAG_SEEN;
	c = conn_open();
	expect(c, NULL, GREETING);
	expect(c, "PASS x\r\n", "-ERR No user name: send USER first.\r\n");
	expect(c, "USER alice\r\n", "+OK\r\n");
	expect(c, "PASS wrong\r\n", "-ERR [AUTH] Authentication failed.\r\n");
	expect(c, "PASS se cret\r\n", "-ERR No user name: send USER first.\r\n");
	expect(c, "USER alice\r\n", "+OK\r\n");
	expect(c, "PASS se cret\r\n",
	    "+OK Logged in, 3 messages (78 octets).\r\n");
	expect(c, "STAT\r\n", "+OK 3 78\r\n");
	expect(c, "LIST\r\n", "+OK 3 messages (78 octets)\r\n1 34\r\n"
	    "2 22\r\n3 22\r\n.\r\n");
	expect(c, "LIST 2\r\n", "+OK 2 22\r\n");
	expect(c, "LIST 4\r\n", "-ERR No such message.\r\n");
	expect(c, "LIST 0\r\n", "-ERR No such message.\r\n");
	expect(c, "UIDL\r\n", "+OK\r\n1 1234abcd00000001\r\n"
	    "2 1234abcd00000002\r\n3 1234abcd00000003\r\n.\r\n");
	expect(c, "UIDL 3\r\n", "+OK 3 1234abcd00000003\r\n");
	expect(c, "RETR 1\r\n", "+OK 34 octets\r\nSubject: one\r\n\r\n"
	    "hello\r\n..dot line\r\n.\r\n");
	expect(c, "RETR 2\r\n", "+OK 22 octets\r\nSubject: two\r\n\r\n"
	    "bare\r\nlf\r\n.\r\n");
	expect(c, "TOP 3 0\r\n", "+OK\r\nSubject: three\r\n\r\n.\r\n");
	expect(c, "TOP 1 1\r\n", "+OK\r\nSubject: one\r\n\r\nhello\r\n.\r\n");
	expect(c, "TOP 1 x\r\n", "-ERR Invalid number of lines.\r\n");
	expect(c, "DELE 1\r\n", "+OK Message 1 deleted.\r\n");
	expect(c, "DELE 1\r\n", "-ERR Message 1 already deleted.\r\n");
	expect(c, "RETR 1\r\n", "-ERR Message 1 already deleted.\r\n");
	expect(c, "STAT\r\n", "+OK 2 44\r\n");
	expect(c, "LIST\r\n", "+OK 2 messages (44 octets)\r\n"
	    "2 22\r\n3 22\r\n.\r\n");
	expect(c, "RSET\r\n", "+OK Maildrop has 3 messages (78 octets).\r\n");
	expect(c, "STAT\r\n", "+OK 3 78\r\n");
	expect(c, "NOOP\r\n", "+OK\r\n");
	expect(c, "USER bob\r\n", "-ERR USER not valid after login.\r\n");
	expect(c, "DELE 2\r\n", "+OK Message 2 deleted.\r\n");
	/* Mail that arrives now is not part of this session. */
	fstore_add("Subject: late\r\n\r\nx\r\n");
	expect(c, "STAT\r\n", "+OK 2 56\r\n");
	ck_assert_uint_eq(fmsgs[0].flags, 0);	/* \Seen only at the end */
	expect(c, "QUIT\r\n",
	    "+OK kurir POP3 server signing off (1 messages deleted).\r\n");
	ck_assert(c->closed);
	ck_assert(!fmsgs[0].gone);
	ck_assert(fmsgs[1].gone);
	ck_assert(!fmsgs[2].gone);
	ck_assert_uint_eq(fmsgs[0].flags, KURIR_FLAG_SEEN);
	ck_assert_uint_eq(fmsgs[3].flags, 0);
	conn_drop(c);
}
END_TEST

START_TEST(test_pipelined_async)
{
	struct kurir_conn *c;

	three_messages();
	async_login = 1;
	c = conn_open();
	expect(c, "USER alice\r\nPASS se cret\r\nSTAT\r\nDELE 3\r\n"
	    "LIST\r\nQUIT\r\n", GREETING "+OK\r\n"
	    "+OK Logged in, 3 messages (78 octets).\r\n+OK 3 78\r\n"
	    "+OK Message 3 deleted.\r\n+OK 2 messages (56 octets)\r\n"
	    "1 34\r\n2 22\r\n.\r\n"
	    "+OK kurir POP3 server signing off (1 messages deleted).\r\n");
	ck_assert(fmsgs[2].gone);
	conn_drop(c);
}
END_TEST

START_TEST(test_in_use_and_drop)
{
	struct kurir_conn *a, *b;

	three_messages();
	a = login();
	expect_prefix(a, "RETR 2\r\n", "+OK 22 octets");
	expect(a, "DELE 1\r\n", "+OK Message 1 deleted.\r\n");
	b = conn_open();
	expect(b, NULL, GREETING);
	expect(b, "USER alice\r\nPASS se cret\r\n", "+OK\r\n"
	    "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n");
	/* Another user is not locked out. */
	expect(b, "USER bob\r\nPASS se cret\r\n",
	    "+OK\r\n+OK Logged in, 3 messages (78 octets).\r\n");
	conn_drop(b);
	/* A dropped connection expunges nothing but keeps \Seen. */
	conn_drop(a);
	ck_assert(!fmsgs[0].gone);
	ck_assert_uint_eq(fmsgs[1].flags, KURIR_FLAG_SEEN);
	a = login();
	expect(a, "STAT\r\n", "+OK 3 78\r\n");
	conn_drop(a);
}
END_TEST

/* QUIT or a drop with nothing to write (no new \Seen, no DELE) closes
 * the maildrop at once, without a storage job; the lock is released. */
START_TEST(test_quit_nothing_to_write)
{
	struct kurir_conn *c;
	size_t before;

	three_messages();
	fmsgs[0].flags = KURIR_FLAG_SEEN;
	c = login();
	expect_prefix(c, "RETR 1\r\n", "+OK 34 octets");
	expect_prefix(c, "TOP 2 0\r\n", "+OK");
	before = nblocking;
	expect(c, "QUIT\r\n",
	    "+OK kurir POP3 server signing off (0 messages deleted).\r\n");
	ck_assert(c->closed);
	ck_assert_uint_eq(nblocking, before);
	conn_drop(c);
	ck_assert_uint_eq(fmsgs[1].flags, 0);	/* TOP sets no \Seen */

	c = login();
	expect(c, "STAT\r\n", "+OK 3 78\r\n");
	before = nblocking;
	conn_drop(c);
	ck_assert_uint_eq(nblocking, before);

	/* DELE then RSET: nothing to write either. */
	c = login();
	expect(c, "DELE 2\r\n", "+OK Message 2 deleted.\r\n");
	expect_prefix(c, "RSET\r\n", "+OK");
	before = nblocking;
	expect_prefix(c, "QUIT\r\n", "+OK kurir POP3 server signing off");
	ck_assert_uint_eq(nblocking, before);
	conn_drop(c);
	ck_assert(!fmsgs[1].gone);

	/* A RETR of an unseen message still gets its job. */
	c = login();
	expect_prefix(c, "RETR 3\r\n", "+OK 22 octets");
	before = nblocking;
	expect_prefix(c, "QUIT\r\n", "+OK kurir POP3 server signing off");
	ck_assert_uint_eq(nblocking, before + 1);
	ck_assert_uint_eq(fmsgs[2].flags, KURIR_FLAG_SEEN);
	conn_drop(c);
}
END_TEST

START_TEST(test_stream_paced)
{
	struct kurir_conn *c;
	char *big, *want, *got;
	size_t i, n = 300000, o;

	big = malloc(n + 1);
	want = malloc(2 * n + 100);
	/* Lines of 99 bytes, every third starting with a dot. */
	o = (size_t)sprintf(want, "+OK %zu octets\r\n", n);
	for (i = 0; i < n; i++) {
		big[i] = i % 100 == 99 ? '\n' : (i % 300 == 0 ? '.' : 'x');
		if (i % 300 == 0)
			want[o++] = '.';
		if (big[i] == '\n')
			want[o++] = '\r';
		want[o++] = big[i];
	}
	big[n] = '\0';
	memcpy(want + o, ".\r\n+OK\r\n", 9);
	fstore_add(big);
	c = login();
	budget = 5000;
	feed(c, "RETR 1\r\nNOOP\r\n");
	pump(c);
	got = take(c);
	ck_assert_uint_eq(strlen(got), strlen(want));
	ck_assert(strcmp(got, want) == 0);
	/* Read in bounded pieces, never the whole message. */
	ck_assert_uint_gt(max_read, 0);
	ck_assert_uint_le(max_read, 16384);
	free(got);
	free(want);
	free(big);
	conn_drop(c);
}
END_TEST

START_TEST(test_errors_and_limits)
{
	struct kurir_conn *c;
	char line[400];

	max_errors = 5;
	setup();
	c = conn_open();
	expect(c, NULL, GREETING);
	memset(line, 'A', sizeof(line));
	memcpy(line + 300, "\r\n", 3);
	expect(c, line, "-ERR Line too long.\r\n");
	expect(c, "CAPA\r\n", "+OK Capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "USER\r\nSASL PLAIN SCRAM-SHA-256\r\nSTLS\r\n"
	    "IMPLEMENTATION kurir\r\n.\r\n");
	expect(c, "FOO\r\n", "-ERR Unknown command.\r\n");
	expect(c, "\r\n", "-ERR Empty command.\r\n");
	expect(c, "RETR\r\n", "-ERR Wrong number of arguments for RETR.\r\n");
	ck_assert(!c->closed);
	expect(c, "XYZ\r\n", "-ERR Unknown command.\r\n");
	ck_assert(c->closed);
	conn_drop(c);
}
END_TEST

START_TEST(test_plaintext_refused)
{
	struct kurir_conn *c = calloc(1, sizeof(*c));

	c->plaintext_ok = 0;
	ck_assert_int_eq(ops->on_connect(c, &c->sess), 0);
	expect(c, NULL, GREETING);
	expect(c, "CAPA\r\n", "+OK Capability list follows\r\nTOP\r\n"
	    "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "SASL SCRAM-SHA-256\r\nSTLS\r\nIMPLEMENTATION kurir\r\n.\r\n");
	expect_prefix(c, "USER alice\r\n", "-ERR [AUTH] Plaintext");
	expect(c, "STLS\r\n", "+OK Begin TLS negotiation now.\r\n");
	ck_assert(c->starttls);
	c->tls = 1;
	c->plaintext_ok = 1;
	ops->on_tls(c->sess, 0);
	expect(c, "STLS\r\n", "-ERR TLS is already active.\r\n");
	expect(c, "USER alice\r\n", "+OK\r\n");
	conn_drop(c);
}
END_TEST

START_TEST(test_stls_forgets)
{
	struct kurir_conn *c = conn_open();

	expect(c, NULL, GREETING);
	expect(c, "USER alice\r\n", "+OK\r\n");
	expect(c, "STLS\r\n", "+OK Begin TLS negotiation now.\r\n");
	c->tls = 1;
	ops->on_tls(c->sess, 0);
	expect(c, "PASS se cret\r\n", "-ERR No user name: send USER first.\r\n");
	conn_drop(c);
}
END_TEST

START_TEST(test_sasl)
{
	struct kurir_conn *c;

	three_messages();
	async_login = _i;
	c = conn_open();
	expect(c, NULL, GREETING);
	expect(c, "AUTH\r\n", "+OK\r\nPLAIN\r\nSCRAM-SHA-256\r\n.\r\n");
	expect(c, "AUTH PLAIN\r\n", "+ \r\n");
	expect(c, "*\r\n", "-ERR Authentication cancelled.\r\n");
	expect(c, "AUTH PLAIN bad\r\n", "-ERR [AUTH] Authentication failed.\r\n");
	expect(c, "AUTH FOO\r\n", "-ERR Invalid authentication exchange.\r\n");
	expect(c, "AUTH plain\r\nAGFsaWNlAHNlIGNyZXQ=\r\nSTAT\r\n", "+ \r\n"
	    "+OK Logged in, 3 messages (78 octets).\r\n+OK 3 78\r\n");
	conn_drop(c);
	c = conn_open();
	expect(c, "AUTH PLAIN AGFsaWNlAHNlIGNyZXQ=\r\n", GREETING
	    "+OK Logged in, 3 messages (78 octets).\r\n");
	conn_drop(c);
	ck_assert_int_ge(sasl_obj.freed, 1);
}
END_TEST

START_TEST(test_trash)
{
	struct kurir_conn *c;

	delete_action = "trash";
	setup();
	three_messages();
	c = login();
	expect(c, "RETR 1\r\nDELE 1\r\nDELE 3\r\n", "+OK 34 octets\r\n"
	    "Subject: one\r\n\r\nhello\r\n..dot line\r\n.\r\n"
	    "+OK Message 1 deleted.\r\n+OK Message 3 deleted.\r\n");
	expect(c, "QUIT\r\n",
	    "+OK kurir POP3 server signing off (2 messages deleted).\r\n");
	ck_assert(trash_exists);
	ck_assert_uint_eq(fmsgs[0].box, 1);
	ck_assert_uint_eq(fmsgs[0].flags, KURIR_FLAG_SEEN);
	ck_assert_uint_eq(fmsgs[1].box, 0);
	ck_assert_uint_eq(fmsgs[2].box, 1);
	conn_drop(c);
	delete_action = "expunge";
}
END_TEST

START_TEST(test_storage_trouble)
{
	struct kurir_conn *c;

	fail_open = 1;
	c = conn_open();
	expect(c, "USER alice\r\nPASS se cret\r\n", GREETING "+OK\r\n"
	    "-ERR [SYS/TEMP] Cannot open the mailbox, try again later.\r\n");
	fail_open = 0;
	expect(c, "USER alice\r\nPASS se cret\r\n",
	    "+OK\r\n+OK Logged in, 0 messages (0 octets).\r\n");
	conn_drop(c);
}
END_TEST

START_TEST(test_expunged_meanwhile)
{
	struct kurir_conn *c;

	three_messages();
	c = login();
	fmsgs[1].gone = 1;	/* IMAP expunged it */
	expect(c, "RETR 2\r\n",
	    "-ERR Message was removed by another session.\r\n");
	expect(c, "RETR 3\r\n", "+OK 22 octets\r\nSubject: three\r\n\r\n"
	    "body\r\n.\r\n");
	conn_drop(c);
}
END_TEST


/* RFC 2449 section 4: 255 octets with the CRLF; the limit is a key. */
START_TEST(test_line_limit)
{
	struct kurir_conn *c;
	char line[300];

	c = conn_open();
	expect(c, NULL, GREETING);
	/* "USER " + 248 = 253 octets, 255 with the CRLF: accepted. */
	memcpy(line, "USER ", 5);
	memset(line + 5, 'u', 248);
	memcpy(line + 253, "\r\n", 3);
	expect(c, line, "+OK\r\n");
	/* One octet more: refused, and the session goes on. */
	memset(line + 5, 'u', 249);
	memcpy(line + 254, "\r\n", 3);
	expect(c, line, "-ERR Line too long.\r\n");
	expect(c, "NOOP\r\n", "-ERR NOOP not valid before login.\r\n");
	conn_drop(c);

	max_line = "32";
	setup();
	c = conn_open();
	expect(c, NULL, GREETING);
	expect(c, "USER abcdefghijklmnopqrstuvwxy\r\n", "+OK\r\n");
	expect(c, "USER abcdefghijklmnopqrstuvwxyz\r\n",
	    "-ERR Line too long.\r\n");
	conn_drop(c);
	max_line = "255";
}
END_TEST

/* pop3_idle_timeout reaches the core, and a timeout says why. */
START_TEST(test_idle_timeout)
{
	struct kurir_conn *c;

	idle_timeout = 42;
	setup();
	c = conn_open();
	ck_assert_uint_eq(c->timeout, 42);
	expect(c, NULL, GREETING);
	ops->on_timeout(c->sess);
	expect(c, NULL, "-ERR Disconnected for inactivity.\r\n");
	conn_drop(c);
	idle_timeout = 600;
}
END_TEST

/* `storage =` empty: a temporary error, never a crash. */
START_TEST(test_no_storage)
{
	struct kurir_conn *c;

	no_storage = 1;
	c = conn_open();
	expect(c, "USER alice\r\nPASS se cret\r\nNOOP\r\n", GREETING "+OK\r\n"
	    "-ERR [SYS/TEMP] Cannot open the mailbox, try again later.\r\n"
	    "-ERR NOOP not valid before login.\r\n");
	expect(c, "AUTH PLAIN AGFsaWNlAHNlIGNyZXQ=\r\n",
	    "-ERR [SYS/TEMP] Cannot open the mailbox, try again later.\r\n");
	ck_assert(!c->closed);
	conn_drop(c);
	/* The lock was released: with storage back, alice gets in. */
	no_storage = 0;
	c = login();
	conn_drop(c);
}
END_TEST

/* DELE is only a mark: nothing leaves the store before QUIT. */
START_TEST(test_dele_marks_only)
{
	struct kurir_conn *c;

	three_messages();
	c = login();
	expect(c, "DELE 1\r\nDELE 2\r\nDELE 3\r\nSTAT\r\n",
	    "+OK Message 1 deleted.\r\n+OK Message 2 deleted.\r\n"
	    "+OK Message 3 deleted.\r\n+OK 0 0\r\n");
	ck_assert(!fmsgs[0].gone && !fmsgs[1].gone && !fmsgs[2].gone);
	expect(c, "LIST\r\n", "+OK 0 messages (0 octets)\r\n.\r\n");
	expect(c, "UIDL\r\n", "+OK\r\n.\r\n");
	/* A QUIT before login does not enter UPDATE: the marks of a
	 * dropped session never come back. */
	conn_drop(c);
	ck_assert(!fmsgs[0].gone && !fmsgs[1].gone && !fmsgs[2].gone);
	c = conn_open();
	expect(c, "QUIT\r\n", GREETING "+OK kurir POP3 server signing off.\r\n");
	conn_drop(c);
	ck_assert(!fmsgs[0].gone && !fmsgs[1].gone && !fmsgs[2].gone);
}
END_TEST

/* pop3_max_messages: the oldest are shown, the rest come later. */
START_TEST(test_max_messages)
{
	struct kurir_conn *c;

	max_messages = 2;
	setup();
	three_messages();
	c = login();
	expect(c, "STAT\r\n", "+OK 2 56\r\n");
	expect(c, "LIST 3\r\n", "-ERR No such message.\r\n");
	expect(c, "DELE 1\r\nDELE 2\r\nQUIT\r\n", "+OK Message 1 deleted.\r\n"
	    "+OK Message 2 deleted.\r\n"
	    "+OK kurir POP3 server signing off (2 messages deleted).\r\n");
	conn_drop(c);
	ck_assert(fmsgs[0].gone && fmsgs[1].gone && !fmsgs[2].gone);
	c = login();
	expect(c, "UIDL\r\n", "+OK\r\n1 1234abcd00000003\r\n.\r\n");
	conn_drop(c);
	max_messages = 100000;
}
END_TEST

/* Storage fails before the +OK: a clean -ERR [SYS/TEMP].  After part
 * of the message went out: the connection closes without the ".", so
 * no client takes half a message for a whole one. */
START_TEST(test_read_fails)
{
	struct kurir_conn *c;
	char *big, *got;
	size_t n = 100000;

	big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	fstore_add(big);
	free(big);
	c = login();
	fail_read_at = 0;
	expect(c, "RETR 1\r\n",
	    "-ERR [SYS/TEMP] Cannot read the message, try again later.\r\n");
	fail_read_at = 40000;
	feed(c, "RETR 1\r\nNOOP\r\n");
	pump(c);
	got = take(c);
	ck_assert(strncmp(got, "+OK 100000 octets\r\n", 19) == 0);
	ck_assert_ptr_null(strstr(got, "\r\n.\r\n"));
	ck_assert_ptr_null(strstr(got, "+OK\r\n"));	/* no NOOP answer */
	ck_assert(c->closed);
	free(got);
	conn_drop(c);
}
END_TEST

static Suite *
pop3_session_suite(void)
{
	Suite *s = suite_create("pop3_session");
	TCase *tc = tcase_create("session");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_capa_quit);
	tcase_add_test(tc, test_transaction);
	tcase_add_test(tc, test_pipelined_async);
	tcase_add_test(tc, test_in_use_and_drop);
	tcase_add_test(tc, test_quit_nothing_to_write);
	tcase_add_test(tc, test_stream_paced);
	tcase_add_test(tc, test_errors_and_limits);
	tcase_add_test(tc, test_plaintext_refused);
	tcase_add_test(tc, test_stls_forgets);
	tcase_add_loop_test(tc, test_sasl, 0, 2);
	tcase_add_test(tc, test_trash);
	tcase_add_test(tc, test_storage_trouble);
	tcase_add_test(tc, test_expunged_meanwhile);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_no_storage);
	tcase_add_test(tc, test_dele_marks_only);
	tcase_add_test(tc, test_max_messages);
	tcase_add_test(tc, test_read_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
