/*
 * pop3_parse.c -- splits a POP3 command line (RFC 1939 section 3, RFC
 * 2449 section 4) into its keyword and arguments, checks the argument
 * count per command and reads message numbers strictly.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pop3_parse.h"

#define POP3_ARG_REST	0x01u	/* one argument: the rest of the line */
#define POP3_ARG_KEEP	0x02u	/* ... kept byte for byte (passwords) */

struct pop3_cmd_def {
	const char	*name;
	int		 id;
	size_t		 min_args;
	size_t		 max_args;
	uint32_t	 flags;
};

static const struct pop3_cmd_def pop3_cmds[] = {
	{ "USER", POP3_CMD_USER, 1, 1, POP3_ARG_REST },
	{ "PASS", POP3_CMD_PASS, 1, 1, POP3_ARG_REST | POP3_ARG_KEEP },
	{ "STAT", POP3_CMD_STAT, 0, 0, 0 },
	{ "LIST", POP3_CMD_LIST, 0, 1, 0 },
	{ "RETR", POP3_CMD_RETR, 1, 1, 0 },
	{ "DELE", POP3_CMD_DELE, 1, 1, 0 },
	{ "NOOP", POP3_CMD_NOOP, 0, 0, 0 },
	{ "RSET", POP3_CMD_RSET, 0, 0, 0 },
	{ "QUIT", POP3_CMD_QUIT, 0, 0, 0 },
	{ "TOP", POP3_CMD_TOP, 2, 2, 0 },
	{ "UIDL", POP3_CMD_UIDL, 0, 1, 0 },
	{ "CAPA", POP3_CMD_CAPA, 0, 0, 0 },
	{ "STLS", POP3_CMD_STLS, 0, 0, 0 },
	{ "AUTH", POP3_CMD_AUTH, 0, 2, 0 },
	{ NULL, 0, 0, 0, 0 }
};

static const struct pop3_cmd_def *
pop3_cmd_find(const char *kw, size_t kwlen)
{
	const struct pop3_cmd_def *d;

	for (d = pop3_cmds; d->name != NULL; d++) {
		if (strlen(d->name) == kwlen &&
		    strncasecmp(d->name, kw, kwlen) == 0)
			return d;
	}
	return NULL;
}

int
pop3_parse(char *line, size_t len, struct pop3_cmd *cmd)
{
	const struct pop3_cmd_def *d;
	char *p, *end, *kw;
	size_t i, kwlen;

	memset(cmd, 0, sizeof(*cmd));
	/* Control bytes (NUL included) never belong in a command; a tab
	 * may sit in a password but separates nothing. */
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return POP3_PARSE_BADCHAR;
	}
	end = line + len;
	p = line;
	while (p < end && *p == ' ')
		p++;
	kw = p;
	while (p < end && *p != ' ')
		p++;
	kwlen = (size_t)(p - kw);
	if (kwlen == 0)
		return POP3_PARSE_EMPTY;
	if ((d = pop3_cmd_find(kw, kwlen)) == NULL)
		return POP3_PARSE_UNKNOWN;
	cmd->id = d->id;
	cmd->name = d->name;

	if ((d->flags & POP3_ARG_KEEP) && p < end) {
		/* "PASS secret": one separator, then every byte as sent,
		 * spaces included (RFC 1939 section 7). */
		*p++ = '\0';
		if (p < end)
			cmd->args[cmd->nargs++] = p;
		return cmd->nargs < d->min_args ? POP3_PARSE_SYNTAX :
		    POP3_PARSE_OK;
	}
	while (end > p && end[-1] == ' ')
		end--;
	*end = '\0';
	while (*p == ' ')
		*p++ = '\0';
	if (d->flags & POP3_ARG_REST) {
		if (*p != '\0')
			cmd->args[cmd->nargs++] = p;
	} else {
		while (*p != '\0') {
			if (cmd->nargs == d->max_args)
				return POP3_PARSE_SYNTAX;
			cmd->args[cmd->nargs++] = p;
			while (*p != '\0' && *p != ' ')
				p++;
			while (*p == ' ')
				*p++ = '\0';
		}
	}
	if (cmd->nargs < d->min_args)
		return POP3_PARSE_SYNTAX;
	return POP3_PARSE_OK;
}

int
pop3_parse_num(const char *s, uint32_t *num_r)
{
	uint64_t v = 0;
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 10)
			return -1;
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (n == 0 || v > UINT32_MAX)
		return -1;
	*num_r = (uint32_t)v;
	return 0;
}
