/*
 * imap_cmdbuf.h -- assembles one IMAP command from the lines and literal
 * bytes the core delivers (on_line / on_data) into a bounded buffer, in
 * the form imap_parse_command() reads: "{n}\r\n" followed by n bytes.
 */
#ifndef IMAP_CMDBUF_H
#define IMAP_CMDBUF_H

#include <stddef.h>
#include <stdint.h>

struct imap_cmdbuf {
	char		*buf;
	size_t		 len;
	size_t		 cap;		/* imap_max_command_size */
	uint64_t	 max_literal;	/* imap_max_literal_size */
	uint64_t	 lit_left;	/* literal bytes still expected */
	uint32_t	 overflow;	/* input is being discarded */
};

/* Results of imap_cmdbuf_line(). */
#define IMAP_CB_COMPLETE	0	/* buf holds a whole command */
#define IMAP_CB_LITERAL		1	/* a literal follows: *lit_r bytes */
#define IMAP_CB_TOOBIG		2	/* sync literal over the limit */
#define IMAP_CB_TOOBIG_CLOSE	3	/* non-sync literal over the limit */
#define IMAP_CB_TOOLONG		4	/* command over the buffer size */
#define IMAP_CB_BADLIT		5	/* malformed literal announcement */

int	 imap_cmdbuf_init(struct imap_cmdbuf *cb, size_t cap,
	    uint64_t max_literal);
void	 imap_cmdbuf_free(struct imap_cmdbuf *cb);
void	 imap_cmdbuf_reset(struct imap_cmdbuf *cb);
/* Add one line (without its CRLF).  For IMAP_CB_LITERAL *lit_r and
 * *sync_r tell the size and whether to send "+ go ahead" first. */
int	 imap_cmdbuf_line(struct imap_cmdbuf *cb, const char *line, size_t len,
	    uint64_t *lit_r, int *sync_r);
/* Literal bytes; returns 1 when the literal is complete (a line
 * follows), 0 when more bytes are due. */
int	 imap_cmdbuf_data(struct imap_cmdbuf *cb, const char *buf, size_t len);

#endif /* IMAP_CMDBUF_H */
