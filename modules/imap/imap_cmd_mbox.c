/*
 * imap_cmd_mbox.c -- mailbox commands of the authenticated state:
 * SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and
 * STATUS.  Names arrive in modified UTF-7 and reach storage as UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"

#define MAX_FLAG_KEYWORDS	256

int
imap_arg_mailbox(struct imap_sess *s, const struct imap_arg *a, char *out,
    size_t cap)
{
	if (!imap_arg_is_string(a)) {
		imap_done(s, "BAD", "Missing mailbox name");
		return -1;
	}
	if (memchr(a->str, '\0', a->len) != NULL ||
	    imap_mbox_from_wire(a->str, a->len, out, cap) < 0) {
		imap_done(s, "BAD", "Malformed mailbox name");
		return -1;
	}
	return 0;
}


/* FLAGS: the system flags and every keyword in use, each once. */
static void
write_flags(struct imap_sess *s, struct imap_view *v)
{
	struct imap_str out, seen;
	uint32_t i, nk = 0;

	imap_str_init(&out, 65536);
	imap_str_init(&seen, 65536);
	imap_str_adds(&out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft");
	imap_str_addc(&seen, ' ');
	for (i = 0; i < v->nkws && nk < MAX_FLAG_KEYWORDS; i++) {
		const char *p = v->kws[i];

		while (*p != '\0' && nk < MAX_FLAG_KEYWORDS) {
			const char *e = strchr(p, ' ');
			size_t n = e == NULL ? strlen(p) : (size_t)(e - p);
			char word[256];

			if (n > 0 && n < sizeof(word) - 2) {
				snprintf(word, sizeof(word), " %.*s ", (int)n,
				    p);
				if (seen.s == NULL || strstr(seen.s, word) ==
				    NULL) {
					imap_str_add(&seen, word + 1, n + 1);
					imap_str_addc(&out, ' ');
					imap_str_add(&out, p, n);
					nk++;
				}
			}
			p += n;
			while (*p == ' ')
				p++;
		}
	}
	imap_str_adds(&out, ")\r\n");
	if (!out.over)
		imap_write(s, out.s, out.len);
	imap_str_free(&out);
	imap_str_free(&seen);
}

static void
select_common(struct imap_sess *s, struct imap_arg *a, int readonly)
{
	char name[IMAP_MBOX_MAX];
	struct imap_view *v;
	uint32_t i, unseen = 0;
	int rc;

	if (s->view != NULL) {
		imap_view_close(s);
		s->state = IMAP_ST_AUTH;
	}
	if (imap_arg_mailbox(s, a, name, sizeof(name)) < 0)
		return;
	if (a->next != NULL) {
		imap_done(s, "BAD", "Unexpected arguments");
		return;
	}
	rc = imap_view_open(s, name, readonly, &v);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, "SELECT");
		return;
	}
	write_flags(s, v);
	imap_printf(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft \\*)] Flags permitted\r\n");
	imap_printf(s, "* %u EXISTS\r\n* %u RECENT\r\n", v->count,
	    v->recent);
	for (i = 0; i < v->count; i++)
		if (!(v->msgs[i].flags & KURIR_FLAG_SEEN)) {
			unseen = i + 1;
			break;
		}
	if (unseen != 0)
		imap_printf(s, "* OK [UNSEEN %u] First unseen\r\n", unseen);
	imap_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n", v->uidvalidity,
	    v->uidnext);
	s->view = v;
	s->state = IMAP_ST_SELECTED;
	if (readonly)
		imap_done(s, "OK", "[READ-ONLY] EXAMINE completed");
	else
		imap_done(s, "OK", "[READ-WRITE] SELECT completed");
}

void
imap_cmd_select(struct imap_sess *s, struct imap_arg *a)
{
	select_common(s, a, 0);
}

void
imap_cmd_examine(struct imap_sess *s, struct imap_arg *a)
{
	select_common(s, a, 1);
}

void
imap_cmd_create(struct imap_sess *s, struct imap_arg *a)
{
	char name[IMAP_MBOX_MAX];
	size_t len;
	int rc;

	if (imap_arg_mailbox(s, a, name, sizeof(name)) < 0)
		return;
	len = strlen(name);
	while (len > 0 && name[len - 1] == '/')
		name[--len] = '\0';	/* "foo/" asks for a parent */
	if (len == 0 || strpbrk(name, "*%") != NULL || name[0] == '/' ||
	    strstr(name, "//") != NULL) {
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		imap_done(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	rc = imap_api->storage()->mailbox_create(s->store, name, 0);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, "CREATE");
		return;
	}
	imap_done(s, "OK", "CREATE completed");
}

void
imap_cmd_delete(struct imap_sess *s, struct imap_arg *a)
{
	char name[IMAP_MBOX_MAX];
	int rc;

	if (imap_arg_mailbox(s, a, name, sizeof(name)) < 0)
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_done(s, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	if (s->view != NULL && strcmp(s->view->name, name) == 0) {
		imap_view_close(s);
		s->state = IMAP_ST_AUTH;
	}
	rc = imap_api->storage()->mailbox_delete(s->store, name);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, "DELETE");
		return;
	}
	imap_done(s, "OK", "DELETE completed");
}

void
imap_cmd_rename(struct imap_sess *s, struct imap_arg *a)
{
	char from[IMAP_MBOX_MAX], to[IMAP_MBOX_MAX];
	int rc;

	if (imap_arg_mailbox(s, a, from, sizeof(from)) < 0)
		return;
	if (imap_arg_mailbox(s, a->next, to, sizeof(to)) < 0)
		return;
	if (strcmp(to, "INBOX") == 0) {
		imap_done(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (strpbrk(to, "*%") != NULL || to[0] == '/' || to[0] == '\0') {
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
		return;
	}
	rc = imap_api->storage()->mailbox_rename(s->store, from, to);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, "RENAME");
		return;
	}
	imap_done(s, "OK", "RENAME completed");
}

static void
subscribe(struct imap_sess *s, struct imap_arg *a, int on)
{
	char name[IMAP_MBOX_MAX];
	int rc;

	if (imap_arg_mailbox(s, a, name, sizeof(name)) < 0)
		return;
	rc = imap_api->storage()->mailbox_subscribe(s->store, name,
	    (uint32_t)on);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, on ? "SUBSCRIBE" :
		    "UNSUBSCRIBE");
		return;
	}
	imap_done(s, "OK", "%s completed", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

void
imap_cmd_subscribe(struct imap_sess *s, struct imap_arg *a)
{
	subscribe(s, a, 1);
}

void
imap_cmd_unsubscribe(struct imap_sess *s, struct imap_arg *a)
{
	subscribe(s, a, 0);
}

void
imap_cmd_status(struct imap_sess *s, struct imap_arg *a)
{
	struct kurir_mailbox_status ms;
	char name[IMAP_MBOX_MAX], wire[IMAP_MBOX_MAX * 3];
	struct imap_str out;
	struct imap_arg *it;
	uint32_t recent = 0;
	int rc, first = 1, want_recent = 0;

	if (imap_arg_mailbox(s, a, name, sizeof(name)) < 0)
		return;
	if (a->next == NULL || a->next->type != IMAP_ARG_LIST ||
	    a->next->child == NULL) {
		imap_done(s, "BAD", "STATUS needs a list of items");
		return;
	}
	for (it = a->next->child; it != NULL; it = it->next)
		if (!imap_arg_atom_eq(it, "MESSAGES") &&
		    !imap_arg_atom_eq(it, "RECENT") &&
		    !imap_arg_atom_eq(it, "UIDNEXT") &&
		    !imap_arg_atom_eq(it, "UIDVALIDITY") &&
		    !imap_arg_atom_eq(it, "UNSEEN") &&
		    !imap_arg_atom_eq(it, "SIZE")) {
			imap_done(s, "BAD", "Unknown STATUS item");
			return;
		} else if (imap_arg_atom_eq(it, "RECENT"))
			want_recent = 1;
	memset(&ms, 0, sizeof(ms));
	rc = imap_api->storage()->mailbox_status(s->store, name, &ms);
	if (rc == KURIR_OK && want_recent)
		rc = imap_view_recent_count(s, name, &recent);
	if (rc != KURIR_OK) {
		imap_done_storage_error(s, rc, "STATUS");
		return;
	}
	if (imap_mbox_to_wire(name, wire, sizeof(wire)) < 0)
		snprintf(wire, sizeof(wire), "%s", name);
	imap_str_init(&out, 8192);
	imap_str_adds(&out, "* STATUS ");
	imap_str_astr(&out, wire, strlen(wire));
	imap_str_adds(&out, " (");
	for (it = a->next->child; it != NULL; it = it->next) {
		unsigned long long v = 0;

		if (imap_arg_atom_eq(it, "MESSAGES"))
			v = ms.messages;
		else if (imap_arg_atom_eq(it, "UIDNEXT"))
			v = ms.uidnext;
		else if (imap_arg_atom_eq(it, "UIDVALIDITY"))
			v = ms.uidvalidity;
		else if (imap_arg_atom_eq(it, "UNSEEN"))
			v = ms.unseen;
		else if (imap_arg_atom_eq(it, "SIZE"))
			v = ms.bytes;
		else if (imap_arg_atom_eq(it, "RECENT"))
			v = recent;
		imap_str_printf(&out, "%s%s %llu", first ? "" : " ", it->str,
		    v);
		first = 0;
	}
	imap_str_adds(&out, ")\r\n");
	imap_write(s, out.s, out.len);
	imap_str_free(&out);
	imap_done(s, "OK", "STATUS completed");
}
