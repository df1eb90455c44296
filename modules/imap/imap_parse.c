/*
 * imap_parse.c -- tokenizer and argument tree for one complete IMAP
 * command (RFC 3501 section 9).  The input is bounded by the command
 * buffer; the output is a tree of imap_arg nodes whose count is bounded
 * by max_args and whose strings fit in one block of at most 2 * len + 2
 * bytes, so no input can make the parser take unbounded memory.  The
 * tree is built with indices (the node array may move while it grows)
 * and turned into pointers at the end.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"

#define NOIDX	((size_t)-1)

struct parse_node {
	uint32_t	 type;
	uint32_t	 len;
	size_t		 str;		/* offset into strs */
	size_t		 child;
	size_t		 next;
};

struct parser {
	const char	*p;
	const char	*end;
	struct parse_node *nodes;
	size_t		 nnodes;
	size_t		 cap;
	size_t		 max;
	char		*strs;
	size_t		 strlen;
	/* Per depth: the list node (NOIDX at top) and its last child. */
	size_t		 parent[IMAP_PARSE_MAX_DEPTH + 1];
	size_t		 last[IMAP_PARSE_MAX_DEPTH + 1];
	size_t		 first_top;
	int		 depth;
	const char	*err;
};

int
imap_is_atom_char(unsigned char ch)
{
	if (ch <= 0x1f || ch >= 0x7f)
		return 0;
	switch (ch) {
	case '(': case ')': case '{': case ' ': case '%': case '*':
	case '"': case '\\': case ']':
		return 0;
	}
	return 1;
}

/* Characters an argument atom may hold: atom chars plus the list
 * wildcards, '*' of sequence sets, '\' of flags and ']'. */
static int
arg_atom_char(unsigned char ch)
{
	if (imap_is_atom_char(ch))
		return 1;
	return ch == '%' || ch == '*' || ch == '\\' || ch == ']';
}

static int
tag_char(unsigned char ch)
{
	return (imap_is_atom_char(ch) || ch == ']') && ch != '+';
}

static size_t
node_new(struct parser *ps, uint32_t type)
{
	struct parse_node *n;
	size_t idx, depth;

	if (ps->nnodes >= ps->max) {
		ps->err = "Too many arguments";
		return NOIDX;
	}
	if (ps->nnodes == ps->cap) {
		size_t ncap = ps->cap == 0 ? 16 : ps->cap * 2;

		if (ncap > ps->max)
			ncap = ps->max;
		n = reallocarray(ps->nodes, ncap, sizeof(*n));
		if (n == NULL) {
			ps->err = "Out of memory";
			return NOIDX;
		}
		ps->nodes = n;
		ps->cap = ncap;
	}
	idx = ps->nnodes++;
	n = &ps->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->child = NOIDX;
	n->next = NOIDX;
	depth = (size_t)ps->depth;
	if (ps->last[depth] != NOIDX)
		ps->nodes[ps->last[depth]].next = idx;
	else if (ps->parent[depth] != NOIDX)
		ps->nodes[ps->parent[depth]].child = idx;
	else
		ps->first_top = idx;
	ps->last[depth] = idx;
	return idx;
}

/* Append bytes to the string block; returns the offset. */
static size_t
str_add(struct parser *ps, const char *s, size_t len)
{
	size_t off = ps->strlen;

	memcpy(ps->strs + off, s, len);
	ps->strs[off + len] = '\0';
	ps->strlen += len + 1;
	return off;
}

static int
parse_quoted(struct parser *ps)
{
	const char *p = ps->p + 1;
	size_t idx, off;
	char *w;

	off = ps->strlen;
	w = ps->strs + off;
	for (;;) {
		if (p >= ps->end) {
			ps->err = "Unterminated quoted string";
			return -1;
		}
		if (*p == '"')
			break;
		if (*p == '\r' || *p == '\n' || *p == '\0') {
			ps->err = "Bad character in quoted string";
			return -1;
		}
		if (*p == '\\') {
			p++;
			if (p >= ps->end || (*p != '"' && *p != '\\')) {
				ps->err = "Bad escape in quoted string";
				return -1;
			}
		}
		*w++ = *p++;
	}
	*w = '\0';
	if ((idx = node_new(ps, IMAP_ARG_QUOTED)) == NOIDX)
		return -1;
	ps->nodes[idx].str = off;
	ps->nodes[idx].len = (uint32_t)(w - (ps->strs + off));
	ps->strlen = off + ps->nodes[idx].len + 1;
	ps->p = p + 1;
	return 0;
}

static int
parse_literal(struct parser *ps)
{
	const char *p = ps->p + 1;
	uint64_t n = 0;
	size_t idx, digits = 0;

	while (p < ps->end && isdigit((unsigned char)*p)) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (++digits > 18) {
			ps->err = "Literal size too large";
			return -1;
		}
		p++;
	}
	if (digits == 0) {
		ps->err = "Bad literal";
		return -1;
	}
	if (p < ps->end && *p == '+')
		p++;
	if (ps->end - p < 3 || p[0] != '}' || p[1] != '\r' || p[2] != '\n') {
		ps->err = "Bad literal";
		return -1;
	}
	p += 3;
	if ((uint64_t)(ps->end - p) < n) {
		ps->err = "Literal shorter than announced";
		return -1;
	}
	if ((idx = node_new(ps, IMAP_ARG_LITERAL)) == NOIDX)
		return -1;
	ps->nodes[idx].str = str_add(ps, p, (size_t)n);
	ps->nodes[idx].len = (uint32_t)n;
	ps->p = p + n;
	return 0;
}

static int
parse_atom(struct parser *ps)
{
	const char *p = ps->p, *start = ps->p;
	size_t idx;
	uint32_t type;

	while (p < ps->end) {
		if (*p == '[') {
			/* BODY[HEADER.FIELDS (A B)]: brackets may hold
			 * spaces and parentheses. */
			int nest = 0;

			while (p < ps->end) {
				if (*p == '\r' || *p == '\n' || *p == '\0') {
					ps->err = "Bad character in section";
					return -1;
				}
				if (*p == '[')
					nest++;
				else if (*p == ']' && --nest == 0)
					break;
				p++;
			}
			if (p >= ps->end) {
				ps->err = "Missing ] in section";
				return -1;
			}
			p++;
			continue;
		}
		if (!arg_atom_char((unsigned char)*p))
			break;
		p++;
	}
	if (p == start) {
		ps->err = "Bad character in argument";
		return -1;
	}
	type = IMAP_ARG_ATOM;
	if (p - start == 3 && strncasecmp(start, "NIL", 3) == 0)
		type = IMAP_ARG_NIL;
	if ((idx = node_new(ps, type)) == NOIDX)
		return -1;
	ps->nodes[idx].str = str_add(ps, start, (size_t)(p - start));
	ps->nodes[idx].len = (uint32_t)(p - start);
	ps->p = p;
	return 0;
}

/* After a token: a space, a closing parenthesis or the end. */
static int
expect_separator(struct parser *ps)
{
	if (ps->p >= ps->end || *ps->p == ')')
		return 0;
	if (*ps->p != ' ') {
		ps->err = "Missing space between arguments";
		return -1;
	}
	ps->p++;
	if (ps->p >= ps->end) {
		ps->err = "Trailing space";
		return -1;
	}
	return 0;
}

static int
parse_args(struct parser *ps)
{
	size_t idx;

	while (ps->p < ps->end) {
		switch (*ps->p) {
		case '(':
			if (ps->depth >= IMAP_PARSE_MAX_DEPTH) {
				ps->err = "Lists nested too deep";
				return -1;
			}
			if ((idx = node_new(ps, IMAP_ARG_LIST)) == NOIDX)
				return -1;
			ps->depth++;
			ps->parent[ps->depth] = idx;
			ps->last[ps->depth] = NOIDX;
			ps->p++;
			continue;	/* "()" and "(a" need no space */
		case ')':
			if (ps->depth == 0) {
				ps->err = "Unbalanced )";
				return -1;
			}
			ps->depth--;
			ps->p++;
			break;
		case '"':
			if (parse_quoted(ps) < 0)
				return -1;
			break;
		case '{':
			if (parse_literal(ps) < 0)
				return -1;
			break;
		default:
			if (parse_atom(ps) < 0)
				return -1;
			break;
		}
		if (expect_separator(ps) < 0)
			return -1;
	}
	if (ps->depth != 0) {
		ps->err = "Unbalanced (";
		return -1;
	}
	return 0;
}

static void
link_nodes(struct parser *ps, struct imap_cmd *cmd)
{
	struct imap_arg *a;
	size_t i;

	a = calloc(ps->nnodes == 0 ? 1 : ps->nnodes, sizeof(*a));
	cmd->nodes = a;
	if (a == NULL)
		return;
	cmd->nnodes = ps->nnodes;
	for (i = 0; i < ps->nnodes; i++) {
		struct parse_node *n = &ps->nodes[i];

		a[i].type = n->type;
		a[i].len = n->len;
		a[i].str = n->type == IMAP_ARG_LIST ? NULL : ps->strs + n->str;
		a[i].child = n->child == NOIDX ? NULL : &a[n->child];
		a[i].next = n->next == NOIDX ? NULL : &a[n->next];
	}
	cmd->args = ps->first_top == NOIDX ? NULL : &a[ps->first_top];
}

int
imap_parse_command(const char *buf, size_t len, size_t max_args,
    struct imap_cmd *cmd, const char **err_r)
{
	struct parser ps;
	const char *p, *end = buf + len;
	size_t n;
	int rc = IMAP_PARSE_BAD;

	memset(cmd, 0, sizeof(*cmd));
	*err_r = "Syntax error";
	/* tag */
	for (p = buf; p < end && tag_char((unsigned char)*p); p++)
		;
	n = (size_t)(p - buf);
	if (n == 0 || n > IMAP_TAG_MAX || p >= end || *p != ' ') {
		*err_r = "Missing or bad tag";
		return IMAP_PARSE_NOTAG;
	}
	memcpy(cmd->tag, buf, n);
	cmd->tag[n] = '\0';
	p++;
	/* command name: letters only */
	for (n = 0; p < end && isalpha((unsigned char)*p); p++) {
		if (n + 1 >= sizeof(cmd->name)) {
			*err_r = "Unknown command";
			return IMAP_PARSE_BAD;
		}
		cmd->name[n++] = (char)toupper((unsigned char)*p);
	}
	cmd->name[n] = '\0';
	if (n == 0) {
		*err_r = "Missing command";
		return IMAP_PARSE_BAD;
	}
	if (p < end) {
		if (*p != ' ' || p + 1 >= end) {
			*err_r = "Bad command name";
			return IMAP_PARSE_BAD;
		}
		p++;
	}
	memset(&ps, 0, sizeof(ps));
	ps.p = p;
	ps.end = end;
	ps.max = max_args;
	ps.first_top = NOIDX;
	ps.parent[0] = NOIDX;
	ps.last[0] = NOIDX;
	ps.strs = malloc(2 * (size_t)(end - p) + 2);
	if (ps.strs == NULL) {
		*err_r = "Out of memory";
		return IMAP_PARSE_NOMEM;
	}
	if (parse_args(&ps) < 0) {
		*err_r = ps.err;
		goto out_free;
	}
	link_nodes(&ps, cmd);
	if (cmd->nodes == NULL) {
		*err_r = "Out of memory";
		rc = IMAP_PARSE_NOMEM;
		goto out_free;
	}
	cmd->strs = ps.strs;
	cmd->strs_len = 2 * (size_t)(end - p) + 2;
	cmd->wipe = 0;
	free(ps.nodes);
	return IMAP_PARSE_OK;
out_free:
	free(ps.strs);
	free(ps.nodes);
	return rc;
}

void
imap_cmd_free(struct imap_cmd *cmd)
{
	free(cmd->nodes);
	if (cmd->wipe && cmd->strs != NULL)
		explicit_bzero(cmd->strs, cmd->strs_len);
	free(cmd->strs);
	cmd->wipe = 0;
	cmd->nodes = NULL;
	cmd->strs = NULL;
	cmd->args = NULL;
}

int
imap_arg_is_string(const struct imap_arg *a)
{
	return a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL ||
	    a->type == IMAP_ARG_NIL);
}

int
imap_arg_is_nstring(const struct imap_arg *a)
{
	return a != NULL && (a->type == IMAP_ARG_QUOTED ||
	    a->type == IMAP_ARG_LITERAL || a->type == IMAP_ARG_NIL);
}

int
imap_arg_atom_eq(const struct imap_arg *a, const char *word)
{
	return a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL) && strcasecmp(a->str, word) == 0;
}

size_t
imap_arg_count(const struct imap_arg *a)
{
	size_t n = 0;

	for (; a != NULL; a = a->next)
		n++;
	return n;
}

int
imap_literal_tail(const char *line, size_t len, uint64_t *size_r,
    int *sync_r)
{
	size_t i, digits;
	uint64_t n = 0;
	int sync = 1;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	if (line[i - 1] == '+') {
		sync = 0;
		i--;
	}
	digits = 0;
	while (i > 0 && isdigit((unsigned char)line[i - 1])) {
		i--;
		digits++;
	}
	if (digits == 0 || i == 0 || line[i - 1] != '{')
		return 0;
	if (digits > 18)
		return -1;
	for (; digits > 0; digits--, i++)
		n = n * 10 + (uint64_t)(line[i] - '0');
	*size_r = n;
	*sync_r = sync;
	return 1;
}
