/*
 * relay_client.c -- the SMTP client (RFC 5321) of a delivery thread:
 * blocking sockets with timeouts (see relay.h for why), EHLO with a HELO
 * fallback, STARTTLS per policy, AUTH PLAIN on routes that ask for it,
 * PIPELINING of MAIL and RCPT when offered, SIZE, and 8BITMIME/SMTPUTF8
 * refused rather than corrupted when the next hop lacks them.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "relay.h"

#define EXT_PIPELINING	0x01u
#define EXT_SIZE	0x02u
#define EXT_8BITMIME	0x04u
#define EXT_SMTPUTF8	0x08u
#define EXT_STARTTLS	0x10u
#define EXT_AUTHPLAIN	0x20u
#define EXT_DSN		0x40u

#define OUTBUF		65536

struct relay_client {
	int		 fd;
	SSL		*ssl;
	uint32_t	 ext;
	uint64_t	 maxsize;
	char		 key[RELAY_HOST_MAX + 80];
	char		 mta[RELAY_HOST_MAX + 1];
	size_t		 rpos, rlen;
	char		 rbuf[4096];
	char		 obuf[OUTBUF];
	size_t		 olen;
};

static SSL_CTX	*ctx_any, *ctx_verify;

int
relay_tls_init(const char **errstr_r)
{
	if (ctx_any != NULL)
		return 0;
	if ((ctx_any = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (ctx_verify = SSL_CTX_new(TLS_client_method())) == NULL) {
		*errstr_r = "cannot make a TLS client context";
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx_any, TLS1_2_VERSION);
	SSL_CTX_set_min_proto_version(ctx_verify, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx_any, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_verify(ctx_verify, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_verify_paths(ctx_verify);
	return 0;
}

const char *
relay_client_key(struct relay_client *c)
{
	return c->key;
}

static void
fail(struct relay_result *res, int code, const char *fmt, ...)
{
	va_list	ap;

	res->code = code;
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
}

static int
io_write(struct relay_client *c, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;
	int		 k;

	while (len > 0) {
		if (c->ssl != NULL) {
			k = SSL_write(c->ssl, p, (int)(len > 1 << 30 ?
			    1 << 30 : len));
			if (k <= 0)
				return -1;
			n = k;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
out_flush(struct relay_client *c)
{
	int	rc = io_write(c, c->obuf, c->olen);

	c->olen = 0;
	return rc;
}

static int
out_add(struct relay_client *c, const void *buf, size_t len)
{
	if (c->olen + len > sizeof(c->obuf) && out_flush(c) == -1)
		return -1;
	if (len > sizeof(c->obuf))
		return io_write(c, buf, len);
	memcpy(c->obuf + c->olen, buf, len);
	c->olen += len;
	return 0;
}

static int
out_printf(struct relay_client *c, const char *fmt, ...)
{
	char	line[2048];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return out_add(c, line, (size_t)n);
}

static int
read_line(struct relay_client *c, char *line, size_t cap)
{
	size_t	n = 0;
	ssize_t	k;
	char	ch;

	for (;;) {
		if (c->rpos == c->rlen) {
			if (c->ssl != NULL)
				k = SSL_read(c->ssl, c->rbuf,
				    sizeof(c->rbuf));
			else
				do
					k = recv(c->fd, c->rbuf,
					    sizeof(c->rbuf), 0);
				while (k == -1 && errno == EINTR);
			if (k <= 0)
				return -1;
			c->rpos = 0;
			c->rlen = (size_t)k;
		}
		ch = c->rbuf[c->rpos++];
		if (ch == '\n')
			break;
		if (n + 1 < cap)	/* over-long lines are truncated */
			line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* A whole reply; text gets "CODE text" of the last line.  ehlo: parse
 * the extension keywords.  Returns the code, or -1 on I/O error or a
 * malformed reply. */
static int
read_reply(struct relay_client *c, char *text, size_t cap, int ehlo)
{
	char	line[1024], *kw;
	int	code, lines = 0;

	for (;;) {
		if (read_line(c, line, sizeof(line)) == -1 ||
		    ++lines > 1000)
			return -1;
		if (strlen(line) < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]) ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return -1;
		code = atoi(line);
		if (ehlo && lines > 1) {
			kw = line + 4;
			if (strcasecmp(kw, "PIPELINING") == 0)
				c->ext |= EXT_PIPELINING;
			else if (strcasecmp(kw, "8BITMIME") == 0)
				c->ext |= EXT_8BITMIME;
			else if (strcasecmp(kw, "SMTPUTF8") == 0)
				c->ext |= EXT_SMTPUTF8;
			else if (strcasecmp(kw, "STARTTLS") == 0)
				c->ext |= EXT_STARTTLS;
			else if (strcasecmp(kw, "DSN") == 0)
				c->ext |= EXT_DSN;
			else if (strncasecmp(kw, "SIZE", 4) == 0 &&
			    (kw[4] == '\0' || kw[4] == ' ')) {
				c->ext |= EXT_SIZE;
				c->maxsize = strtoull(kw + 4, NULL, 10);
			} else if (strncasecmp(kw, "AUTH ", 5) == 0 &&
			    strcasestr(kw, " PLAIN") != NULL)
				c->ext |= EXT_AUTHPLAIN;
		}
		if (line[3] != '-')
			break;
	}
	snprintf(text, cap, "%s", line);
	return code;
}

static int
command(struct relay_client *c, char *text, size_t cap, int ehlo,
    const char *fmt, ...)
{
	char	line[2048];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    out_add(c, line, (size_t)n) == -1 || out_flush(c) == -1)
		return -1;
	return read_reply(c, text, cap, ehlo);
}

static int
tcp_connect(const char *addr, uint16_t port, volatile int *fdslot)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	struct pollfd		 pfd;
	struct timeval		 tv;
	socklen_t		 len;
	int			 fd, err = 0, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	*fdslot = fd;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		if (errno != EINPROGRESS)
			goto bad;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)relay_conf.connect_timeout * 1000) != 1)
			goto bad;
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			goto bad;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	tv.tv_sec = relay_conf.timeout;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
bad:
	*fdslot = -1;
	close(fd);
	return -1;
}

static int
start_tls(struct relay_client *c, const struct relay_hop *hop,
    struct relay_result *res)
{
	SSL_CTX	*ctx = hop->tls == RELAY_TLS_VERIFY ? ctx_verify : ctx_any;

	if ((c->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		fail(res, 0, "4.7.0 TLS setup failed");
		return -1;
	}
	SSL_set_tlsext_host_name(c->ssl, hop->host);
	if (hop->tls == RELAY_TLS_VERIFY)
		SSL_set1_host(c->ssl, hop->host);
	if (SSL_connect(c->ssl) != 1) {
		fail(res, 0, "4.7.5 TLS handshake with %s failed%s", hop->host,
		    hop->tls == RELAY_TLS_VERIFY ? " (certificate not "
		    "verified)" : "");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int
ehlo(struct relay_client *c, char *text, size_t cap)
{
	int	code;

	c->ext = 0;
	c->maxsize = 0;
	code = command(c, text, cap, 1, "EHLO %s\r\n", relay_conf.hostname);
	if (code >= 500 && code < 600)	/* an old server: HELO */
		code = command(c, text, cap, 0, "HELO %s\r\n",
		    relay_conf.hostname);
	return code;
}

static int
auth_plain(struct relay_client *c, const struct relay_hop *hop,
    struct relay_result *res)
{
	unsigned char	raw[KURIR_ADDR_MAX + 300], b64[sizeof(raw) * 2];
	char		text[KURIR_QDIAG_MAX + 1];
	size_t		ul = strlen(hop->auth_user), pl = strlen(hop->auth_pass);
	int		code;

	if (!(c->ext & EXT_AUTHPLAIN)) {
		fail(res, 0, "4.7.0 %s does not offer AUTH PLAIN", hop->host);
		return -1;
	}
	raw[0] = '\0';
	memcpy(raw + 1, hop->auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, hop->auth_pass, pl);
	EVP_EncodeBlock(b64, raw, (int)(2 + ul + pl));
	code = command(c, text, sizeof(text), 0, "AUTH PLAIN %s\r\n", b64);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	if (code != 235) {
		fail(res, code < 0 ? 0 : code, "%s", code < 0 ?
		    "4.4.2 connection lost during AUTH" : text);
		return -1;
	}
	return 0;
}

struct relay_client *
relay_client_open(const struct relay_hop *hop, const char *addr,
    volatile int *fdslot, struct relay_result *res)
{
	struct relay_client	*c;
	char			 text[KURIR_QDIAG_MAX + 1];
	int			 code;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fail(res, 0, "4.3.0 out of memory");
		return NULL;
	}
	snprintf(c->key, sizeof(c->key), "%.255s:%u:%u:%.64s", hop->host, hop->port,
	    hop->tls, hop->auth_user);
	snprintf(c->mta, sizeof(c->mta), "%s", hop->host);
	snprintf(res->mta, sizeof(res->mta), "%s", hop->host);
	if ((c->fd = tcp_connect(addr, hop->port, fdslot)) == -1) {
		fail(res, 0, "4.4.1 cannot connect to %s [%s]:%u", hop->host,
		    addr, hop->port);
		free(c);
		return NULL;
	}
	errno = 0;
	if ((code = read_reply(c, text, sizeof(text), 0)) != 220 ||
	    (code = ehlo(c, text, sizeof(text))) != 250) {
		if (code < 0)
			fail(res, 0, "4.4.2 %s [%s] %s", hop->host, addr,
			    errno == EAGAIN || errno == EWOULDBLOCK ?
			    "did not answer in time" : "closed the connection");
		else
			fail(res, code, "%s", text);
		goto bad;
	}
	if (hop->tls != RELAY_TLS_NONE && (c->ext & EXT_STARTTLS)) {
		if ((code = command(c, text, sizeof(text), 0,
		    "STARTTLS\r\n")) != 220) {
			fail(res, code < 0 ? 0 : code, "%s", code < 0 ?
			    "4.4.2 connection lost at STARTTLS" : text);
			goto bad;
		}
		c->rpos = c->rlen = 0;	/* nothing before TLS is kept */
		if (start_tls(c, hop, res) == -1 ||
		    (code = ehlo(c, text, sizeof(text))) != 250) {
			if (res->text[0] == '\0')
				fail(res, code < 0 ? 0 : code, "%s", text);
			goto bad;
		}
	} else if (hop->tls == RELAY_TLS_VERIFY) {
		fail(res, 0, "4.7.4 %s does not offer STARTTLS and "
		    "outbound_tls is verify", hop->host);
		goto bad;
	}
	if (hop->auth_user[0] != '\0' && (c->ssl != NULL ||
	    hop->tls == RELAY_TLS_NONE) && auth_plain(c, hop, res) == -1)
		goto bad;
	if (hop->auth_user[0] != '\0' && c->ssl == NULL &&
	    hop->tls != RELAY_TLS_NONE) {
		fail(res, 0, "4.7.0 no TLS with %s: credentials not sent",
		    hop->host);
		goto bad;
	}
	return c;
bad:
	relay_client_close(c, 1);
	*fdslot = -1;
	return NULL;
}

void
relay_client_close(struct relay_client *c, int quit)
{
	char	text[256];

	if (c == NULL)
		return;
	if (quit && c->fd != -1)
		command(c, text, sizeof(text), 0, "QUIT\r\n");
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

static void
all(struct relay_result *res, size_t n, int code, const char *fmt, ...)
{
	char	text[KURIR_QDIAG_MAX + 1];
	va_list	ap;
	size_t	i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (i = 0; i < n; i++)
		if (res[i].code == 0 || res[i].code / 100 == 2 ||
		    res[i].code == -1) {
			res[i].code = code;
			snprintf(res[i].text, sizeof(res[i].text), "%s", text);
		}
}

/* Dot-stuff and normalise line ends (a bare LF becomes CR LF). */
static int
send_body(struct relay_client *c, struct kurir_queue_entry *e,
    uint64_t size)
{
	char		 in[16384];
	uint64_t	 off = 0;
	size_t		 n, i, start;
	int		 bol = 1, prev_cr = 0;

	while (off < size) {
		if (relay_api->queue_read(e, off, in, sizeof(in), &n) !=
		    KURIR_OK || n == 0)
			return -2;
		off += n;
		for (i = 0, start = 0; i < n; i++) {
			if (bol && in[i] == '.') {
				if (out_add(c, in + start, i - start) == -1 ||
				    out_add(c, ".", 1) == -1)
					return -1;
				start = i;
			}
			bol = 0;
			if (in[i] == '\n') {
				if (!prev_cr) {
					if (out_add(c, in + start, i - start)
					    == -1 || out_add(c, "\r", 1) == -1)
						return -1;
					start = i;
				}
				bol = 1;
			}
			prev_cr = in[i] == '\r';
		}
		if (out_add(c, in + start, n - start) == -1)
			return -1;
	}
	if (!bol && out_add(c, "\r\n", 2) == -1)
		return -1;
	if (out_add(c, ".\r\n", 3) == -1 || out_flush(c) == -1)
		return -1;
	return 0;
}

int
relay_client_send(struct relay_client *c, struct kurir_queue_entry *e,
    const struct kurir_queue_info *info, struct relay_result *res, size_t n)
{
	struct kurir_queue_rcpt	 r;
	char			 text[KURIR_QDIAG_MAX + 1];
	size_t			 i, ok = 0;
	int			 code, rc;

	errno = 0;	/* "lost" tells a timeout by EAGAIN */
	for (i = 0; i < n; i++) {
		res[i].code = -1;	/* no answer yet */
		res[i].text[0] = '\0';
		snprintf(res[i].mta, sizeof(res[i].mta), "%s", c->mta);
	}
	if (info->body8bit && !(c->ext & EXT_8BITMIME) && !info->smtputf8) {
		all(res, n, 554, "554 5.6.3 8-bit message and %s does not "
		    "support 8BITMIME", c->mta);
		return 0;
	}
	if (info->smtputf8 && !(c->ext & EXT_SMTPUTF8)) {
		all(res, n, 553, "553 5.6.7 the message needs SMTPUTF8 and "
		    "%s does not support it", c->mta);
		return 0;
	}
	if ((c->ext & EXT_SIZE) && c->maxsize > 0 &&
	    info->msg_size > c->maxsize) {
		all(res, n, 552, "552 5.3.4 message too big for %s", c->mta);
		return 0;
	}
	if (out_printf(c, "MAIL FROM:<%s>", info->sender) == -1 ||
	    ((c->ext & EXT_SIZE) && out_printf(c, " SIZE=%llu",
	    (unsigned long long)info->msg_size) == -1) ||
	    (info->body8bit && (c->ext & EXT_8BITMIME) &&
	    out_printf(c, " BODY=8BITMIME") == -1) ||
	    (info->smtputf8 && out_printf(c, " SMTPUTF8") == -1) ||
	    ((c->ext & EXT_DSN) && info->ret != 0 && out_printf(c,
	    " RET=%s", info->ret == KURIR_QRET_HDRS ? "HDRS" : "FULL") ==
	    -1) || ((c->ext & EXT_DSN) && info->envid[0] != '\0' &&
	    out_printf(c, " ENVID=%s", info->envid) == -1) ||
	    out_printf(c, "\r\n") == -1)
		goto lost;
	/* RFC 2920: MAIL and every RCPT in one write, replies in order. */
	if (!(c->ext & EXT_PIPELINING)) {
		if (out_flush(c) == -1 ||
		    (code = read_reply(c, text, sizeof(text), 0)) < 0)
			goto lost;
		if (code != 250)
			goto mailfail;
	}
	for (i = 0; i < n; i++) {
		r.size = sizeof(r);
		relay_api->queue_rcpt(e, res[i].idx, &r);
		if (out_printf(c, "RCPT TO:<%s>", r.address) == -1)
			goto lost;
		if ((c->ext & EXT_DSN) && r.notify != 0 && out_printf(c,
		    " NOTIFY=%s%s%s%s", (r.notify & KURIR_QNOTIFY_NEVER) ?
		    "NEVER" : "", (r.notify & KURIR_QNOTIFY_SUCCESS) ?
		    "SUCCESS," : "", (r.notify & KURIR_QNOTIFY_FAILURE) ?
		    "FAILURE," : "", (r.notify & KURIR_QNOTIFY_DELAY) ?
		    "DELAY," : "") == -1)
			goto lost;
		if (c->olen > 0 && c->obuf[c->olen - 1] == ',')
			c->olen--;
		if ((c->ext & EXT_DSN) && r.orcpt[0] != '\0' &&
		    out_printf(c, " ORCPT=%s", r.orcpt) == -1)
			goto lost;
		if (out_printf(c, "\r\n") == -1)
			goto lost;
		if (!(c->ext & EXT_PIPELINING)) {
			if (out_flush(c) == -1 ||
			    (code = read_reply(c, res[i].text,
			    sizeof(res[i].text), 0)) < 0)
				goto lost;
			res[i].code = code;
			ok += code / 100 == 2;
		}
	}
	if (c->ext & EXT_PIPELINING) {
		if (out_flush(c) == -1 ||
		    (code = read_reply(c, text, sizeof(text), 0)) < 0)
			goto lost;
		if (code != 250) {
			for (i = 0; i < n; i++)	/* read the RCPT replies */
				if (read_reply(c, res[i].text,
				    sizeof(res[i].text), 0) < 0)
					goto lost;
			goto mailfail;
		}
		for (i = 0; i < n; i++) {
			if ((code = read_reply(c, res[i].text,
			    sizeof(res[i].text), 0)) < 0)
				goto lost;
			res[i].code = code;
			ok += code / 100 == 2;
		}
	}
	if (ok == 0) {
		command(c, text, sizeof(text), 0, "RSET\r\n");
		return 0;
	}
	if ((code = command(c, text, sizeof(text), 0, "DATA\r\n")) < 0)
		goto lost;
	if (code != 354) {
		all(res, n, code, "%s", text);
		command(c, text, sizeof(text), 0, "RSET\r\n");
		return 0;
	}
	if ((rc = send_body(c, e, info->msg_size)) == -2) {
		/* Our own queue file failed: give up the connection
		 * without the final dot, so nothing half is delivered. */
		all(res, n, 0, "4.3.0 cannot read the queued message");
		return -1;
	}
	if (rc == -1 || (code = read_reply(c, text, sizeof(text), 0)) < 0)
		goto lost;
	all(res, n, code, "%s", text);
	return 0;
mailfail:
	for (i = 0; i < n; i++) {
		res[i].code = code;
		snprintf(res[i].text, sizeof(res[i].text), "%s", text);
	}
	command(c, text, sizeof(text), 0, "RSET\r\n");
	return 0;
lost:
	rc = errno == EAGAIN || errno == EWOULDBLOCK;
	for (i = 0; i < n; i++)
		if (res[i].code == -1 || res[i].code / 100 == 2) {
			res[i].code = 0;
			snprintf(res[i].text, sizeof(res[i].text),
			    "4.4.2 connection to %s %s", c->mta, rc ?
			    "timed out" : "lost");
		}
	return -1;
}
