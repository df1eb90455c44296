/*
 * pop3_dot.h -- the streaming encoder of a RETR/TOP answer: message bytes
 * in, wire bytes out, with CRLF line ends, dot-stuffing (RFC 1939
 * section 3) and, for TOP, the cut after the headers plus n body lines.
 * It keeps a few words of state between chunks, so a message of any size
 * goes through it in bounded pieces split anywhere.
 */
#ifndef POP3_DOT_H
#define POP3_DOT_H

#include <stddef.h>
#include <stdint.h>

struct pop3_dot {
	uint32_t	 bol;		/* the next byte starts a line */
	uint32_t	 prev_cr;	/* the last byte passed was a CR */
	uint32_t	 in_body;	/* the blank line after the headers
					 * has passed */
	uint32_t	 done;		/* TOP: all wanted lines are out */
	uint64_t	 line_len;	/* bytes of the current line so far */
	int64_t		 lines_left;	/* TOP body lines to go; -1: all */
};

/* Room pop3_dot_encode() may need for len input bytes. */
#define POP3_DOT_OUT_MAX(len)	(2 * (len))
/* Room pop3_dot_finish() may need: CRLF "." CRLF. */
#define POP3_DOT_FINISH_MAX	5

/* body_lines < 0: the whole message (RETR); else TOP's line count. */
void	 pop3_dot_init(struct pop3_dot *d, int64_t body_lines);
/* Encode in[0..len) into out (POP3_DOT_OUT_MAX(len) bytes of room);
 * returns the bytes written.  Once d->done is set the rest of the input
 * is ignored and the caller should stop reading. */
size_t	 pop3_dot_encode(struct pop3_dot *d, const char *in, size_t len,
	    char *out);
/* End the answer: a line end if the message lacked one, then ".\r\n".
 * Returns the bytes written (at most POP3_DOT_FINISH_MAX). */
size_t	 pop3_dot_finish(struct pop3_dot *d, char *out);

#endif
