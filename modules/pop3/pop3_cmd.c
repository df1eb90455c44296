/*
 * pop3_cmd.c -- the commands with short answers: CAPA (RFC 2449), STAT,
 * LIST n, UIDL n, DELE and RSET (RFC 1939).  LIST and UIDL without an
 * argument hand over to pop3_stream.c.
 */
#include <stdio.h>
#include <string.h>

#include "pop3.h"

void
pop3_cmd_capa(struct pop3_sess *s)
{
	char buf[1024];
	const char *mechs;
	size_t o = 0;
	int n;

#define CAPA_ADD(...) do {						\
	n = snprintf(buf + o, sizeof(buf) - o, __VA_ARGS__);		\
	if (n > 0 && (size_t)n < sizeof(buf) - o)			\
		o += (size_t)n;						\
} while (0)
	CAPA_ADD("+OK Capability list follows\r\n");
	CAPA_ADD("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n");
	/* Login capabilities only where a login is possible. */
	if (s->state == POP3_ST_AUTH) {
		if (pop3_api->conn_plaintext_ok(s->c))
			CAPA_ADD("USER\r\n");
		mechs = pop3_api->sasl_mechs(s->c);
		if (mechs != NULL && *mechs != '\0')
			CAPA_ADD("SASL %s\r\n", mechs);
		if (pop3_tls_ok && !pop3_api->conn_is_tls(s->c))
			CAPA_ADD("STLS\r\n");
	}
	CAPA_ADD("IMPLEMENTATION kurir\r\n.\r\n");
#undef CAPA_ADD
	pop3_api->conn_write(s->c, buf, o);
}

void
pop3_cmd_stat(struct pop3_sess *s)
{
	pop3_reply(s, "+OK %zu %llu", s->nmsgs - s->ndele,
	    (unsigned long long)(s->total_bytes - s->dele_bytes));
}

/* The message for DELE/LIST n/UIDL n/RETR/TOP, or an -ERR sent. */
struct pop3_msg *
pop3_cmd_msg(struct pop3_sess *s, const char *arg)
{
	struct pop3_msg *m;

	if ((m = pop3_drop_msg(s, arg)) == NULL) {
		pop3_err(s, "-ERR No such message.");
		return NULL;
	}
	if (m->flags & POP3_MSG_DELE) {
		pop3_err(s, "-ERR Message %zu already deleted.",
		    (size_t)(m - s->msgs) + 1);
		return NULL;
	}
	return m;
}

void
pop3_cmd_dele(struct pop3_sess *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;

	if ((m = pop3_cmd_msg(s, cmd->args[0])) == NULL)
		return;
	m->flags |= POP3_MSG_DELE;
	s->ndele++;
	s->dele_bytes += m->size;
	pop3_reply(s, "+OK Message %zu deleted.", (size_t)(m - s->msgs) + 1);
}

void
pop3_cmd_rset(struct pop3_sess *s)
{
	size_t i;

	for (i = 0; i < s->nmsgs; i++)
		s->msgs[i].flags &= ~POP3_MSG_DELE;
	s->ndele = 0;
	s->dele_bytes = 0;
	pop3_reply(s, "+OK Maildrop has %zu messages (%llu octets).",
	    s->nmsgs, (unsigned long long)s->total_bytes);
}

void
pop3_cmd_list(struct pop3_sess *s, struct pop3_cmd *cmd, uint32_t uidl)
{
	struct pop3_msg *m;
	char id[32];

	if (cmd->nargs == 0) {
		pop3_stream_list(s, uidl ? POP3_STREAM_UIDL :
		    POP3_STREAM_LIST);
		return;
	}
	if ((m = pop3_cmd_msg(s, cmd->args[0])) == NULL)
		return;
	if (uidl) {
		pop3_drop_uidl(s, m, id, sizeof(id));
		pop3_reply(s, "+OK %zu %s", (size_t)(m - s->msgs) + 1, id);
	} else
		pop3_reply(s, "+OK %zu %llu", (size_t)(m - s->msgs) + 1,
		    (unsigned long long)m->size);
}
