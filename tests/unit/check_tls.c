/*
 * check_tls.c -- TLS contexts and the self-signed certificate, and TLS
 * sessions over socketpairs against a plain OpenSSL client running in a
 * thread: implicit TLS (with small socket buffers so that both sides hit
 * WANT_READ/WANT_WRITE), STARTTLS with pipelined plaintext, a handshake
 * timeout and garbage instead of a ClientHello.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "conn_private.h"
#include "ev.h"
#include "log.h"
#include "net_harness.h"
#include "tls.h"

static char	cert[512];

struct client {
	int		 fd;
	int		 script;
	int		 max_proto;
	SSL		*ssl;
	char		 buf[8192];
	size_t		 len;
	int		 ok;
	volatile int	 done;
	char		 why[256];
	long		 streamed;
};

static struct client	cl;

static int
client_done(void)
{
	return cl.done;
}

/* Reads (TLS when ssl is set) until buf ends with want. */
static int
c_expect(const char *want)
{
	size_t	wl = strlen(want);
	int	n;

	for (;;) {
		if (cl.len >= wl && memcmp(cl.buf + cl.len - wl, want,
		    wl) == 0) {
			cl.len = 0;
			return 1;
		}
		if (cl.len == sizeof(cl.buf))
			return 0;
		if (cl.ssl != NULL)
			n = SSL_read(cl.ssl, cl.buf + cl.len,
			    (int)(sizeof(cl.buf) - cl.len));
		else
			n = (int)read(cl.fd, cl.buf + cl.len,
			    sizeof(cl.buf) - cl.len);
		if (n <= 0) {
			snprintf(cl.why, sizeof(cl.why), "EOF waiting for %s",
			    want);
			return 0;
		}
		cl.len += (size_t)n;
	}
}

static int
c_send(const char *s)
{
	if (cl.ssl != NULL)
		return SSL_write(cl.ssl, s, (int)strlen(s)) == (int)strlen(s);
	return write(cl.fd, s, strlen(s)) == (ssize_t)strlen(s);
}

static int
c_handshake(void)
{
	SSL_CTX	*ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, cert, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cl.max_proto)
		SSL_CTX_set_max_proto_version(ctx, cl.max_proto);
	cl.ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(cl.ssl, cl.fd);
	SSL_set_tlsext_host_name(cl.ssl, "localhost");
	SSL_set1_host(cl.ssl, "localhost");
	if (SSL_connect(cl.ssl) != 1) {
		snprintf(cl.why, sizeof(cl.why), "SSL_connect: %s",
		    ERR_error_string(ERR_get_error(), NULL));
		return 0;
	}
	return 1;
}

/* Reads n bytes of 'S', slowly now and then. */
static int
c_stream(long n)
{
	char	b[4096];
	long	got = 0;
	int	k, i;

	while (got < n) {
		k = SSL_read(cl.ssl, b, (int)(n - got > (long)sizeof(b) ?
		    (long)sizeof(b) : n - got));
		if (k <= 0)
			return 0;
		for (i = 0; i < k; i++)
			if (b[i] != 'S')
				return 0;
		got += k;
		if (got % 65536 < 4096)
			usleep(2000);
	}
	cl.streamed = got;
	return 1;
}

static void *
client_main(void *arg)
{
	char	b[16];
	int	ok = 0;

	switch (cl.script) {
	case 0:		/* implicit TLS */
		ok = c_handshake() && c_expect("HELLO\r\n") &&
		    c_send("ECHO hi\r\n") && c_expect("hi\r\n") &&
		    c_send("STREAM 1000000\r\n") && c_stream(1000000) &&
		    c_send("STARTTLS\r\n") && c_expect("OK go\r\nERR -8\r\n") &&
		    c_send("QUIT\r\n") && c_expect("BYE\r\n") &&
		    SSL_read(cl.ssl, b, sizeof(b)) == 0;
		break;
	case 1:		/* STARTTLS with a pipelined command */
		ok = c_expect("HELLO\r\n") &&
		    c_send("STARTTLS\r\nECHO evil\r\n") &&
		    c_expect("OK go\r\n") && c_handshake() &&
		    c_send("ECHO good\r\n") && c_expect("good\r\n") &&
		    c_send("QUIT\r\n") && c_expect("BYE\r\n");
		break;
	case 2:		/* output queued behind the go-ahead */
		ok = c_expect("HELLO\r\n") && c_send("STARTTLS+\r\n") &&
		    c_expect("OK go\r\n") && c_handshake() &&
		    c_expect("SECRET\r\n") && c_send("QUIT\r\n") &&
		    c_expect("BYE\r\n");
		break;
	}
	cl.ok = ok;
	cl.done = 1;
	return NULL;
}

static void
run_client(int fd, int script)
{
	pthread_t	t;

	cl.fd = fd;
	cl.script = script;
	fcntl(fd, F_SETFL, 0);		/* the client blocks */
	pthread_create(&t, NULL, client_main, NULL);
	ck_assert(t_pump(client_done, 15000));
	pthread_join(t, NULL);
	if (cl.ssl != NULL)
		SSL_free(cl.ssl);
	ck_assert_msg(cl.ok, "client: %s", cl.why);
}

static void
setup(void)
{
	t_reset();
	memset(&cl, 0, sizeof(cl));
	t_limits(1024, 65536, 16384, 1024 * 1024, 0);
	t_svc_tls.tls = t_svc_itls.tls = t_tls_ctx(cert, sizeof(cert));
}

START_TEST(implicit_tls_session)
{
	struct kurir_conn	*c;
	int			 fd, sz = 4096;

	c = t_conn(&t_svc_itls, &fd);
	/* Small buffers: the server meets WANT_WRITE while streaming. */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	ck_assert(!ts.connected);	/* on_connect waits for TLS */
	run_client(fd, 0);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_int_eq(cl.streamed, 1000000);
	ck_assert(t_contains("CONNECT\nLc:ECHO hi\n"));
	ck_assert(t_contains("Lc:STARTTLS\nS-8\n"));
}
END_TEST

static void *
hs_thread(void *arg)
{
	c_handshake();
	return NULL;
}

/* Handshake from a thread while the loop runs; true once connected. */
static int
handshake_only(int fd)
{
	pthread_t	t;

	cl.fd = fd;
	fcntl(fd, F_SETFL, 0);
	pthread_create(&t, NULL, hs_thread, NULL);
	while (!ts.connected && conn_count() > 0 && cl.why[0] == '\0')
		ev_run_once(ev_default(), 5);
	pthread_join(t, NULL);
	return ts.connected;
}

START_TEST(tls_info)
{
	const char	*info;
	int		 fd;

	t_conn(&t_svc_itls, &fd);
	ck_assert_msg(handshake_only(fd), "%s", cl.why);
	ck_assert(conn_is_tls(ts.c));
	ck_assert(conn_plaintext_ok(ts.c));
	info = conn_tls_info(ts.c);
	ck_assert_ptr_nonnull(info);
	ck_assert_msg(strncmp(info, "TLSv1.3 TLS_", 12) == 0, "%s", info);
	ck_assert_int_eq(conn_starttls(ts.c), KURIR_E_INVALID);
	SSL_free(cl.ssl);
	close(fd);
	ck_assert(t_pump(t_closed, 2000));
}
END_TEST

START_TEST(tls12_client)
{
	int	fd;

	cl.max_proto = TLS1_2_VERSION;
	t_conn(&t_svc_itls, &fd);
	ck_assert_msg(handshake_only(fd), "%s", cl.why);
	ck_assert_msg(strncmp(conn_tls_info(ts.c), "TLSv1.2 ", 8) == 0,
	    "%s", conn_tls_info(ts.c));
	SSL_free(cl.ssl);
}
END_TEST

START_TEST(starttls_pipelined)
{
	int	fd;

	t_conn(&t_svc_tls, &fd);
	run_client(fd, 1);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert(t_contains("Lc:STARTTLS\nS0\nTLS0\nLc:ECHO good\n"));
	/* The command sent behind STARTTLS never ran. */
	ck_assert(!t_contains("evil"));
}
END_TEST

START_TEST(starttls_output_after)
{
	int	fd;

	t_conn(&t_svc_tls, &fd);
	run_client(fd, 2);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert(t_contains("Lc:STARTTLS+\nS0\nTLS0\nLc:QUIT\n"));
}
END_TEST

static int
no_conns(void)
{
	return conn_count() == 0;
}

/* Plaintext that arrives after the go-ahead is taken for a ClientHello
 * and fails the handshake: still never a command. */
START_TEST(starttls_late_plaintext)
{
	char	b[256];
	int	fd;

	t_conn(&t_svc_tls, &fd);
	t_send(fd, "STARTTLS\r\n", 10);
	ck_assert_int_eq(t_recv(fd, b, 14, 1000), 14);
	ck_assert(memcmp(b, "HELLO\r\nOK go\r\n", 14) == 0);
	t_send(fd, "ECHO evil\r\n", 11);
	ck_assert(t_pump(no_conns, 3000));
	ck_assert(ts.closed);
	ck_assert_int_lt(ts.tls_status, 0);
	ck_assert(!t_contains("evil"));
}
END_TEST

START_TEST(handshake_timeout)
{
	uint64_t	t0 = ev_now_ms();
	int		fd;

	t_conn(&t_svc_itls, &fd);
	ck_assert(t_pump(no_conns, 4000));
	ck_assert_uint_ge(ev_now_ms() - t0, 900);
	ck_assert(!ts.connected);
	ck_assert(!ts.closed);	/* no session, so no on_close */
}
END_TEST

START_TEST(handshake_garbage)
{
	int	fd;

	t_conn(&t_svc_itls, &fd);
	t_send(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	ck_assert(t_pump(no_conns, 2000));
	ck_assert(!ts.connected);
}
END_TEST

START_TEST(ctx_errors)
{
	char		 dir[] = "/tmp/kurir-tlsx-XXXXXX", c2[600], k2[600];
	char		 key[600], err[512];
	struct stat	 st;
	SSL_CTX		*ctx;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(key, sizeof(key), "%.*s/key.pem",
	    (int)(strrchr(cert, '/') - cert), cert);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* The chain option takes extra certificates. */
	ctx = tls_server_ctx(cert, key, cert, "HIGH", NULL, "TLSv1.3", err,
	    sizeof(err));
	ck_assert_msg(ctx != NULL, "%s", err);
	SSL_CTX_free(ctx);
	ck_assert_ptr_null(tls_server_ctx(cert, key, NULL, NULL, NULL,
	    "TLSv1.1", err, sizeof(err)));
	ck_assert(strstr(err, "TLSv1.1") != NULL);
	ck_assert_ptr_null(tls_server_ctx(cert, key, NULL, "NOSUCHCIPHER",
	    NULL, NULL, err, sizeof(err)));
	ck_assert_ptr_null(tls_server_ctx("/nonexistent", key, NULL, NULL,
	    NULL, NULL, err, sizeof(err)));
	ck_assert(strstr(err, "/nonexistent") != NULL);
	/* Another key than the certificate's. */
	snprintf(c2, sizeof(c2), "%s/c.pem", dir);
	snprintf(k2, sizeof(k2), "%s/k.pem", dir);
	ck_assert_int_eq(tls_make_selfsigned(c2, k2, "mail.example",
	    err, sizeof(err)), 0);
	ck_assert_ptr_null(tls_server_ctx(cert, k2, NULL, NULL, NULL, NULL,
	    err, sizeof(err)));
	unlink(c2);
	unlink(k2);
	rmdir(dir);
}
END_TEST

static void
teardown(void)
{
	char	path[600];
	size_t	dl = (size_t)(strrchr(cert, '/') - cert);

	snprintf(path, sizeof(path), "%.*s/key.pem", (int)dl, cert);
	unlink(path);
	unlink(cert);
	cert[dl] = '\0';
	rmdir(cert);
}

static Suite *
tls_suite(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc;

	tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, implicit_tls_session);
	tcase_add_test(tc, tls_info);
	tcase_add_test(tc, tls12_client);
	tcase_add_test(tc, starttls_pipelined);
	tcase_add_test(tc, starttls_late_plaintext);
	tcase_add_test(tc, starttls_output_after);
	tcase_add_test(tc, handshake_timeout);
	tcase_add_test(tc, handshake_garbage);
	tcase_add_test(tc, ctx_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(tls_suite());
	int	 failed;

	log_init("check_tls", 1);
	log_set_level(KURIR_LOG_WARNING);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
