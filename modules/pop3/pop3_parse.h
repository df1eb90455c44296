/*
 * pop3_parse.h -- the POP3 command line parser: keyword, arguments and
 * message numbers.  Pure functions over one line, no I/O, so the unit
 * tests drive it directly.
 */
#ifndef POP3_PARSE_H
#define POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define POP3_CMD_USER	1
#define POP3_CMD_PASS	2
#define POP3_CMD_STAT	3
#define POP3_CMD_LIST	4
#define POP3_CMD_RETR	5
#define POP3_CMD_DELE	6
#define POP3_CMD_NOOP	7
#define POP3_CMD_RSET	8
#define POP3_CMD_QUIT	9
#define POP3_CMD_TOP	10
#define POP3_CMD_UIDL	11
#define POP3_CMD_CAPA	12
#define POP3_CMD_STLS	13
#define POP3_CMD_AUTH	14

/* pop3_parse() results. */
#define POP3_PARSE_OK		0
#define POP3_PARSE_EMPTY	(-1)	/* nothing but blanks */
#define POP3_PARSE_UNKNOWN	(-2)	/* keyword not known */
#define POP3_PARSE_SYNTAX	(-3)	/* wrong number of arguments */
#define POP3_PARSE_BADCHAR	(-4)	/* NUL or control bytes */

#define POP3_MAX_ARGS	2

struct pop3_cmd {
	int		 id;		/* POP3_CMD_* */
	const char	*name;		/* canonical upper-case keyword */
	size_t		 nargs;
	char		*args[POP3_MAX_ARGS];
};

/*
 * Parse line[0..len) in place (arguments are NUL-terminated inside the
 * line).  Keywords are case-insensitive; arguments are separated by one
 * or more spaces and trailing spaces are ignored.  USER takes the rest
 * of the line as its one argument, PASS the rest byte for byte
 * (passwords may hold spaces).  Returns POP3_PARSE_*; cmd->id is set for SYNTAX too.
 */
int	 pop3_parse(char *line, size_t len, struct pop3_cmd *cmd);

/* A message number or line count: 1 to 10 decimal digits, no sign, at
 * most UINT32_MAX.  0 on success, -1 otherwise. */
int	 pop3_parse_num(const char *s, uint32_t *num_r);

#endif
