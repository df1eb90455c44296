/*
 * pop3_stream.c -- multi-line answers (LIST, UIDL, RETR, TOP) written a
 * bounded piece at a time: the loop writes while the core's output queue
 * is below its high mark and carries on from on_drain().  Input stays
 * paused meanwhile, so pipelined commands wait their turn.  RETR and TOP
 * read the message in POP3_READ_CHUNK pieces through the dot encoder;
 * no message is ever held whole.
 */
#include <stdio.h>
#include <string.h>

#include "pop3.h"

/* One event loop per process and one writer at a time: the buffers are
 * per process, and conn_write() copies out of them. */
static char	pop3_rbuf[POP3_READ_CHUNK];
static char	pop3_wbuf[POP3_DOT_OUT_MAX(POP3_READ_CHUNK) + 128];

/* The answer is complete: back to TRANSACTION. */
static void
pop3_stream_end(struct pop3_sess *s)
{
	s->stream = 0;
	s->stream_msg = NULL;
	pop3_resume(s, POP3_ST_TRANS);
}

/* The next lines of LIST or UIDL into the buffer, after `o` bytes. */
static size_t
pop3_stream_fill_list(struct pop3_sess *s, size_t o)
{
	const size_t cap = sizeof(pop3_wbuf);
	struct pop3_msg *m;
	char id[32];
	int n;

	while (s->stream_idx < s->nmsgs && o + 64 < cap) {
		m = &s->msgs[s->stream_idx++];
		if (m->flags & POP3_MSG_DELE)
			continue;
		if (s->stream == POP3_STREAM_UIDL) {
			pop3_drop_uidl(s, m, id, sizeof(id));
			n = snprintf(pop3_wbuf + o, cap - o, "%zu %s\r\n",
			    s->stream_idx, id);
		} else
			n = snprintf(pop3_wbuf + o, cap - o, "%zu %llu\r\n",
			    s->stream_idx, (unsigned long long)m->size);
		if (n > 0)
			o += (size_t)n;
	}
	if (s->stream_idx == s->nmsgs) {
		memcpy(pop3_wbuf + o, ".\r\n", 3);
		o += 3;
	}
	return o;
}

/*
 * The next chunk of the message into the buffer, after `o` bytes.
 * Returns the bytes in the buffer, sets *end when the answer is complete,
 * or returns 0 with *err set when storage fails.
 */
static size_t
pop3_stream_fill_msg(struct pop3_sess *s, size_t o, int *end, int *err)
{
	const struct kurir_storage_ops *so = pop3_api->storage();
	size_t n = 0;
	int r;

	*end = 0;
	r = so->msg_read(s->mb, s->stream_msg->uid, s->stream_off, pop3_rbuf,
	    sizeof(pop3_rbuf), &n);
	if (r != KURIR_OK) {
		*err = r;
		return 0;
	}
	s->stream_off += n;
	o += pop3_dot_encode(&s->dot, pop3_rbuf, n, pop3_wbuf + o);
	if (n < sizeof(pop3_rbuf) || s->dot.done) {
		o += pop3_dot_finish(&s->dot, pop3_wbuf + o);
		*end = 1;
	}
	return o;
}

static void
pop3_stream_msg_done(struct pop3_sess *s)
{
	struct pop3_msg *m = s->stream_msg;

	if (s->stream_retr) {
		if (!(m->flags & POP3_MSG_SEEN))
			m->flags |= POP3_MSG_RETR;
		s->nretr++;
		s->retr_bytes += m->size;
	}
}

void
pop3_stream_run(struct pop3_sess *s)
{
	size_t o;
	int end, err;

	if (s->in_run)
		return;		/* on_drain from inside our own write */
	s->in_run = 1;
	while (s->state == POP3_ST_STREAM && !s->gone &&
	    pop3_api->conn_writable(s->c)) {
		if (s->stream == POP3_STREAM_MSG) {
			err = KURIR_OK;
			o = pop3_stream_fill_msg(s, 0, &end, &err);
			if (err != KURIR_OK) {
				/* Half an answer is out: only closing keeps
				 * the client from taking it as the message. */
				pop3_api->conn_log(s->c, KURIR_LOG_ERR,
				    "RETR uid %u: read failed at %llu: %d",
				    s->stream_msg->uid,
				    (unsigned long long)s->stream_off, err);
				s->state = POP3_ST_CLOSED;
				pop3_api->conn_close(s->c);
				break;
			}
			pop3_api->conn_write(s->c, pop3_wbuf, o);
			if (end) {
				pop3_stream_msg_done(s);
				pop3_stream_end(s);
			}
		} else {
			o = pop3_stream_fill_list(s, 0);
			pop3_api->conn_write(s->c, pop3_wbuf, o);
			if (s->stream_idx == s->nmsgs)
				pop3_stream_end(s);
		}
	}
	s->in_run = 0;
}

void
pop3_stream_list(struct pop3_sess *s, uint32_t kind)
{
	int n;

	s->stream = kind;
	s->stream_idx = 0;
	if (kind == POP3_STREAM_UIDL)
		n = snprintf(pop3_wbuf, sizeof(pop3_wbuf), "+OK\r\n");
	else
		n = snprintf(pop3_wbuf, sizeof(pop3_wbuf),
		    "+OK %zu messages (%llu octets)\r\n",
		    s->nmsgs - s->ndele,
		    (unsigned long long)(s->total_bytes - s->dele_bytes));
	pop3_api->conn_write(s->c, pop3_wbuf, (size_t)n);
	/* Small maildrops are answered at once, without pausing. */
	s->state = POP3_ST_STREAM;
	pop3_stream_run(s);
	if (s->state == POP3_ST_STREAM)
		pop3_pause(s, POP3_ST_STREAM);
}

/* RETR n, or TOP n lines. */
void
pop3_cmd_retr(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;
	uint32_t lines = 0;
	size_t o;
	int end, err = KURIR_OK;

	if (cmd->id == POP3_CMD_TOP &&
	    pop3_parse_num(cmd->args[1], &lines) < 0) {
		pop3_err(s, "-ERR Invalid number of lines.");
		return;
	}
	if ((m = pop3_cmd_msg(s, cmd->args[0])) == NULL)
		return;
	s->stream = POP3_STREAM_MSG;
	s->stream_msg = m;
	s->stream_off = 0;
	s->stream_retr = cmd->id == POP3_CMD_RETR;
	pop3_dot_init(&s->dot, s->stream_retr ? -1 : (int64_t)lines);
	/* The first piece is read before the +OK, so a message that cannot
	 * be read still gets a clean -ERR. */
	o = (size_t)snprintf(pop3_wbuf, 64, s->stream_retr ?
	    "+OK %llu octets\r\n" : "+OK\r\n", (unsigned long long)m->size);
	o = pop3_stream_fill_msg(s, o, &end, &err);
	if (err != KURIR_OK) {
		s->stream = 0;
		s->stream_msg = NULL;
		pop3_api->conn_log(s->c, KURIR_LOG_ERR,
		    "RETR uid %u: read failed: %d", m->uid, err);
		if (err == KURIR_E_NOTFOUND)
			pop3_reply(s, "-ERR Message was removed by another "
			    "session.");
		else
			pop3_reply(s, "-ERR [SYS/TEMP] Cannot read the "
			    "message, try again later.");
		return;
	}
	pop3_api->conn_write(s->c, pop3_wbuf, o);
	if (end) {
		pop3_stream_msg_done(s);
		s->stream = 0;
		s->stream_msg = NULL;
		return;
	}
	s->state = POP3_ST_STREAM;
	pop3_stream_run(s);
	if (s->state == POP3_ST_STREAM)
		pop3_pause(s, POP3_ST_STREAM);
}
