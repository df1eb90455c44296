/*
 * imap_list.c -- LIST and LSUB: the reference and pattern joined, '*'
 * and '%' wildcards (matched in linear space, bounded time), CHILDREN
 * (RFC 3348) and SPECIAL-USE (RFC 6154) attributes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"

/*
 * Wildcard match by dynamic programming over the pattern: '*' matches
 * anything, '%' anything but the separator.  INBOX is compared
 * case-insensitively.  O(len(pattern) * len(name)) time, O(len(pattern))
 * space, so no pattern can make it explode.
 */
int
imap_list_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern), nl = strlen(name), i, j;
	unsigned char *cur, *next;
	int ok;
	char pbuf[IMAP_MBOX_MAX], nbuf[IMAP_MBOX_MAX];

	if (pl >= sizeof(pbuf) || nl >= sizeof(nbuf))
		return 0;
	memcpy(pbuf, pattern, pl + 1);
	memcpy(nbuf, name, nl + 1);
	if (strncasecmp(pbuf, "INBOX", 5) == 0 && (pbuf[5] == '\0' ||
	    pbuf[5] == '/'))
		memcpy(pbuf, "INBOX", 5);
	cur = calloc(pl + 1, 1);
	next = calloc(pl + 1, 1);
	if (cur == NULL || next == NULL) {
		free(cur);
		free(next);
		return 0;
	}
	/* cur[i]: pattern[0..i) matches name[0..j) */
	cur[0] = 1;
	for (i = 1; i <= pl; i++)
		cur[i] = cur[i - 1] && (pbuf[i - 1] == '*' || pbuf[i - 1] == '%');
	for (j = 1; j <= nl; j++) {
		char c = nbuf[j - 1];

		next[0] = 0;
		for (i = 1; i <= pl; i++) {
			char p = pbuf[i - 1];

			if (p == '*')
				next[i] = next[i - 1] || cur[i];
			else if (p == '%')
				next[i] = next[i - 1] || (cur[i] && c != '/');
			else
				next[i] = cur[i - 1] && p == c;
		}
		memcpy(cur, next, pl + 1);
	}
	ok = cur[pl];
	free(cur);
	free(next);
	return ok;
}

struct list_ctx {
	struct imap_sess *s;
	const char	*pattern;
	int		 lsub;
	struct imap_str	 out;
};

static void
write_attrs(struct imap_str *o, uint32_t attrs)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} map[] = {
		{ KURIR_MBX_NOSELECT, "\\Noselect" },
		{ KURIR_MBX_HASCHILDREN, "\\HasChildren" },
		{ KURIR_MBX_HASNOCHILDREN, "\\HasNoChildren" },
		{ KURIR_MBX_DRAFTS, "\\Drafts" },
		{ KURIR_MBX_SENT, "\\Sent" },
		{ KURIR_MBX_TRASH, "\\Trash" },
		{ KURIR_MBX_JUNK, "\\Junk" },
		{ KURIR_MBX_ARCHIVE, "\\Archive" },
	};
	size_t i;
	int first = 1;

	imap_str_addc(o, '(');
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!(attrs & map[i].bit))
			continue;
		if (!first)
			imap_str_addc(o, ' ');
		imap_str_adds(o, map[i].name);
		first = 0;
	}
	imap_str_addc(o, ')');
}

static int
list_cb(void *arg, const char *name, uint32_t attrs)
{
	struct list_ctx *lc = arg;
	char wire[IMAP_MBOX_MAX * 3];

	if (lc->lsub && !(attrs & KURIR_MBX_SUBSCRIBED))
		return 0;
	if (!imap_list_match(lc->pattern, name))
		return 0;
	if (imap_mbox_to_wire(name, wire, sizeof(wire)) < 0)
		return 0;
	lc->out.len = 0;
	lc->out.over = 0;
	imap_str_adds(&lc->out, lc->lsub ? "* LSUB " : "* LIST ");
	if (lc->lsub)
		attrs &= KURIR_MBX_NOSELECT;
	write_attrs(&lc->out, attrs);
	imap_str_adds(&lc->out, " \"/\" ");
	imap_str_astr(&lc->out, wire, strlen(wire));
	imap_str_adds(&lc->out, "\r\n");
	if (!lc->out.over)
		imap_write(lc->s, lc->out.s, lc->out.len);
	return 0;
}

static void
list_common(struct imap_sess *s, struct imap_arg *a, int lsub)
{
	char ref[IMAP_MBOX_MAX], pat[IMAP_MBOX_MAX], full[IMAP_MBOX_MAX * 2];
	struct list_ctx lc;
	int rc;

	if (!imap_arg_is_string(a) || !imap_arg_is_string(a->next) ||
	    a->next->next != NULL) {
		imap_done(s, "BAD", "%s needs a reference and a pattern",
		    lsub ? "LSUB" : "LIST");
		return;
	}
	if (imap_utf7_decode(a->str, a->len, ref, sizeof(ref)) < 0 ||
	    imap_utf7_decode(a->next->str, a->next->len, pat, sizeof(pat))
	    < 0) {
		imap_done(s, "BAD", "Malformed mailbox name");
		return;
	}
	if (!lsub && pat[0] == '\0') {
		/* the hierarchy delimiter and root of the reference */
		imap_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_done(s, "OK", "LIST completed");
		return;
	}
	if (pat[0] == '/' || ref[0] == '\0')
		snprintf(full, sizeof(full), "%s", pat);
	else if (ref[strlen(ref) - 1] == '/')
		snprintf(full, sizeof(full), "%s%s", ref, pat);
	else
		snprintf(full, sizeof(full), "%s/%s", ref, pat);
	memset(&lc, 0, sizeof(lc));
	lc.s = s;
	lc.pattern = full;
	lc.lsub = lsub;
	imap_str_init(&lc.out, 8192);
	rc = imap_api->storage()->mailbox_list(s->store, list_cb, &lc);
	imap_str_free(&lc.out);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, lsub ? "LSUB" : "LIST");
		return;
	}
	imap_done(s, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

void
imap_cmd_list(struct imap_sess *s, struct imap_arg *a)
{
	list_common(s, a, 0);
}

void
imap_cmd_lsub(struct imap_sess *s, struct imap_arg *a)
{
	list_common(s, a, 1);
}
