/*
 * check_conn.c -- the connection layer over socketpairs: the bounded
 * line reader (every split point, byte by byte, overlong lines), exact
 * byte reads, pause/resume, output backpressure and its hard cap, idle
 * timeouts, EOF, shutdown, addresses and log lines.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "conn_private.h"
#include "ev.h"
#include "log.h"
#include "net_harness.h"

static size_t	want_lines;

static int
have_lines(void)
{
	return ts.lines >= want_lines || ts.closed;
}

/* Sends s, waits for n lines in total. */
static void
send_wait(int fd, const char *s, size_t n)
{
	t_send(fd, s, strlen(s));
	want_lines = n;
	t_pump(have_lines, 2000);
}

static void
setup(void)
{
	t_reset();
	t_limits(64, 65536, 16384, 1024 * 1024, 0);
}

START_TEST(lines_basic)
{
	int	fd;

	t_conn(&t_svc, &fd);
	send_wait(fd, "one\r\ntwo\nthree\r\n\r\n", 4);
	ts.tr[ts.trlen] = '\0';
	ck_assert_str_eq(ts.tr, "CONNECT\nLc:one\nLl:two\nLc:three\nLc:\n");
}
END_TEST

START_TEST(lines_nul_and_cr)
{
	int	fd;

	t_conn(&t_svc, &fd);
	/* A NUL stays in the line; a CR not before LF is text. */
	t_send(fd, "a\0b\r\nx\ry\n", 9);
	want_lines = 2;
	t_pump(have_lines, 2000);
	ck_assert_uint_eq(ts.trlen, strlen("CONNECT\n") + 7 + 7);
	ck_assert(memcmp(ts.tr + 8, "Lc:a\0b\nLl:x\ry\n", 14) == 0);
}
END_TEST

static const char	split_input[] =
    "HELLO there\r\n"
    "LIT 5\r\n"
    "abcde"
    "0123456789012345678901234567890123456789012345678901234567890123\r\n"
    "01234567890123456789012345678901234567890123456789012345678901234"
    "56789\r\n"
    "tail\n";
static const char	split_expect[] =
    "CONNECT\n"
    "Lc:HELLO there\n"
    "Lc:LIT 5\nR0\n"
    "@abcde"
    "Lc:0123456789012345678901234567890123456789012345678901234567890123\n"
    "LT:0123456789012345678901234567890123456789012345678901234567890123\n"
    "Ll:tail\n";

/* The transcript with the D records of one literal folded into "@". */
static void
check_split_transcript(void)
{
	char	 out[4096], *p, *q, *e;
	size_t	 o = 0;

	ts.tr[ts.trlen] = '\0';
	p = ts.tr;
	e = ts.tr + ts.trlen;
	while (p < e) {
		if (*p == 'D') {
			q = strchr(p, ':') + 1;
			if (o == 0 || out[o - 1] == '\n')
				out[o++] = '@';
			p = q;
			while (*p != '\n')
				out[o++] = *p++;
			p++;
			continue;
		}
		while (p < e && *p != '\n')
			out[o++] = *p++;
		out[o++] = *p++;
	}
	out[o] = '\0';
	ck_assert_str_eq(out, split_expect);
}

static int
split_done(void)
{
	return t_contains("Ll:tail\n");
}

/* Two writes, split at every offset: the same transcript each time. */
START_TEST(lines_every_split)
{
	size_t	len = sizeof(split_input) - 1;
	int	fd;

	setup();
	t_conn(&t_svc, &fd);
	t_send(fd, split_input, (size_t)_i);
	t_spin(2);
	/* Never more than a line and its CR LF held in between. */
	ck_assert_uint_le(ts.c->in_cap, 64 + 2);
	t_send(fd, split_input + _i, len - (size_t)_i);
	ck_assert(t_pump(split_done, 2000));
	check_split_transcript();
	ck_assert_uint_eq(ts.c->in_len, 0);
	ck_assert_ptr_null(ts.c->in);
}
END_TEST

START_TEST(lines_byte_by_byte)
{
	size_t	i, len = sizeof(split_input) - 1;
	int	fd;

	t_conn(&t_svc, &fd);
	for (i = 0; i < len; i++) {
		t_send(fd, split_input + i, 1);
		ev_run_once(ev_default(), 0);
		ev_run_once(ev_default(), 0);
		ck_assert_uint_le(ts.c->in_cap, 64 + 2);
	}
	ck_assert(t_pump(split_done, 2000));
	check_split_transcript();
	/* Every literal byte came on its own, with the right remainder. */
	ck_assert(t_contains("D1/4:a\nD1/3:b\nD1/2:c\nD1/1:d\nD1/0:e\n"));
}
END_TEST

START_TEST(lines_overlong)
{
	char	big[5000];
	int	fd;

	t_conn(&t_svc, &fd);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	t_send(fd, big, sizeof(big));
	send_wait(fd, "ECHO ok\r\n", 2);
	/* Delivered once, truncated; the rest up to LF is gone. */
	ck_assert_uint_eq(ts.lines, 2);
	ck_assert(t_contains("LT:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxx\nLc:ECHO ok\n"));
	ck_assert_uint_le(ts.c->in_cap, 64 + 2);
	/* Exactly max_line is a line; one more is not. */
	memset(big, 'y', 64);
	memcpy(big + 64, "\r\n", 2);
	t_send(fd, big, 66);
	memset(big, 'z', 65);
	memcpy(big + 65, "\n", 1);
	t_send(fd, big, 66);
	want_lines = 4;
	t_pump(have_lines, 2000);
	ck_assert(t_contains("\nLc:yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	    "yyyyyyyyyyyyyyyyyyyyy\n"));
	ck_assert(t_contains("\nLT:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "zzzzzzzzzzzzzzzzzzzzzzz\n"));
}
END_TEST

START_TEST(lines_overlong_trickle)
{
	int	fd, i;

	t_conn(&t_svc, &fd);
	/* A line that never ends: reported once, buffer stays bounded. */
	for (i = 0; i < 300; i++) {
		t_send(fd, "abcdefghij", 10);
		ev_run_once(ev_default(), 0);
		ck_assert_uint_le(ts.c->in_cap, 64 + 2);
	}
	t_spin(20);
	ck_assert_uint_eq(ts.lines, 1);
	ck_assert(t_contains("LT:abcdefghij"));
	send_wait(fd, "end\r\nECHO next\r\n", 2);
	/* "end" closed the long line; "ECHO next" is the next one. */
	ck_assert_uint_eq(ts.lines, 2);
	ck_assert(t_contains("Lc:ECHO next\n"));
}
END_TEST

START_TEST(bytes_exact)
{
	char	buf[64];
	int	fd;

	t_conn(&t_svc, &fd);
	send_wait(fd, "LIT 10\r\n0123456789ECHO after\r\n", 2);
	ck_assert(t_contains("Lc:LIT 10\nR0\nD10/0:0123456789\n"
	    "Lc:ECHO after\n"));
	ck_assert_uint_eq(ts.data_bytes, 10);
	ck_assert_int_eq(t_recv(fd, buf, 14, 500), 14);
	ck_assert(memcmp(buf, "HELLO\r\nafter\r\n", 14) == 0);
	/* n == 0 and a second read while one is running are refused. */
	ck_assert_int_eq(conn_read_bytes(ts.c, 0), KURIR_E_INVALID);
	ck_assert_int_eq(conn_read_bytes(ts.c, 3), KURIR_OK);
	ck_assert_int_eq(conn_read_bytes(ts.c, 3), KURIR_E_INVALID);
}
END_TEST

START_TEST(bytes_large)
{
	static char	lit[300000];
	char		cmd[64];
	int		fd;
	size_t		i;

	t_conn(&t_svc, &fd);
	for (i = 0; i < sizeof(lit); i++)
		lit[i] = (char)('a' + i % 26);
	snprintf(cmd, sizeof(cmd), "LIT %zu\r\n", sizeof(lit));
	t_send(fd, cmd, strlen(cmd));
	t_send(fd, lit, sizeof(lit));
	send_wait(fd, "ECHO done\r\n", 2);
	ck_assert_uint_eq(ts.data_bytes, sizeof(lit));
	ck_assert(t_contains("/0:"));
	ck_assert(t_contains("Lc:ECHO done\n"));
}
END_TEST

START_TEST(pause_resume)
{
	int	fd;

	t_conn(&t_svc, &fd);
	send_wait(fd, "PAUSE\r\nECHO a\r\nECHO b\r\n", 1);
	t_spin(50);
	ck_assert_uint_eq(ts.lines, 1);
	/* More input meanwhile stays unread. */
	t_send(fd, "ECHO c\r\n", 8);
	t_spin(50);
	ck_assert_uint_eq(ts.lines, 1);
	conn_resume(ts.c);
	/* Not from inside conn_resume: from a deferred call. */
	ck_assert_uint_eq(ts.lines, 1);
	want_lines = 4;
	ck_assert(t_pump(have_lines, 2000));
	ck_assert(t_contains("Lc:PAUSE\nLc:ECHO a\nLc:ECHO b\nLc:ECHO c\n"));
	/* Pause again mid-buffer after a resume. */
	send_wait(fd, "PAUSE\r\nECHO d\r\n", 5);
	t_spin(30);
	ck_assert_uint_eq(ts.lines, 5);
	conn_resume(ts.c);
	want_lines = 6;
	ck_assert(t_pump(have_lines, 2000));
}
END_TEST

static int
stream_done(void)
{
	return ts.stream_left == 0 || ts.closed;
}

/* A peer that does not read: the queue stops at the high mark, input
 * waits; once it reads, on_drain streams the rest and input resumes. */
START_TEST(backpressure_stream)
{
	static char	buf[1 << 20];
	size_t		total = 0;
	ssize_t		n;
	int		fd, sz = 4096;

	t_limits(64, 32768, 8192, 262144, 0);
	t_conn(&t_svc, &fd);
	setsockopt(ts.c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	send_wait(fd, "STREAM 2000000\r\n", 1);
	t_spin(100);
	ck_assert(!ts.closed);
	ck_assert_uint_gt(ts.stream_left, 0);
	ck_assert_uint_le(ts.max_out, 32768 + 4096);
	ck_assert_msg(!conn_writable(ts.c), "out %zu flags %x left %lu drains %d",
	    ts.c->out_bytes, ts.c->flags, (unsigned long)ts.stream_left, ts.drains);
	/* Reading is paused while above the high mark. */
	t_send(fd, "ECHO x\r\n", 8);
	t_spin(50);
	ck_assert_uint_eq(ts.lines, 1);
	/* Now read everything. */
	while (total < 2000000 + 7 + 3) {
		n = t_recv(fd, buf, sizeof(buf), 100);
		ck_assert_int_ge(n, 0);
		total += (size_t)n;
		if (n == 0)
			break;
	}
	ck_assert_uint_eq(total, 2000000 + 7 + 3);
	ck_assert(stream_done());
	ck_assert_int_gt(ts.drains, 0);
	ck_assert_uint_eq(ts.lines, 2);
	ck_assert_uint_le(ts.max_out, 32768 + 4096);
	ck_assert(!ts.closed);
}
END_TEST

/* A module that ignores conn_writable and a peer that never reads: the
 * queue is cut at output_buffer_max by closing the connection. */
START_TEST(backpressure_cap)
{
	int	fd, sz = 4096;

	t_limits(64, 32768, 8192, 262144, 0);
	t_conn(&t_svc, &fd);
	setsockopt(ts.c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	send_wait(fd, "FLOOD 1000000\r\n", 1);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_int_eq(ts.last_write_rc, KURIR_E_TOOBIG);
	ck_assert_uint_le(ts.max_out, 262144);
	ck_assert_uint_eq(conn_count(), 0);
}
END_TEST

/* The same module writing from each command: input stops at the high
 * mark, so a flood of commands cannot grow the queue either. */
START_TEST(backpressure_commands)
{
	int	fd, i, sz = 4096;

	t_limits(64, 32768, 8192, 262144, 0);
	t_conn(&t_svc, &fd);
	setsockopt(ts.c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	for (i = 0; i < 40; i++) {
		t_send(fd, "FLOOD 20000\r\n", 13);
		t_spin(5);
	}
	t_spin(50);
	ck_assert(!ts.closed);
	ck_assert_uint_lt(ts.lines, 40);
	ck_assert_uint_le(ts.max_out, 32768 + 20000);
	ck_assert(ts.c->in_len <= 40 * 13);
}
END_TEST

START_TEST(idle_timeout)
{
	char		buf[64];
	uint64_t	t0;
	ssize_t		n;
	int		fd;

	t_limits(64, 65536, 16384, 1 << 20, 1);
	t_conn(&t_svc, &fd);
	t0 = ev_now_ms();
	/* Activity pushes the deadline out. */
	t_spin(600);
	send_wait(fd, "ECHO hi\r\n", 1);
	ck_assert(t_pump(t_closed, 3000));
	ck_assert_uint_ge(ev_now_ms() - t0, 1500);
	ck_assert_int_eq(ts.timeouts, 1);
	n = t_recv(fd, buf, sizeof(buf), 200);
	ck_assert_int_eq(n, 7 + 4 + 9);
	ck_assert(memcmp(buf + 11, "TIMEOUT\r\n", 9) == 0);
	/* Then EOF. */
	ck_assert_int_eq(t_recv(fd, buf, sizeof(buf), 200), -1);
}
END_TEST

START_TEST(idle_timeout_override)
{
	uint64_t	t0;
	int		fd;

	t_limits(64, 65536, 16384, 1 << 20, 100);
	t_conn(&t_svc, &fd);
	t0 = ev_now_ms();
	conn_set_timeout(ts.c, 1);
	ck_assert(t_pump(t_closed, 3000));
	ck_assert_uint_lt(ev_now_ms() - t0, 2000);
	ck_assert_int_eq(ts.timeouts, 1);
}
END_TEST

START_TEST(quit_and_eof)
{
	char	buf[64];
	int	fd;

	t_conn(&t_svc, &fd);
	send_wait(fd, "QUIT\r\nECHO never\r\n", 1);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_int_eq(t_recv(fd, buf, sizeof(buf), 200), 12);
	ck_assert(memcmp(buf, "HELLO\r\nBYE\r\n", 12) == 0);
	ck_assert(!t_contains("never"));
	close(fd);

	/* A half close: replies still go out, then the connection ends. */
	t_reset();
	t_conn(&t_svc, &fd);
	t_send(fd, "ECHO last\r\n", 11);
	shutdown(fd, SHUT_WR);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_int_eq(t_recv(fd, buf, sizeof(buf), 200), 13);
	ck_assert(memcmp(buf, "HELLO\r\nlast\r\n", 13) == 0);
}
END_TEST

START_TEST(write_after_close)
{
	int	fd;

	t_conn(&t_svc, &fd);
	conn_close(ts.c);
	ck_assert_int_eq(conn_write(ts.c, "x", 1), KURIR_E_INVALID);
	ck_assert(!conn_writable(ts.c));
	ck_assert(t_pump(t_closed, 2000));
}
END_TEST

/* A peer gone without a word (RST) while output waits. */
START_TEST(peer_vanishes)
{
	int	fd, sz = 4096;

	t_limits(64, 1 << 20, 1 << 19, 4 << 20, 0);
	t_conn(&t_svc, &fd);
	setsockopt(ts.c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	send_wait(fd, "FLOOD 500000\r\n", 1);
	t_spin(20);
	ck_assert(!ts.closed);
	close(fd);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_uint_eq(conn_count(), 0);
}
END_TEST

static int
no_conns(void)
{
	return conn_count() == 0;
}

START_TEST(connect_refused_or_closed)
{
	char	buf[64];
	int	fd;

	/* Refused: closed, and no on_close for a session never made. */
	ts.refuse = 1;
	t_conn(&t_svc, &fd);
	ck_assert(t_pump(no_conns, 2000));
	ck_assert(!ts.closed);
	ck_assert_int_eq(t_recv(fd, buf, sizeof(buf), 200), -1);
	close(fd);

	/* Closed from on_connect: the greeting still goes out first. */
	t_reset();
	ts.close_at_once = 1;
	t_conn(&t_svc, &fd);
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_int_eq(t_recv(fd, buf, sizeof(buf), 200), 7);
	ck_assert(memcmp(buf, "HELLO\r\n", 7) == 0);
}
END_TEST

START_TEST(shutdown_all)
{
	char	buf[64];
	int	fd;

	t_conn(&t_svc, &fd);
	ck_assert_uint_eq(conn_count(), 1);
	conn_shutdown_all();
	ck_assert(t_pump(t_closed, 2000));
	ck_assert_int_eq(ts.shutdowns, 1);
	ck_assert_int_eq(t_recv(fd, buf, sizeof(buf), 200), 17);
	ck_assert(memcmp(buf + 7, "STOPPING\r\n", 10) == 0);
	ck_assert_uint_eq(conn_count(), 0);

	/* close_all: at once, on_close before it returns. */
	t_reset();
	t_conn(&t_svc, &fd);
	conn_close_all();
	ck_assert(ts.closed);
	ck_assert_uint_eq(conn_count(), 0);
	t_spin(10);
}
END_TEST

START_TEST(ids_and_log)
{
	struct kurir_conn	*a, *b;
	char			 path[] = "/tmp/kurir-log-XXXXXX", buf[4096];
	char			 want[128];
	int			 fd1, fd2, lfd, saved;
	ssize_t			 n;

	a = t_conn(&t_svc, &fd1);
	b = t_conn(&t_svc, &fd2);
	ck_assert(conn_id(a) != conn_id(b));
	ck_assert_str_eq(conn_service(a), "test");
	ck_assert_str_eq(conn_peer_addr(a), "local");
	ck_assert(conn_is_loopback(a));
	ck_assert(conn_plaintext_ok(a));
	ck_assert(!conn_is_tls(a));
	ck_assert_ptr_null(conn_tls_info(a));
	ck_assert_int_eq(conn_starttls(a), KURIR_E_UNSUPPORTED);

	lfd = mkstemp(path);
	saved = dup(2);
	dup2(lfd, 2);
	log_init("check_conn", 1);
	log_set_level(KURIR_LOG_DEBUG);
	conn_log(a, KURIR_LOG_NOTICE, "hello %d", 42);
	fflush(stderr);
	dup2(saved, 2);
	n = pread(lfd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "test[%016llx] local: hello 42",
	    (unsigned long long)conn_id(a));
	ck_assert_msg(strstr(buf, want) != NULL, "log: %s", buf);
	unlink(path);
}
END_TEST

START_TEST(tcp_addresses)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof(sin);
	struct conn_limits	lim;
	struct kurir_conn	*c;
	int			l, cl, sfd;

	l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	getsockname(l, (struct sockaddr *)&sin, &sl);
	cl = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(cl, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	sfd = accept(l, NULL, NULL);
	c = conn_new(sfd, &t_svc);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(conn_peer_addr(c), "127.0.0.1");
	ck_assert_str_eq(conn_local_addr(c), "127.0.0.1");
	ck_assert_uint_eq(conn_local_port(c), ntohs(sin.sin_port));
	ck_assert_uint_ne(conn_peer_port(c), 0);
	ck_assert(conn_is_loopback(c));
	ck_assert(conn_plaintext_ok(c));
	memset(&lim, 0, sizeof(lim));
	lim.max_line = 64;
	lim.out_high = lim.out_low = lim.out_max = 65536;
	lim.allow_plaintext_loopback = 0;
	conn_set_limits(&lim);
	ck_assert(!conn_plaintext_ok(c));
	close(cl);
	ck_assert(t_pump(t_closed, 2000));
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite	*s = suite_create("conn");
	TCase	*tc;

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, lines_basic);
	tcase_add_test(tc, lines_nul_and_cr);
	tcase_add_test(tc, lines_byte_by_byte);
	tcase_add_test(tc, lines_overlong);
	tcase_add_test(tc, lines_overlong_trickle);
	suite_add_tcase(s, tc);

	/* One forked run per split point; each sets itself up. */
	tc = tcase_create("split");
	tcase_add_loop_test(tc, lines_every_split, 0,
	    (int)sizeof(split_input));
	suite_add_tcase(s, tc);

	tc = tcase_create("bytes");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, bytes_exact);
	tcase_add_test(tc, bytes_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("flow");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, pause_resume);
	tcase_add_test(tc, backpressure_stream);
	tcase_add_test(tc, backpressure_cap);
	tcase_add_test(tc, backpressure_commands);
	tcase_add_test(tc, quit_and_eof);
	tcase_add_test(tc, write_after_close);
	tcase_add_test(tc, peer_vanishes);
	tcase_add_test(tc, connect_refused_or_closed);
	tcase_add_test(tc, shutdown_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, idle_timeout_override);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, ids_and_log);
	tcase_add_test(tc, tcp_addresses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(conn_suite());
	int	 failed;

	log_init("check_conn", 1);
	log_set_level(KURIR_LOG_WARNING);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
