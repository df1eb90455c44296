/*
 * imap_cmdbuf.c -- the command assembler.  A command is a line, or a line
 * ending in a literal announcement followed by the literal and more line.
 * Sizes are checked when a literal is announced, before any of it is
 * read, so an oversized literal takes no memory: a synchronizing one is
 * refused (the client sends nothing more), a non-synchronizing one (RFC
 * 7888) makes the session close because its bytes are already on the way.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_cmdbuf.h"
#include "imap_parse.h"

int
imap_cmdbuf_init(struct imap_cmdbuf *cb, size_t cap, uint64_t max_literal)
{
	memset(cb, 0, sizeof(*cb));
	cb->cap = cap;
	cb->max_literal = max_literal;
	return 0;
}

void
imap_cmdbuf_free(struct imap_cmdbuf *cb)
{
	free(cb->buf);
	cb->buf = NULL;
	cb->len = 0;
}

/* Drop the command but keep the buffer when it is small; a buffer that
 * grew for a long command is released so idle sessions stay small. */
void
imap_cmdbuf_reset(struct imap_cmdbuf *cb)
{
	cb->len = 0;
	cb->lit_left = 0;
	cb->overflow = 0;
	if (cb->buf != NULL && cb->cap > 4096) {
		free(cb->buf);
		cb->buf = NULL;
	}
}

static int
cmdbuf_add(struct imap_cmdbuf *cb, const char *s, size_t len)
{
	if (cb->buf == NULL) {
		/* +1 keeps room for a terminating NUL. */
		if ((cb->buf = malloc(cb->cap + 1)) == NULL)
			return -1;
	}
	if (len > cb->cap - cb->len)
		return -1;
	memcpy(cb->buf + cb->len, s, len);
	cb->len += len;
	cb->buf[cb->len] = '\0';
	return 0;
}

int
imap_cmdbuf_line(struct imap_cmdbuf *cb, const char *line, size_t len,
    uint64_t *lit_r, int *sync_r)
{
	uint64_t n;
	int sync, rc;

	rc = imap_literal_tail(line, len, &n, &sync);
	if (rc < 0)
		return IMAP_CB_BADLIT;
	if (cmdbuf_add(cb, line, len) < 0)
		return IMAP_CB_TOOLONG;
	if (rc == 0)
		return IMAP_CB_COMPLETE;
	*lit_r = n;
	*sync_r = sync;
	if (n > cb->max_literal)
		return sync ? IMAP_CB_TOOBIG : IMAP_CB_TOOBIG_CLOSE;
	/* "\r\n" + the literal + at least an empty line must fit. */
	if (n + 2 > cb->cap - cb->len)
		return sync ? IMAP_CB_TOOBIG : IMAP_CB_TOOBIG_CLOSE;
	if (cmdbuf_add(cb, "\r\n", 2) < 0)
		return IMAP_CB_TOOLONG;
	cb->lit_left = n;
	return IMAP_CB_LITERAL;
}

int
imap_cmdbuf_data(struct imap_cmdbuf *cb, const char *buf, size_t len)
{
	if (len > cb->lit_left)
		len = (size_t)cb->lit_left;
	/* Room was checked when the literal was announced. */
	if (cmdbuf_add(cb, buf, len) < 0)
		cb->overflow = 1;
	cb->lit_left -= len;
	return cb->lit_left == 0;
}
