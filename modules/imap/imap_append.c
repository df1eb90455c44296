/*
 * imap_append.c -- APPEND (RFC 3501 6.3.11) with UIDPLUS's APPENDUID and
 * LITERAL+.  The message literal never enters the command buffer: when
 * a line announcing a literal turns out to be an APPEND's message, the
 * literal is streamed straight into storage (append_begin/_write) and
 * committed off the event loop.  An oversized or refused message is
 * answered before the client sends it (synchronizing literal) or read
 * and dropped (LITERAL+) -- over max_message_size a non-synchronizing
 * literal ends the session, as its bytes cannot be refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap.h"
#include "imap_flags.h"

struct imap_append {
	struct imap_sess *s;		/* NULL once the session is gone */
	struct kurir_append *ap;
	char		 tag[IMAP_TAG_MAX + 1];
	uint64_t	 left;
	uint32_t	 literal_done;
	uint32_t	 committing;
	int		 err;		/* KURIR_E_* to report, 0: none */
	const char	*errtext;	/* BAD/NO text for parse errors */
	int		 rc;
	uint32_t	 uidvalidity;
	uint32_t	 uid;
};

int
imap_parse_datetime(const char *str, int64_t *t_r)
{
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4];
	int d, y, hh, mm, ss, zone, n = 0;
	char sign;
	struct tm tm;
	const char *m;

	if (sscanf(str, "%2d-%3s-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &hh,
	    &mm, &ss, &sign, &zone, &n) != 8 || str[n] != '\0')
		return -1;
	if ((m = strstr(mons, mon)) == NULL || (m - mons) % 3 != 0 ||
	    strlen(mon) != 3 || (sign != '+' && sign != '-') || d < 1 ||
	    d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = d;
	tm.tm_mon = (int)((m - mons) / 3);
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t_r = (int64_t)timegm(&tm) - (sign == '+' ? 1 : -1) *
	    ((zone / 100) * 3600 + (zone % 100) * 60);
	return 0;
}

void
imap_cmd_append(struct imap_sess *s, struct imap_arg *a)
{
	/* An APPEND whose message literal was not announced. */
	imap_done(s, "BAD", "APPEND needs a message literal");
}

void
imap_append_free(struct imap_sess *s)
{
	struct imap_append *ap = s->append;

	if (ap == NULL)
		return;
	s->append = NULL;
	if (ap->committing) {
		ap->s = NULL;	/* commit_done frees it */
		return;
	}
	if (ap->ap != NULL)
		imap_api->storage()->append_abort(ap->ap);
	free(ap);
}

static void
finish(struct imap_sess *s, struct imap_append *ap)
{
	s->append = NULL;
	snprintf(s->cmd.tag, sizeof(s->cmd.tag), "%s", ap->tag);
	s->in_cmd = 1;
	if (ap->errtext != NULL)
		imap_done(s, "BAD", "%s", ap->errtext);
	else if (ap->err == KURIR_E_NOTFOUND)
		imap_done(s, "NO", "[TRYCREATE] No such mailbox");
	else if (ap->err != 0)
		imap_done_storage_error(s, ap->err, "APPEND");
	else
		imap_done(s, "OK", "[APPENDUID %u %u] APPEND completed",
		    ap->uidvalidity, ap->uid);
	free(ap);
}

static void
commit_work(void *arg)
{
	struct imap_append *ap = arg;

	ap->rc = imap_api->storage()->append_commit(ap->ap, &ap->uidvalidity,
	    &ap->uid);
	ap->ap = NULL;		/* commit frees it either way */
}

static void
commit_done(void *arg)
{
	struct imap_append *ap = arg;
	struct imap_sess *s = ap->s;

	ap->committing = 0;
	if (s == NULL) {
		free(ap);
		return;
	}
	if (ap->rc != KURIR_OK)
		ap->err = ap->rc;
	finish(s, ap);
}

/* Is the command buffer (without "{n}\r\n") an APPEND up to its
 * message?  Fills mailbox, flags, keywords and date. */
static int
append_prefix(struct imap_sess *s, struct imap_append *ap, char *mbox,
    size_t mcap, uint32_t *flags, struct imap_str *kw, int64_t *date)
{
	struct imap_cmd cmd;
	struct imap_arg *a;
	const char *err;
	size_t end = s->cb.len;
	int rc = 0;

	/* cut at the "{n}" or "{n+}" (and "\r\n" when added) */
	while (end > 0 && s->cb.buf[end - 1] != '{')
		end--;
	if (end == 0)
		return 0;
	end--;
	while (end > 0 && s->cb.buf[end - 1] == ' ')
		end--;
	if (imap_parse_command(s->cb.buf, end, imap_conf.max_args, &cmd,
	    &err) != IMAP_PARSE_OK || strcmp(cmd.name, "APPEND") != 0 ||
	    s->state < IMAP_ST_AUTH || s->state > IMAP_ST_SELECTED)
		goto out;
	a = cmd.args;
	if (!imap_arg_is_string(a) || imap_arg_count(a) > 3)
		goto out;
	snprintf(ap->tag, sizeof(ap->tag), "%s", cmd.tag);
	rc = 1;
	if (memchr(a->str, '\0', a->len) != NULL ||
	    imap_mbox_from_wire(a->str, a->len, mbox, mcap) < 0) {
		ap->errtext = "Malformed mailbox name";
		goto out;
	}
	*flags = 0;
	*date = 0;
	a = a->next;
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_flags_parse(a, flags, kw) < 0) {
			ap->errtext = "Bad flag list";
			goto out;
		}
		a = a->next;
	}
	if (a != NULL) {
		if (a->type != IMAP_ARG_QUOTED ||
		    imap_parse_datetime(a->str, date) < 0) {
			ap->errtext = "Bad date-time";
			goto out;
		}
		a = a->next;
	}
	if (a != NULL)
		ap->errtext = "Unexpected arguments";
out:
	imap_cmd_free(&cmd);
	return rc;
}

int
imap_append_literal(struct imap_sess *s, uint64_t size, int sync)
{
	char mbox[IMAP_MBOX_MAX];
	struct imap_append *ap;
	struct imap_str kw;
	uint32_t flags = 0;
	int64_t date = 0;
	int rc;

	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return 0;
	imap_str_init(&kw, 4096);
	if (!append_prefix(s, ap, mbox, sizeof(mbox), &flags, &kw, &date)) {
		imap_str_free(&kw);
		free(ap);
		return 0;
	}
	imap_cmdbuf_reset(&s->cb);
	ap->s = s;
	ap->left = size;
	if (size > imap_conf.max_message) {
		imap_str_free(&kw);
		if (!sync) {
			free(ap);
			imap_bye(s, "[TOOBIG] Message too big");
			return 1;
		}
		imap_printf(s, "%s NO [TOOBIG] Message too big\r\n", ap->tag);
		free(ap);
		return 1;
	}
	if (ap->errtext == NULL) {
		rc = imap_api->storage()->append_begin(s->store, mbox, flags,
		    kw.s != NULL ? kw.s : "", date != 0 ? date :
		    (int64_t)time(NULL), &ap->ap);
		if (rc != KURIR_OK) {
			ap->ap = NULL;
			ap->err = rc;
		}
	}
	imap_str_free(&kw);
	if (sync && (ap->errtext != NULL || ap->err != 0)) {
		/* refuse before the client sends the message */
		s->append = ap;
		ap->literal_done = 1;
		finish(s, ap);
		return 1;
	}
	s->append = ap;
	if (sync)
		imap_printf(s, "+ Ready for literal data\r\n");
	if (size > 0)
		imap_api->conn_read_bytes(s->c, size);
	else
		ap->literal_done = 1;
	return 1;
}

void
imap_append_data(struct imap_sess *s, const char *buf, size_t len,
    uint64_t remaining)
{
	struct imap_append *ap = s->append;
	int rc;

	if (ap->ap != NULL && ap->err == 0) {
		rc = imap_api->storage()->append_write(ap->ap, buf, len);
		if (rc != KURIR_OK) {
			imap_api->storage()->append_abort(ap->ap);
			ap->ap = NULL;
			ap->err = rc;
		}
	}
	if (remaining == 0)
		ap->literal_done = 1;
}

void
imap_append_line(struct imap_sess *s, const char *line, size_t len)
{
	struct imap_append *ap = s->append;

	if (!ap->literal_done || ap->committing)
		return;
	if (len != 0 && ap->errtext == NULL && ap->err == 0)
		ap->errtext = "Unexpected data after the message";
	if (ap->errtext != NULL || ap->err != 0) {
		if (ap->ap != NULL) {
			imap_api->storage()->append_abort(ap->ap);
			ap->ap = NULL;
		}
		finish(s, ap);
		return;
	}
	ap->committing = 1;
	s->paused = 1;
	imap_api->conn_pause(s->c);
	if (imap_api->run_blocking(commit_work, commit_done, ap) < 0) {
		/* no worker thread: commit here */
		commit_work(ap);
		commit_done(ap);
	}
}
