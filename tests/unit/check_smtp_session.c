/*
 * check_smtp_session.c -- the SMTP state machine against the mock core
 * (check_smtp_mock.c): replies and codes, pipelining, DATA and BDAT with
 * the stored bytes checked exactly (also split at every input offset),
 * smuggling, relay policy, limits, AUTH and the sender login check,
 * STARTTLS state reset, commit failures and asynchronous commits.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_smtp_mock.h"

#define EHLO_MAIL_RCPT							\
	"EHLO client.example\r\n"					\
	"MAIL FROM:<sender@remote.example>\r\n"				\
	"RCPT TO:<alice@localhost>\r\n"

static void
setup(void)
{
	mock_reset();
}

/* The stored message without its Received: header. */
static const char *
body_of(const struct mock_msg *m)
{
	const char *p = m->data;

	ck_assert_msg(strncmp(p, "Received: from ", 15) == 0, "%s", p);
	/* the header ends at the first CR LF not followed by a tab */
	for (;;) {
		p = strstr(p, "\r\n");
		ck_assert_ptr_nonnull(p);
		p += 2;
		if (*p != '\t')
			return (p);
	}
}

static void
assert_has(const char *out, const char *needle)
{
	ck_assert_msg(strstr(out, needle) != NULL, "wanted [%s] in [%s]",
	    needle, out);
}

START_TEST(test_greeting_ehlo)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	o = mock_out(c);
	ck_assert_str_eq(o, "220 mx.test ESMTP kurir\r\n");
	mock_feeds(c, "EHLO client.example\r\n");
	o = mock_out(c);
	assert_has(o, "250-mx.test greets client.example\r\n");
	assert_has(o, "250-PIPELINING\r\n");
	assert_has(o, "250-SIZE 1000000\r\n");
	assert_has(o, "250-8BITMIME\r\n");
	assert_has(o, "250-ENHANCEDSTATUSCODES\r\n");
	assert_has(o, "250-STARTTLS\r\n");
	assert_has(o, "250-SMTPUTF8\r\n");
	assert_has(o, "250-DSN\r\n");
	assert_has(o, "250-CHUNKING\r\n");
	assert_has(o, "250 HELP\r\n");
	/* no AUTH without TLS off loopback */
	ck_assert_ptr_null(strstr(o, "AUTH"));
	mock_feeds(c, "HELO client.example\r\n");
	ck_assert_str_eq(mock_out(c), "250 mx.test\r\n");
	mock_feeds(c, "NOOP\r\nRSET\r\nVRFY alice\r\nEXPN list\r\nHELP\r\n");
	o = mock_out(c);
	assert_has(o, "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n252 2.5.2 ");
	assert_has(o, "502 5.5.1 ");
	assert_has(o, "214 2.0.0 ");
	mock_feeds(c, "QUIT\r\n");
	ck_assert_str_eq(mock_out(c), "221 2.0.0 Bye\r\n");
	ck_assert_int_eq(c->closed, 1);
	mock_close(c);
}
END_TEST

START_TEST(test_pipelined_transaction)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	mock_out(c);
	/* everything in one write (RFC 2920) */
	mock_feeds(c, EHLO_MAIL_RCPT "RCPT TO:<bob@example.org>\r\n"
	    "DATA\r\nSubject: hi\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n");
	o = mock_out(c);
	assert_has(o, "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
	    "250 2.1.5 Recipient OK\r\n354 ");
	assert_has(o, "250 2.0.0 Ok: queued as ABCDEF01234567890001\r\n"
	    "221 2.0.0 Bye\r\n");
	ck_assert_uint_eq(mock_nmsgs, 2);
	ck_assert_str_eq(mock_msgs[0].user, "alice@localhost");
	ck_assert_str_eq(mock_msgs[1].user, "bob@localhost");
	ck_assert_str_eq(body_of(&mock_msgs[0]),
	    "Subject: hi\r\n\r\n.dot\r\nbody\r\n");
	ck_assert_str_eq(mock_msgs[0].data, mock_msgs[1].data);
	/* two recipients: no "for" clause */
	ck_assert_ptr_null(strstr(mock_msgs[0].data, "for <"));
	mock_close(c);
}
END_TEST

START_TEST(test_received_header)
{
	struct kurir_conn *c = mock_connect("submissions");
	const char *m;

	mock_out(c);
	mock_feeds(c, "EHLO client.example\r\nAUTH PLAIN good\r\n"
	    "MAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@localhost>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	ck_assert_uint_eq(mock_nmsgs, 1);
	m = mock_msgs[0].data;
	assert_has(m, "Received: from client.example ([192.0.2.7])\r\n"
	    "\tby mx.test (kurir) with ESMTPSA id ABCDEF01234567890001\r\n"
	    "\t(using TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n"
	    "\tfor <bob@localhost>;\r\n\t");
	assert_has(m, " +0000\r\nx\r\n");
	mock_close(c);
}
END_TEST

START_TEST(test_sequence_errors)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	mock_out(c);
	mock_feeds(c, "MAIL FROM:<a@b.example>\r\n");
	assert_has(mock_out(c), "503 5.5.1 Send HELO or EHLO first");
	mock_feeds(c, "EHLO x\r\nRCPT TO:<alice@localhost>\r\n");
	assert_has(mock_out(c), "503 5.5.1 Need MAIL before RCPT");
	mock_feeds(c, "DATA\r\n");
	assert_has(mock_out(c), "503 5.5.1 ");
	mock_feeds(c, "MAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\n");
	assert_has(mock_out(c), "503 5.5.1 Nested MAIL command");
	mock_feeds(c, "DATA\r\n");
	assert_has(mock_out(c), "554 5.5.1 No valid recipients");
	mock_feeds(c, "DATA extra\r\n");
	assert_has(mock_out(c), "501 5.5.4 ");
	mock_feeds(c, "FOO bar\r\n");
	assert_has(mock_out(c), "500 5.5.2 Command unrecognized");
	mock_feeds(c, "TURN\r\n");
	assert_has(mock_out(c), "502 5.5.1 ");
	mock_feeds(c, "MAIL FROM:a@b\r\nEHLO\r\n");
	o = mock_out(c);
	assert_has(o, "503 5.5.1 Nested");	/* still in a transaction */
	assert_has(o, "501 5.5.4 Syntax: EHLO hostname");
	mock_feeds(c, "RSET\r\nMAIL FROM:a@b\r\n");
	assert_has(mock_out(c), "501 5.1.7 Bad sender address syntax");
	mock_feeds(c, "MAIL FROM:<a@b> FOO=1\r\n");
	assert_has(mock_out(c), "555 5.5.4 ");
	mock_feeds(c, "MAIL FROM:<a@b> SIZE=x\r\n");
	assert_has(mock_out(c), "501 5.5.4 ");
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<a b>\r\n");
	assert_has(mock_out(c), "501 5.1.3 ");
	ck_assert_int_eq(c->closed, 0);
	mock_close(c);
}
END_TEST

START_TEST(test_helo_no_params)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_out(c);
	mock_feeds(c, "HELO x\r\nMAIL FROM:<a@b> SIZE=10\r\n");
	assert_has(mock_out(c), "555 5.5.4 Parameters need EHLO");
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	assert_has(mock_msgs[0].data, "with SMTP id");
	mock_close(c);
}
END_TEST

START_TEST(test_max_errors)
{
	struct kurir_conn *c;
	int i;

	mock_conf_set("smtp_max_errors", "3");
	c = mock_connect("smtp");
	mock_out(c);
	for (i = 0; i < 5; i++)
		mock_feeds(c, "BOGUS\r\n");
	ck_assert_str_eq(mock_out(c), "500 5.5.2 Command unrecognized\r\n"
	    "500 5.5.2 Command unrecognized\r\n"
	    "500 5.5.2 Command unrecognized\r\n"
	    "421 4.7.0 mx.test Too many errors, closing connection\r\n");
	ck_assert_int_eq(c->closed, 1);
	mock_close(c);
}
END_TEST

START_TEST(test_line_limits)
{
	struct kurir_conn *c = mock_connect("smtp");
	char *big;
	size_t n = 1 << 20;

	mock_out(c);
	big = malloc(n + 3);
	memset(big, 'A', n);
	memcpy(big + n, "\r\n", 3);
	mock_feeds(c, "NOOP ");
	mock_feeds(c, big);
	assert_has(mock_out(c), "500 5.5.2 Line too long");
	/* a 2049-byte command is over smtp_max_line_length */
	memcpy(big, "NOOP ", 5);
	memcpy(big + 2047, "\r\n", 3);
	mock_feeds(c, big);
	assert_has(mock_out(c), "500 5.5.2 Line too long");
	mock_feeds(c, "NO\0OP\r\n");	/* the NUL ends the C string */
	mock_feed(c, "NO\0OP\r\n", 7);
	assert_has(mock_out(c), "500 5.5.2 NUL byte in command");
	mock_feeds(c, "NOOP\r\n");
	ck_assert_str_eq(mock_out(c), "250 2.0.0 Ok\r\n");
	free(big);
	mock_close(c);
}
END_TEST

START_TEST(test_recipients)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	mock_out(c);
	mock_feeds(c, "EHLO x\r\nMAIL FROM:<a@remote.example>\r\n");
	mock_out(c);
	mock_feeds(c, "RCPT TO:<nobody@localhost>\r\n");
	assert_has(mock_out(c), "550 5.1.1 <nobody@localhost>: Recipient "
	    "address rejected: User unknown");
	mock_feeds(c, "RCPT TO:<victim@elsewhere.example>\r\n");
	assert_has(mock_out(c), "554 5.7.1 <victim@elsewhere.example>: Relay "
	    "access denied");
	mock_feeds(c, "RCPT TO:<victim@[192.0.2.1]>\r\n");
	assert_has(mock_out(c), "554 5.7.1 ");
	mock_feeds(c, "RCPT TO:<temp@localhost>\r\n");
	assert_has(mock_out(c), "451 4.3.0 ");
	mock_feeds(c, "RCPT TO:<loop@localhost>\r\n");
	assert_has(mock_out(c), "550 5.4.6 ");
	mock_feeds(c, "RCPT TO:<fwd@localhost>\r\n");
	assert_has(mock_out(c), "451 4.4.0 ");
	/* duplicates through alias, plus-address and case: one copy each */
	mock_feeds(c, "RCPT TO:<alice@localhost>\r\nRCPT TO:<all@localhost>\r\n"
	    "RCPT TO:<alice+news@LOCALHOST>\r\nRCPT TO:<Postmaster>\r\n"
	    "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;bob+40example.org\r\n");
	o = mock_out(c);
	ck_assert_str_eq(o, "250 2.1.5 Recipient OK\r\n"
	    "250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n"
	    "250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n");
	ck_assert_uint_eq(((struct smtp_session *)c->sess)->txn.ntarget, 2);
	ck_assert_uint_eq(((struct smtp_session *)c->sess)->txn.nrcpt, 5);
	ck_assert_uint_eq(((struct smtp_session *)c->sess)->txn.rcpts[4]
	    .params.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	mock_feeds(c, "DATA\r\nhello\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	ck_assert_uint_eq(mock_nmsgs, 2);
	mock_close(c);
}
END_TEST

START_TEST(test_max_recipients)
{
	struct kurir_conn *c;
	const char *o;

	mock_conf_set("smtp_max_recipients", "2");
	c = mock_connect("smtp");
	mock_feeds(c, "EHLO x\r\nMAIL FROM:<a@remote.example>\r\n"
	    "RCPT TO:<alice@localhost>\r\nRCPT TO:<bob@localhost>\r\n");
	mock_out(c);
	mock_feeds(c, "RCPT TO:<all@localhost>\r\n");
	o = mock_out(c);
	ck_assert_str_eq(o, "452 4.5.3 Too many recipients\r\n");
	mock_close(c);
}
END_TEST

START_TEST(test_utf8)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_feeds(c, "EHLO x\r\n");
	mock_out(c);
	mock_feeds(c, "MAIL FROM:<j\xc3\xb6rg@remote.example>\r\n");
	assert_has(mock_out(c), "553 5.6.7 ");
	mock_feeds(c, "MAIL FROM:<j\xc3\xb6rg@remote.example> SMTPUTF8\r\n"
	    "RCPT TO:<alice@localhost>\r\nDATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	assert_has(mock_msgs[0].data, "with UTF8SMTP id");
	mock_close(c);
}
END_TEST

static void
deliver_split(const char *data, size_t split, const char *expect)
{
	struct kurir_conn *c;
	size_t len = strlen(data);
	const char *o;

	mock_reset();
	c = mock_connect("smtp");
	mock_feeds(c, EHLO_MAIL_RCPT "DATA\r\n");
	mock_out(c);
	mock_feed(c, data, split);
	mock_feed(c, data + split, len - split);
	o = mock_out(c);
	ck_assert_msg(strncmp(o, "250 2.0.0 Ok", 12) == 0,
	    "split %zu: %s", split, o);
	ck_assert_uint_eq(mock_nmsgs, 1);
	ck_assert_str_eq(body_of(&mock_msgs[0]), expect);
	mock_close(c);
}

START_TEST(test_dot_split_everywhere)
{
	static const char data[] = "..a\r\n.\r\r\n...\r\nb.\r\n\r\n.\r\n";
	static const char expect[] = ".a\r\n\r\r\n..\r\nb.\r\n\r\n";
	size_t i;

	for (i = 0; i <= strlen(data); i++)
		deliver_split(data, i, expect);
}
END_TEST

START_TEST(test_smuggling)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	mock_feeds(c, EHLO_MAIL_RCPT "DATA\r\n");
	mock_out(c);
	/* None of these end the data, so the "smuggled" commands are text */
	mock_feeds(c, "a\r\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<bob@localhost>"
	    "\r\nDATA\r\nevil\n.\r\nmore\r\n.\r\r\nend\r\n");
	ck_assert_str_eq(mock_out(c), "");
	ck_assert_uint_eq(mock_nmsgs, 0);
	mock_feeds(c, ".\r\n");
	o = mock_out(c);
	assert_has(o, "250 2.0.0 Ok");
	ck_assert_uint_eq(mock_nmsgs, 1);
	ck_assert_str_eq(mock_msgs[0].user, "alice@localhost");
	/* normalize: bare LF line ends became CR LF */
	ck_assert_str_eq(body_of(&mock_msgs[0]),
	    "a\r\n\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<bob@localhost>\r\n"
	    "DATA\r\nevil\r\n\r\nmore\r\n\r\r\nend\r\n");
	mock_close(c);
}
END_TEST

START_TEST(test_bare_reject)
{
	struct kurir_conn *c;

	mock_conf_set("smtp_bare_newline", "reject");
	c = mock_connect("smtp");
	mock_feeds(c, EHLO_MAIL_RCPT "DATA\r\n");
	mock_out(c);
	mock_feeds(c, "a\nb\r\n.\r\n");
	assert_has(mock_out(c), "554 5.6.0 ");
	ck_assert_uint_eq(mock_nmsgs, 0);
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n"
	    "a\rb\r\n.\r\n");
	assert_has(mock_out(c), "554 5.6.0 ");
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n"
	    "clean\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	ck_assert_uint_eq(mock_nmsgs, 1);
	mock_close(c);
}
END_TEST

START_TEST(test_long_data_line)
{
	struct kurir_conn *c = mock_connect("smtp");
	char *big;
	size_t n = 200000;

	mock_feeds(c, EHLO_MAIL_RCPT "DATA\r\n");
	mock_out(c);
	big = malloc(n + 3);
	memset(big, 'x', n);
	memcpy(big + n, "\r\n", 3);
	mock_feeds(c, big);
	mock_feeds(c, ".\r\n");
	assert_has(mock_out(c), "554 5.6.0 ");
	ck_assert_uint_eq(mock_nmsgs, 0);
	/* a 60000-byte line (over RFC 5321's 1000) is accepted */
	big[60000] = '\0';
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\n");
	mock_feeds(c, big);
	mock_feeds(c, "\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	ck_assert_uint_eq(strlen(body_of(&mock_msgs[0])), 60002);
	free(big);
	mock_close(c);
}
END_TEST

START_TEST(test_size_limits)
{
	struct kurir_conn *c;
	char *big;

	mock_conf_set("max_message_size", "100");
	c = mock_connect("smtp");
	mock_feeds(c, "EHLO x\r\n");
	assert_has(mock_out(c), "250-SIZE 100\r\n");
	mock_feeds(c, "MAIL FROM:<a@b> SIZE=101\r\n");
	assert_has(mock_out(c), "552 5.3.4 ");
	mock_feeds(c, "MAIL FROM:<a@b> SIZE=100\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\n");
	mock_out(c);
	big = malloc(200);
	memset(big, 'y', 120);
	memcpy(big + 120, "\r\n.\r\n", 6);
	mock_feeds(c, big);
	assert_has(mock_out(c), "552 5.3.4 ");
	ck_assert_uint_eq(mock_nmsgs, 0);
	/* exactly 100 bytes fits */
	memset(big, 'y', 98);
	memcpy(big + 98, "\r\n.\r\n", 6);
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\n");
	mock_feeds(c, big);
	assert_has(mock_out(c), "250 2.0.0 Ok");
	ck_assert_uint_eq(mock_nmsgs, 1);
	free(big);
	mock_close(c);
}
END_TEST

START_TEST(test_commit_failures)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_feeds(c, "EHLO x\r\n");
	mock_out(c);
	mock_commit_status = KURIR_E_TEMPFAIL;
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "RCPT TO:<bob@localhost>\r\nDATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "451 4.3.0 ");
	ck_assert_uint_eq(mock_nmsgs, 0);
	mock_commit_status = KURIR_E_OVERQUOTA;
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "552 5.2.2 ");
	mock_commit_status = KURIR_E_NOSPACE;
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "451 4.3.0 ");
	ck_assert_uint_eq(mock_nmsgs, 0);
	mock_commit_status = 0;
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 ");
	ck_assert_uint_eq(mock_nmsgs, 1);
	mock_close(c);
}
END_TEST

START_TEST(test_async_commit)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_auto_work = 0;
	mock_feeds(c, EHLO_MAIL_RCPT "DATA\r\nx\r\n.\r\nNOOP\r\n");
	mock_out(c);
	/* the delivery is opened off the loop: no 354 before it is */
	ck_assert_int_eq(c->paused, 1);
	ck_assert_int_eq(mock_pending_work, 1);
	mock_run_work();
	mock_feeds(c, "");
	ck_assert_str_eq(mock_out(c), "354 End data with <CR><LF>.<CR><LF>"
	    "\r\n");
	/* committing: no reply to DATA, NOOP waits, nothing stored yet */
	ck_assert_int_eq(c->paused, 1);
	ck_assert_int_eq(mock_pending_work, 1);
	ck_assert_uint_eq(mock_nmsgs, 0);
	mock_run_work();
	mock_feeds(c, "");
	ck_assert_str_eq(mock_out(c), "250 2.0.0 Ok: queued as "
	    "ABCDEF01234567890001\r\n250 2.0.0 Ok\r\n");
	ck_assert_uint_eq(mock_nmsgs, 1);
	/* the client goes away during the commit: freed after it */
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "DATA\r\ny\r\n.\r\n");
	mock_run_work();
	mock_feeds(c, "");
	ck_assert_int_eq(mock_pending_work, 1);
	c->gone = 1;
	smtp_on_close(c->sess);
	mock_run_work();
	ck_assert_uint_eq(mock_nmsgs, 2);
	mock_close(c);
	/* ... and while the delivery is being opened */
	c = mock_connect("smtp");
	mock_feeds(c, EHLO_MAIL_RCPT "DATA\r\n");
	ck_assert_int_eq(mock_pending_work, 1);
	c->gone = 1;
	smtp_on_close(c->sess);
	mock_run_work();
	ck_assert_uint_eq(mock_nmsgs, 2);
	mock_close(c);
}
END_TEST

START_TEST(test_bdat)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	mock_feeds(c, EHLO_MAIL_RCPT);
	mock_out(c);
	/* binary-safe: no unstuffing, bare LF kept, chunks in one write */
	mock_feed(c, "BDAT 7\r\n.\r\na\nb\rBDAT 5 LAST\r\n.\r\n\0z", 33);
	o = mock_out(c);
	ck_assert_str_eq(o, "250 2.0.0 7 octets received\r\n"
	    "250 2.0.0 Ok: queued as ABCDEF01234567890001\r\n");
	ck_assert_uint_eq(mock_nmsgs, 1);
	ck_assert_int_eq(memcmp(body_of(&mock_msgs[0]),
	    ".\r\na\nb\r.\r\n\0z", 12), 0);
	/* DATA after BDAT, BDAT without recipients: bytes still consumed */
	mock_feeds(c, "BDAT 4\r\nNOOPNOOP\r\n");
	o = mock_out(c);
	ck_assert_str_eq(o, "503 5.5.1 No valid transaction for BDAT\r\n"
	    "250 2.0.0 Ok\r\n");
	mock_feeds(c, "MAIL FROM:<a@b>\r\nRCPT TO:<alice@localhost>\r\n"
	    "BDAT 3\r\nabcDATA\r\n");
	o = mock_out(c);
	assert_has(o, "250 2.0.0 3 octets received\r\n503 5.5.1 DATA after "
	    "BDAT\r\n");
	mock_feeds(c, "BDAT 0 LAST\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok: queued");
	ck_assert_str_eq(body_of(&mock_msgs[1]), "abc");
	/* malformed BDAT: the length is unknown, the session ends */
	mock_feeds(c, "BDAT x\r\n");
	assert_has(mock_out(c), "501 5.5.4 ");
	ck_assert_int_eq(c->closed, 1);
	mock_close(c);
}
END_TEST

START_TEST(test_bdat_split_everywhere)
{
	static const char data[] = "BDAT 9\r\nline1\r\n.\nBDAT 4 LAST\r\n..\r\n";
	size_t i, len = strlen(data);
	struct kurir_conn *c;

	for (i = 0; i <= len; i++) {
		mock_reset();
		c = mock_connect("smtp");
		c->chunk = 1 + i % 3;
		mock_feeds(c, EHLO_MAIL_RCPT);
		mock_out(c);
		mock_feed(c, data, i);
		mock_feed(c, data + i, len - i);
		assert_has(mock_out(c), "250 2.0.0 Ok: queued");
		ck_assert_uint_eq(mock_nmsgs, 1);
		ck_assert_str_eq(body_of(&mock_msgs[0]),
		    "line1\r\n.\n..\r\n");
		mock_close(c);
	}
}
END_TEST

START_TEST(test_bdat_too_big)
{
	struct kurir_conn *c;

	mock_conf_set("max_message_size", "10");
	c = mock_connect("smtp");
	mock_feeds(c, EHLO_MAIL_RCPT);
	mock_out(c);
	mock_feeds(c, "BDAT 8\r\n12345678BDAT 8 LAST\r\n12345678NOOP\r\n");
	ck_assert_str_eq(mock_out(c), "250 2.0.0 8 octets received\r\n"
	    "552 5.3.4 Message size exceeds fixed maximum message size (10)"
	    "\r\n250 2.0.0 Ok\r\n");
	ck_assert_uint_eq(mock_nmsgs, 0);
	mock_close(c);
}
END_TEST

START_TEST(test_starttls)
{
	struct kurir_conn *c = mock_connect("smtp");
	const char *o;

	mock_feeds(c, "EHLO x\r\n");
	mock_out(c);
	/* the pipelined MAIL must not run, and EHLO is needed again */
	mock_feeds(c, "STARTTLS\r\nMAIL FROM:<a@b>\r\n");
	ck_assert_str_eq(mock_out(c), "220 2.0.0 Ready to start TLS\r\n");
	ck_assert_int_eq(c->tls, 1);
	mock_feeds(c, "MAIL FROM:<a@b>\r\n");
	assert_has(mock_out(c), "503 5.5.1 Send HELO or EHLO first");
	mock_feeds(c, "EHLO x\r\n");
	o = mock_out(c);
	ck_assert_ptr_null(strstr(o, "STARTTLS"));
	assert_has(o, "250-AUTH PLAIN LOGIN\r\n");
	mock_feeds(c, "STARTTLS\r\n");
	assert_has(mock_out(c), "503 5.5.1 TLS already active");
	mock_close(c);
}
END_TEST

/* No certificate: STARTTLS hangs up once, then is not offered. */
START_TEST(test_starttls_unavailable)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_no_tls = 1;
	mock_feeds(c, "EHLO x\r\n");
	assert_has(mock_out(c), "250-STARTTLS\r\n");
	mock_feeds(c, "STARTTLS\r\n");
	assert_has(mock_out(c), "220 2.0.0 ");
	ck_assert_int_eq(c->closed, 1);
	mock_close(c);
	c = mock_connect("smtp");
	mock_feeds(c, "EHLO x\r\n");
	ck_assert_ptr_null(strstr(mock_out(c), "STARTTLS"));
	mock_close(c);
}
END_TEST

START_TEST(test_submission_auth)
{
	struct kurir_conn *c = mock_connect("submission");
	const char *o;

	mock_feeds(c, "EHLO x\r\n");
	mock_out(c);
	mock_feeds(c, "MAIL FROM:<alice@localhost>\r\n");
	assert_has(mock_out(c), "530 5.7.0 Authentication required");
	mock_feeds(c, "AUTH PLAIN good\r\n");
	assert_has(mock_out(c), "530 5.7.0 Must issue a STARTTLS");
	mock_feeds(c, "STARTTLS\r\n");
	mock_feeds(c, "EHLO x\r\n");
	mock_out(c);
	mock_feeds(c, "AUTH PLAIN bad\r\n");
	assert_has(mock_out(c), "535 5.7.8 ");
	mock_feeds(c, "AUTH CRAM-MD5\r\n");
	assert_has(mock_out(c), "504 5.5.4 ");
	/* no initial response: 334, then a cancel */
	mock_feeds(c, "AUTH PLAIN\r\n*\r\n");
	ck_assert_str_eq(mock_out(c), "334 \r\n501 5.0.0 Authentication "
	    "cancelled\r\n");
	mock_feeds(c, "AUTH PLAIN\r\ngood\r\n");
	ck_assert_str_eq(mock_out(c), "334 \r\n235 2.7.0 Authentication "
	    "successful\r\n");
	mock_feeds(c, "AUTH PLAIN good\r\n");
	assert_has(mock_out(c), "503 5.5.1 Already authenticated");
	/* sender login check */
	mock_feeds(c, "MAIL FROM:<bob@localhost>\r\n");
	assert_has(mock_out(c), "553 5.7.1 ");
	mock_feeds(c, "MAIL FROM:<someone@elsewhere.example>\r\n");
	assert_has(mock_out(c), "553 5.7.1 ");
	mock_feeds(c, "MAIL FROM:<alice+lists@localhost>\r\nRSET\r\n"
	    "MAIL FROM:<postmaster@localhost>\r\nRSET\r\nMAIL FROM:<>\r\n");
	o = mock_out(c);
	ck_assert_str_eq(o, "250 2.1.0 Sender OK\r\n250 2.0.0 Ok\r\n"
	    "250 2.1.0 Sender OK\r\n250 2.0.0 Ok\r\n250 2.1.0 Sender OK\r\n");
	/* authenticated relay: temporary, clear, not delivered */
	mock_feeds(c, "RCPT TO:<friend@elsewhere.example>\r\n");
	assert_has(mock_out(c), "451 4.4.0 ");
	mock_feeds(c, "RCPT TO:<bob@localhost>\r\nDATA\r\nhi\r\n.\r\n");
	assert_has(mock_out(c), "250 2.0.0 Ok");
	assert_has(mock_msgs[0].data, "with ESMTPSA id");
	mock_close(c);
}
END_TEST

START_TEST(test_sender_check_off)
{
	struct kurir_conn *c;

	mock_conf_set("smtp_sender_login_check", "0");
	c = mock_connect("submissions");
	mock_feeds(c, "EHLO x\r\nAUTH PLAIN good\r\n");
	mock_out(c);
	mock_feeds(c, "MAIL FROM:<bob@localhost>\r\n");
	ck_assert_str_eq(mock_out(c), "250 2.1.0 Sender OK\r\n");
	mock_close(c);
}
END_TEST

START_TEST(test_loopback_auth)
{
	struct kurir_conn *c = calloc(1, sizeof(*c));

	c->service = "submission";
	c->peer = "127.0.0.1";
	c->loopback = 1;
	ck_assert_int_eq(smtp_on_connect(c, &c->sess), 0);
	mock_feeds(c, "EHLO x\r\n");
	assert_has(mock_out(c), "250-AUTH PLAIN LOGIN\r\n");
	mock_feeds(c, "AUTH PLAIN good\r\n");
	assert_has(mock_out(c), "235 2.7.0 ");
	mock_close(c);
}
END_TEST

START_TEST(test_per_ip_limit)
{
	struct kurir_conn *a, *b, *d;

	mock_conf_set("smtp_connections_per_ip", "2");
	a = mock_connect("smtp");
	b = mock_connect("smtp");
	d = mock_connect("smtp");
	assert_has(mock_out(d), "421 4.7.0 ");
	ck_assert_int_eq(d->closed, 1);
	mock_close(d);
	mock_close(a);
	d = mock_connect("smtp");
	assert_has(mock_out(d), "220 ");
	mock_close(d);
	mock_close(b);
}
END_TEST

/* A child that counts, then expects the limit after `ok` more. */
static int
limit_child(const char *ip, int ok)
{
	pid_t pid;
	int i, st;

	if ((pid = fork()) == 0) {
		for (i = 0; i < ok; i++)
			if (smtp_limit_enter(ip, 3) != KURIR_OK)
				_exit(10 + i);
		if (smtp_limit_enter(ip, 3) == KURIR_OK)
			_exit(20);
		/* exit holding them, like a worker that crashed */
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return (WEXITSTATUS(st));
}

/* The per-address count is shared by every worker process, and the
 * counts of a dead worker are dropped by the next one to start. */
START_TEST(test_per_ip_shared)
{
	const char *ip = "198.51.100.9";

	ck_assert_int_eq(smtp_limit_init(), KURIR_OK);
	ck_assert_int_eq(smtp_limit_enter(ip, 3), KURIR_OK);
	/* this process holds 1: a sibling may add 2, not 3 */
	ck_assert_int_eq(limit_child(ip, 2), 0);
	/* that sibling died holding 2; the next one drops them */
	ck_assert_int_eq(limit_child(ip, 2), 0);
	/* other addresses are not affected */
	ck_assert_int_eq(limit_child("198.51.100.10", 3), 0);
	smtp_limit_leave(ip);
	ck_assert_int_eq(limit_child(ip, 3), 0);
}
END_TEST

START_TEST(test_timeout_shutdown)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_out(c);
	mock_timeout(c);
	ck_assert_str_eq(mock_out(c), "421 4.4.2 mx.test Error: timeout "
	    "exceeded\r\n");
	mock_close(c);
	c = mock_connect("smtp");
	mock_out(c);
	smtp_on_shutdown(c->sess);
	assert_has(mock_out(c), "421 4.3.2 ");
	ck_assert_int_eq(c->closed, 1);
	mock_close(c);
}
END_TEST

START_TEST(test_http)
{
	struct kurir_conn *c = mock_connect("smtp");

	mock_out(c);
	mock_feeds(c, "GET / HTTP/1.1\r\nHost: x\r\n");
	assert_has(mock_out(c), "500 5.5.1 ");
	ck_assert_int_eq(c->closed, 1);
	mock_close(c);
}
END_TEST

static Suite *
smtp_session_suite(void)
{
	Suite *s = suite_create("smtp_session");
	TCase *tc;

	tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_greeting_ehlo);
	tcase_add_test(tc, test_pipelined_transaction);
	tcase_add_test(tc, test_received_header);
	tcase_add_test(tc, test_sequence_errors);
	tcase_add_test(tc, test_helo_no_params);
	tcase_add_test(tc, test_max_errors);
	tcase_add_test(tc, test_line_limits);
	tcase_add_test(tc, test_http);
	tcase_add_test(tc, test_timeout_shutdown);
	suite_add_tcase(s, tc);
	tc = tcase_create("recipients");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_recipients);
	tcase_add_test(tc, test_max_recipients);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_per_ip_limit);
	tcase_add_test(tc, test_per_ip_shared);
	suite_add_tcase(s, tc);
	tc = tcase_create("data");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_dot_split_everywhere);
	tcase_add_test(tc, test_smuggling);
	tcase_add_test(tc, test_bare_reject);
	tcase_add_test(tc, test_long_data_line);
	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_commit_failures);
	tcase_add_test(tc, test_async_commit);
	tcase_add_test(tc, test_bdat);
	tcase_add_test(tc, test_bdat_split_everywhere);
	tcase_add_test(tc, test_bdat_too_big);
	suite_add_tcase(s, tc);
	tc = tcase_create("tls_auth");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_starttls);
	tcase_add_test(tc, test_starttls_unavailable);
	tcase_add_test(tc, test_submission_auth);
	tcase_add_test(tc, test_sender_check_off);
	tcase_add_test(tc, test_loopback_auth);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}
