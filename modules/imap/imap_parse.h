/*
 * imap_parse.h -- the IMAP command grammar (RFC 3501 section 9): a
 * complete command, literals already inlined by imap_cmdbuf, becomes a
 * tag, a command name and a tree of arguments.  Also sequence sets.
 * Pure functions over a buffer: no I/O, no core services, so the unit
 * tests and the fuzz target link this file alone.
 */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_ARG_ATOM		1u	/* atom, incl. BODY[...]<..> forms */
#define IMAP_ARG_QUOTED		2u	/* "quoted string", unescaped */
#define IMAP_ARG_LITERAL	3u	/* {n} literal */
#define IMAP_ARG_NIL		4u	/* the atom NIL */
#define IMAP_ARG_LIST		5u	/* ( ... ) */

#define IMAP_PARSE_MAX_DEPTH	32	/* nested parentheses */
#define IMAP_TAG_MAX		64

struct imap_arg {
	uint32_t	 type;		/* IMAP_ARG_* */
	uint32_t	 len;		/* bytes of str (not for lists) */
	char		*str;		/* NUL-terminated (may hold NULs) */
	struct imap_arg	*child;		/* first element of a list */
	struct imap_arg	*next;		/* next sibling, NULL at the end */
};

struct imap_cmd {
	char		 tag[IMAP_TAG_MAX + 1];
	char		 name[32];	/* upper-cased command name */
	struct imap_arg	*args;		/* first argument or NULL */
	/* Storage owned by the command (freed by imap_cmd_free). */
	struct imap_arg	*nodes;
	size_t		 nnodes;
	char		*strs;
	size_t		 strs_len;
	uint32_t	 wipe;		/* holds a secret: zero it when freed */
};

/* Parse results. */
#define IMAP_PARSE_OK		0
#define IMAP_PARSE_NOTAG	(-1)	/* no usable tag: answer "* BAD" */
#define IMAP_PARSE_BAD		(-2)	/* tag known: answer "tag BAD" */
#define IMAP_PARSE_NOMEM	(-3)

/*
 * Parse buf[0..len) (a command line with literals as "{n}\r\n" followed
 * by n bytes).  On BAD, cmd->tag is set when a tag was read, and *err_r
 * names the problem.  Call imap_cmd_free() in every case.
 */
int	 imap_parse_command(const char *buf, size_t len, size_t max_args,
	    struct imap_cmd *cmd, const char **err_r);
void	 imap_cmd_free(struct imap_cmd *cmd);

/* Predicates for the argument walker. */
int	 imap_arg_is_string(const struct imap_arg *a);	/* astring */
int	 imap_arg_is_nstring(const struct imap_arg *a);
int	 imap_arg_atom_eq(const struct imap_arg *a, const char *word);
size_t	 imap_arg_count(const struct imap_arg *a);

/* True for an atom character (RFC 3501 ATOM-CHAR). */
int	 imap_is_atom_char(unsigned char ch);

/*
 * Sequence sets.  '*' is stored as UINT32_MAX; ranges keep the order
 * given, first <= last after parsing.  Returns the number of ranges, or
 * -1 on a syntax error or more than max ranges.
 */
struct imap_seq_range {
	uint32_t	 first;
	uint32_t	 last;
};
int	 imap_seqset_parse(const char *s, struct imap_seq_range *r,
	    size_t max);
/* Resolve '*' to star and clamp: a range wholly above star maps to
 * star..star (RFC 3501 "*" semantics for UID sets). */
void	 imap_seqset_resolve(struct imap_seq_range *r, size_t n,
	    uint32_t star);
int	 imap_seqset_contains(const struct imap_seq_range *r, size_t n,
	    uint32_t v);

/*
 * Does a command line end with a literal announcement?  Returns 1 and
 * sets *size_r and *sync_r ({n} is sync, {n+} is not) when the last bytes
 * are "{digits}" or "{digits+}"; 0 when there is none; -1 when the
 * announcement is malformed (too many digits).
 */
int	 imap_literal_tail(const char *line, size_t len, uint64_t *size_r,
	    int *sync_r);

#endif /* IMAP_PARSE_H */
