/*
 * smtp_parse.c -- SMTP command lines: the verb, RFC 5321 paths (with the
 * SMTPUTF8 extension of RFC 6531), ESMTP parameters of MAIL and RCPT
 * (SIZE, BODY, SMTPUTF8, and the DSN parameters RET, ENVID, NOTIFY,
 * ORCPT), BDAT arguments and the HELO/EHLO name.  Pure functions over
 * NUL-terminated strings: no I/O, no allocation, bounded output.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

struct smtp_verb {
	const char	*name;
	enum smtp_cmd	 cmd;
};

static const struct smtp_verb smtp_verbs[] = {
	{ "HELO", SMTP_CMD_HELO },
	{ "EHLO", SMTP_CMD_EHLO },
	{ "MAIL", SMTP_CMD_MAIL },
	{ "RCPT", SMTP_CMD_RCPT },
	{ "DATA", SMTP_CMD_DATA },
	{ "BDAT", SMTP_CMD_BDAT },
	{ "RSET", SMTP_CMD_RSET },
	{ "NOOP", SMTP_CMD_NOOP },
	{ "QUIT", SMTP_CMD_QUIT },
	{ "VRFY", SMTP_CMD_VRFY },
	{ "EXPN", SMTP_CMD_EXPN },
	{ "HELP", SMTP_CMD_HELP },
	{ "STARTTLS", SMTP_CMD_STARTTLS },
	{ "AUTH", SMTP_CMD_AUTH },
	{ "TURN", SMTP_CMD_NOTIMPL },
	{ "ATRN", SMTP_CMD_NOTIMPL },
	{ "ETRN", SMTP_CMD_NOTIMPL },
	{ "SEND", SMTP_CMD_NOTIMPL },
	{ "SOML", SMTP_CMD_NOTIMPL },
	{ "SAML", SMTP_CMD_NOTIMPL },
	{ "GET", SMTP_CMD_HTTP },
	{ "POST", SMTP_CMD_HTTP },
	{ "HEAD", SMTP_CMD_HTTP },
	{ "PUT", SMTP_CMD_HTTP },
	{ "CONNECT", SMTP_CMD_HTTP },
	{ NULL, SMTP_CMD_UNKNOWN }
};

/* strlcpy(3), which glibc before 2.38 lacks: copies with truncation and
 * always terminates; returns strlen(src). */
size_t
smtp_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);

	if (cap > 0) {
		size_t c = n < cap - 1 ? n : cap - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return (n);
}

enum smtp_cmd
smtp_parse_verb(const char *line, size_t len, const char **args_r)
{
	const struct smtp_verb *v;
	size_t n;

	*args_r = line + len;
	for (n = 0; n < len && n < 16 && isalpha((unsigned char)line[n]); n++)
		;
	if (n == 0 || (n < len && line[n] != ' '))
		return (SMTP_CMD_UNKNOWN);
	for (v = smtp_verbs; v->name != NULL; v++) {
		if (strlen(v->name) == n && strncasecmp(v->name, line, n) == 0)
			break;
	}
	if (v->name == NULL)
		return (SMTP_CMD_UNKNOWN);
	while (n < len && line[n] == ' ')
		n++;
	*args_r = line + n;
	return (v->cmd);
}

int
smtp_has_8bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return (1);
	return (0);
}

/* Length of one well-formed UTF-8 sequence at s (non-ASCII), 0 if none. */
static size_t
smtp_utf8_seq(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return (0);
	return (n);
}

static int
smtp_atext(int c)
{
	return (isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL));
}

/* Dot-string at s (RFC 5321 4.1.2), UTF-8 allowed when utf8_ok.
 * Returns its length, 0 when there is none or it is malformed. */
static size_t
smtp_dot_string(const char *s, int utf8_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, atom = 0;

	for (;;) {
		if (p[i] >= 0x80 && utf8_ok &&
		    (n = smtp_utf8_seq(p + i)) != 0) {
			i += n;
			atom++;
		} else if (p[i] < 0x80 && smtp_atext(p[i])) {
			i++;
			atom++;
		} else if (p[i] == '.' && atom > 0) {
			i++;
			atom = 0;
		} else
			break;
	}
	if (i == 0 || atom == 0)
		return (0);
	return (i);
}

/* Quoted-string at s, including its quotes; 0 when malformed. */
static size_t
smtp_quoted_string(const char *s, int utf8_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 1, n;

	if (p[0] != '"')
		return (0);
	for (;;) {
		if (p[i] == '"')
			return (i + 1);
		if (p[i] == '\\') {
			if (p[i + 1] < 32 || p[i + 1] > 126)
				return (0);
			i += 2;
		} else if (p[i] >= 32 && p[i] <= 126)
			i++;
		else if (p[i] >= 0x80 && utf8_ok &&
		    (n = smtp_utf8_seq(p + i)) != 0)
			i += n;
		else
			return (0);
	}
}

/* Domain at s: sub-domains of letters, digits and inner hyphens (or
 * UTF-8 U-labels); returns its length or 0. */
static size_t
smtp_domain(const char *s, int utf8_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, label = 0;
	int last = 0;

	for (;;) {
		if (p[i] < 0x80 && isalnum(p[i])) {
			i++;
			label++;
			last = p[i - 1];
		} else if (p[i] == '-' && label > 0) {
			i++;
			label++;
			last = '-';
		} else if (p[i] >= 0x80 && utf8_ok &&
		    (n = smtp_utf8_seq(p + i)) != 0) {
			i += n;
			label++;
			last = 'a';
		} else if (p[i] == '.' && label > 0 && last != '-') {
			i++;
			label = 0;
		} else
			break;
		if (label > 63)
			return (0);
	}
	if (i == 0 || label == 0 || last == '-')
		return (0);
	return (i);
}

/* "[...]" address literal: IPv4, "IPv6:" or a general tag:content. */
static size_t
smtp_addr_literal(const char *s)
{
	char buf[64];
	unsigned char bin[16];
	const char *end;
	size_t n;

	if (s[0] != '[' || (end = strchr(s, ']')) == NULL)
		return (0);
	n = end - s - 1;
	if (n == 0 || n >= sizeof(buf))
		return (0);
	memcpy(buf, s + 1, n);
	buf[n] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, bin) != 1)
			return (0);
	} else if (strchr(buf, ':') == NULL) {
		if (inet_pton(AF_INET, buf, bin) != 1)
			return (0);
	} else {
		/* General-address-literal: Standardized-tag ":" dcontent */
		for (n = 0; buf[n] != '\0'; n++)
			if (buf[n] < 33 || buf[n] > 126 || buf[n] == '[' ||
			    buf[n] == '\\')
				return (0);
	}
	return (end - s + 1);
}

/* Unquote a quoted local part when its content is a plain dot-string,
 * so that "joe"@x and joe@x are one mailbox. */
static size_t
smtp_local_canon(const char *lp, size_t n, char *out, int utf8_ok)
{
	char tmp[SMTP_LOCAL_MAX * 2 + 3];

	if (n >= 2 && lp[0] == '"' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, lp + 1, n - 2);
		tmp[n - 2] = '\0';
		if (n > 2 && smtp_dot_string(tmp, utf8_ok) == n - 2) {
			memcpy(out, tmp, n - 2);
			return (n - 2);
		}
	}
	memcpy(out, lp, n);
	return (n);
}

int
smtp_parse_path(const char *s, const char *prefix, int null_ok,
    int utf8_ok, char *out, size_t outcap, const char **rest_r)
{
	const char *p, *lp, *dom, *close;
	size_t plen, lplen, dlen, n, i;

	plen = strlen(prefix);
	if (strncasecmp(s, prefix, plen) != 0)
		return (SMTP_PE_SYNTAX);
	p = s + plen;
	while (*p == ' ')	/* "MAIL FROM: <a@b>": common, tolerated */
		p++;
	if (*p != '<')
		return (SMTP_PE_SYNTAX);
	p++;
	if (*p == '>') {
		if (!null_ok)
			return (SMTP_PE_SYNTAX);
		out[0] = '\0';
		*rest_r = p + 1;
		return (0);
	}
	if (!utf8_ok) {
		close = strchr(p, '>');
		if (close != NULL && smtp_has_8bit(p, close - p))
			return (SMTP_PE_UTF8);
	}
	/* A-d-l: obsolete source route, accepted and ignored (5321 4.1.2) */
	if (*p == '@') {
		for (;;) {
			p++;
			if ((n = smtp_domain(p, utf8_ok)) == 0)
				return (SMTP_PE_SYNTAX);
			p += n;
			if (*p == ':')
				break;
			if (*p != ',' || p[1] != '@')
				return (SMTP_PE_SYNTAX);
			p++;
		}
		p++;
	}
	lp = p;
	if (*p == '"')
		lplen = smtp_quoted_string(p, utf8_ok);
	else
		lplen = smtp_dot_string(p, utf8_ok);
	if (lplen == 0)
		return (SMTP_PE_SYNTAX);
	p += lplen;
	if (*p == '>' && null_ok == 0 && lplen == 10 &&
	    strncasecmp(lp, "postmaster", 10) == 0) {
		/* RCPT TO:<Postmaster> needs no domain (5321 4.5.1) */
		if (outcap < 11)
			return (SMTP_PE_TOOLONG);
		memcpy(out, "postmaster", 11);
		*rest_r = p + 1;
		return (0);
	}
	if (*p != '@')
		return (SMTP_PE_SYNTAX);
	p++;
	dom = p;
	if (*p == '[')
		dlen = smtp_addr_literal(p);
	else
		dlen = smtp_domain(p, utf8_ok);
	if (dlen == 0)
		return (SMTP_PE_SYNTAX);
	p += dlen;
	if (*p != '>')
		return (SMTP_PE_SYNTAX);
	if (lplen > SMTP_LOCAL_MAX + 2 || dlen > SMTP_DOMAIN_MAX ||
	    lplen + 1 + dlen > SMTP_PATH_MAX || lplen + dlen + 2 > outcap)
		return (SMTP_PE_TOOLONG);
	n = smtp_local_canon(lp, lplen, out, utf8_ok);
	if (n > SMTP_LOCAL_MAX)
		return (SMTP_PE_TOOLONG);
	out[n++] = '@';
	for (i = 0; i < dlen; i++)
		out[n++] = tolower((unsigned char)dom[i]);
	out[n] = '\0';
	*rest_r = p + 1;
	return (0);
}

const char *
smtp_addr_domain(const char *addr)
{
	const char *at;

	if ((at = strrchr(addr, '@')) == NULL)
		return (NULL);
	return (at + 1);
}

int
smtp_xtext_valid(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '+') {
			if (i + 2 >= len ||
			    !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]) ||
			    islower((unsigned char)s[i + 1]) ||
			    islower((unsigned char)s[i + 2]))
				return (0);
			i += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return (0);
	}
	return (1);
}

/* Split "KEY=VALUE KEY2 ..." one parameter at a time.  Returns 1 with
 * key/value (value NULL when none), 0 at the end, SMTP_PE_SYNTAX when
 * malformed.  Stops at spaces; values are %d33-60 / %d62-126 (or UTF-8,
 * checked by the caller where it matters). */
static int
smtp_next_param(const char **sp, char *key, size_t keycap, char *val,
    size_t valcap, int *hasval_r)
{
	const char *s = *sp;
	size_t n;

	while (*s == ' ')
		s++;
	if (*s == '\0') {
		*sp = s;
		return (0);
	}
	for (n = 0; isalnum((unsigned char)s[n]) || (n > 0 && s[n] == '-');
	    n++)
		;
	if (n == 0 || n >= keycap)
		return (SMTP_PE_SYNTAX);
	memcpy(key, s, n);
	key[n] = '\0';
	s += n;
	*hasval_r = 0;
	val[0] = '\0';
	if (*s == '=') {
		s++;
		for (n = 0; s[n] != '\0' && s[n] != ' '; n++) {
			if ((unsigned char)s[n] < 33 || s[n] == '=' ||
			    s[n] == 127)
				return (SMTP_PE_SYNTAX);
		}
		if (n == 0)
			return (SMTP_PE_SYNTAX);
		if (n >= valcap)
			return (SMTP_PE_PARAMVAL);
		memcpy(val, s, n);
		val[n] = '\0';
		s += n;
		*hasval_r = 1;
	}
	if (*s != '\0' && *s != ' ')
		return (SMTP_PE_SYNTAX);
	*sp = s;
	return (1);
}

/* The text after a path must be empty or begin with a space. */
static int
smtp_params_start(const char *s)
{
	return (*s == '\0' || *s == ' ');
}

int
smtp_parse_mail_params(const char *s, struct smtp_mail_params *p)
{
	char key[32], val[SMTP_PATH_MAX + 3];
	char *end;
	int r, hasval;

	memset(p, 0, sizeof(*p));
	if (!smtp_params_start(s))
		return (SMTP_PE_SYNTAX);
	while ((r = smtp_next_param(&s, key, sizeof(key), val, sizeof(val),
	    &hasval)) == 1) {
		if (strcasecmp(key, "SIZE") == 0) {
			if (p->has_size)
				return (SMTP_PE_DUPPARAM);
			if (!hasval || strlen(val) > 19 ||
			    strspn(val, "0123456789") != strlen(val))
				return (SMTP_PE_PARAMVAL);
			p->size = strtoull(val, &end, 10);
			p->has_size = 1;
		} else if (strcasecmp(key, "BODY") == 0) {
			if (p->body != 0)
				return (SMTP_PE_DUPPARAM);
			if (hasval && strcasecmp(val, "7BIT") == 0)
				p->body = SMTP_BODY_7BIT;
			else if (hasval && strcasecmp(val, "8BITMIME") == 0)
				p->body = SMTP_BODY_8BITMIME;
			else
				return (SMTP_PE_PARAMVAL);
		} else if (strcasecmp(key, "SMTPUTF8") == 0) {
			if (p->smtputf8)
				return (SMTP_PE_DUPPARAM);
			if (hasval)
				return (SMTP_PE_PARAMVAL);
			p->smtputf8 = 1;
		} else if (strcasecmp(key, "RET") == 0) {
			if (p->ret != 0)
				return (SMTP_PE_DUPPARAM);
			if (hasval && strcasecmp(val, "FULL") == 0)
				p->ret = SMTP_RET_FULL;
			else if (hasval && strcasecmp(val, "HDRS") == 0)
				p->ret = SMTP_RET_HDRS;
			else
				return (SMTP_PE_PARAMVAL);
		} else if (strcasecmp(key, "ENVID") == 0) {
			if (p->envid[0] != '\0')
				return (SMTP_PE_DUPPARAM);
			if (!hasval || strlen(val) > SMTP_ENVID_MAX ||
			    !smtp_xtext_valid(val, strlen(val)))
				return (SMTP_PE_PARAMVAL);
			smtp_strlcpy(p->envid, val, sizeof(p->envid));
		} else if (strcasecmp(key, "AUTH") == 0) {
			if (p->auth[0] != '\0')
				return (SMTP_PE_DUPPARAM);
			if (!hasval || (strcmp(val, "<>") != 0 &&
			    !smtp_xtext_valid(val, strlen(val))))
				return (SMTP_PE_PARAMVAL);
			smtp_strlcpy(p->auth, val, sizeof(p->auth));
		} else
			return (SMTP_PE_PARAM);
	}
	return (r);
}

static int
smtp_parse_notify(const char *v, uint32_t *notify_r)
{
	char buf[64], *tok, *save;
	uint32_t n = 0;

	if (strlen(v) >= sizeof(buf))
		return (SMTP_PE_PARAMVAL);
	smtp_strlcpy(buf, v, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		uint32_t bit;

		if (strcasecmp(tok, "NEVER") == 0)
			bit = SMTP_NOTIFY_NEVER;
		else if (strcasecmp(tok, "SUCCESS") == 0)
			bit = SMTP_NOTIFY_SUCCESS;
		else if (strcasecmp(tok, "FAILURE") == 0)
			bit = SMTP_NOTIFY_FAILURE;
		else if (strcasecmp(tok, "DELAY") == 0)
			bit = SMTP_NOTIFY_DELAY;
		else
			return (SMTP_PE_PARAMVAL);
		if (n & bit)
			return (SMTP_PE_PARAMVAL);
		n |= bit;
	}
	/* NEVER stands alone (RFC 3461 4.1). */
	if (n == 0 || ((n & SMTP_NOTIFY_NEVER) && n != SMTP_NOTIFY_NEVER))
		return (SMTP_PE_PARAMVAL);
	*notify_r = n;
	return (0);
}

int
smtp_parse_rcpt_params(const char *s, struct smtp_rcpt_params *p)
{
	char key[32], val[SMTP_ORCPT_MAX + 2];
	const char *semi;
	int r, hasval;
	size_t i;

	memset(p, 0, sizeof(*p));
	if (!smtp_params_start(s))
		return (SMTP_PE_SYNTAX);
	while ((r = smtp_next_param(&s, key, sizeof(key), val, sizeof(val),
	    &hasval)) == 1) {
		if (strcasecmp(key, "NOTIFY") == 0) {
			if (p->notify != 0)
				return (SMTP_PE_DUPPARAM);
			if (!hasval || smtp_parse_notify(val, &p->notify) != 0)
				return (SMTP_PE_PARAMVAL);
		} else if (strcasecmp(key, "ORCPT") == 0) {
			if (p->orcpt[0] != '\0')
				return (SMTP_PE_DUPPARAM);
			/* addr-type ";" xtext, e.g. rfc822;joe+40example.org */
			if (!hasval || strlen(val) > SMTP_ORCPT_MAX ||
			    (semi = strchr(val, ';')) == NULL || semi == val)
				return (SMTP_PE_PARAMVAL);
			for (i = 0; val + i < semi; i++)
				if (!isalnum((unsigned char)val[i]) &&
				    val[i] != '-')
					return (SMTP_PE_PARAMVAL);
			if (semi[1] == '\0' ||
			    !smtp_xtext_valid(semi + 1, strlen(semi + 1)))
				return (SMTP_PE_PARAMVAL);
			smtp_strlcpy(p->orcpt, val, sizeof(p->orcpt));
		} else
			return (SMTP_PE_PARAM);
	}
	return (r);
}

int
smtp_parse_bdat(const char *args, uint64_t *size_r, int *last_r)
{
	uint64_t v = 0;
	size_t n;

	for (n = 0; isdigit((unsigned char)args[n]); n++) {
		if (n >= 19)
			return (SMTP_PE_SYNTAX);
		v = v * 10 + (args[n] - '0');
	}
	if (n == 0)
		return (SMTP_PE_SYNTAX);
	args += n;
	*last_r = 0;
	if (*args == ' ') {
		while (*args == ' ')
			args++;
		if (strncasecmp(args, "LAST", 4) != 0)
			return (SMTP_PE_SYNTAX);
		args += 4;
		while (*args == ' ')
			args++;
		*last_r = 1;
	}
	if (*args != '\0')
		return (SMTP_PE_SYNTAX);
	*size_r = v;
	return (0);
}

int
smtp_parse_helo(const char *args, char *out, size_t outcap)
{
	size_t n;

	for (n = 0; args[n] != '\0' && args[n] != ' '; n++)
		if ((unsigned char)args[n] < 33 ||
		    (unsigned char)args[n] > 126)
			return (-1);
	if (n == 0 || n >= outcap || n > SMTP_DOMAIN_MAX + 2)
		return (-1);
	/* Anything after the name is ignored, as most servers do. */
	memcpy(out, args, n);
	out[n] = '\0';
	return (0);
}
