/*
 * imap_cmd.c -- the command table: which commands exist, in which states
 * they are allowed, and the UID prefix.
 */
#include <string.h>

#include "imap.h"

#define S_ANY		0x0fu
#define S_NOAUTH	(1u << IMAP_ST_NOAUTH)
#define S_AUTH		((1u << IMAP_ST_AUTH) | (1u << IMAP_ST_SELECTED))
#define S_SEL		(1u << IMAP_ST_SELECTED)

struct imap_cmd_def {
	const char	*name;
	uint32_t	 states;
	uint32_t	 uid_ok;	/* may follow UID */
	void		(*fn)(struct imap_sess *, struct imap_arg *);
};

static const struct imap_cmd_def cmds[] = {
	{ "CAPABILITY",	S_ANY,		0, imap_cmd_capability },
	{ "NOOP",	S_ANY,		0, imap_cmd_noop },
	{ "LOGOUT",	S_ANY,		0, imap_cmd_logout },
	{ "ID",		S_ANY,		0, imap_cmd_id },
	{ "STARTTLS",	S_NOAUTH,	0, imap_cmd_starttls },
	{ "LOGIN",	S_NOAUTH,	0, imap_cmd_login },
	{ "AUTHENTICATE", S_NOAUTH,	0, imap_cmd_authenticate },
	{ "ENABLE",	S_AUTH,		0, imap_cmd_enable },
	{ "NAMESPACE",	S_AUTH,		0, imap_cmd_namespace },
	{ "SELECT",	S_AUTH,		0, imap_cmd_select },
	{ "EXAMINE",	S_AUTH,		0, imap_cmd_examine },
	{ "CREATE",	S_AUTH,		0, imap_cmd_create },
	{ "DELETE",	S_AUTH,		0, imap_cmd_delete },
	{ "RENAME",	S_AUTH,		0, imap_cmd_rename },
	{ "SUBSCRIBE",	S_AUTH,		0, imap_cmd_subscribe },
	{ "UNSUBSCRIBE", S_AUTH,	0, imap_cmd_unsubscribe },
	{ "LIST",	S_AUTH,		0, imap_cmd_list },
	{ "LSUB",	S_AUTH,		0, imap_cmd_lsub },
	{ "STATUS",	S_AUTH,		0, imap_cmd_status },
	{ "APPEND",	S_AUTH,		0, imap_cmd_append },
	{ "IDLE",	S_AUTH,		0, imap_cmd_idle },
	{ "CHECK",	S_SEL,		0, imap_cmd_check },
	{ "CLOSE",	S_SEL,		0, imap_cmd_close },
	{ "UNSELECT",	S_SEL,		0, imap_cmd_unselect },
	{ "EXPUNGE",	S_SEL,		1, imap_cmd_expunge },
	{ "SEARCH",	S_SEL,		1, imap_cmd_search },
	{ "FETCH",	S_SEL,		1, imap_cmd_fetch },
	{ "STORE",	S_SEL,		1, imap_cmd_store },
	{ "COPY",	S_SEL,		1, imap_cmd_copy },
	{ "MOVE",	S_SEL,		1, imap_cmd_move },
	{ NULL, 0, 0, NULL }
};

static const struct imap_cmd_def *
cmd_find(const char *name)
{
	const struct imap_cmd_def *d;

	for (d = cmds; d->name != NULL; d++)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}

void
imap_dispatch(struct imap_sess *s)
{
	const struct imap_cmd_def *d;
	struct imap_arg *args = s->cmd.args;

	if (strcmp(s->cmd.name, "UID") == 0) {
		if (args == NULL || args->type != IMAP_ARG_ATOM ||
		    (d = cmd_find(args->str)) == NULL || !d->uid_ok) {
			s->bad_count++;
			imap_done(s, "BAD", "Unknown UID command");
			return;
		}
		s->uid = 1;
		args = args->next;
	} else if ((d = cmd_find(s->cmd.name)) == NULL) {
		s->bad_count++;
		if (imap_conf.max_bad > 0 && s->bad_count >= imap_conf.max_bad) {
			imap_done(s, "BAD", "Unknown command");
			imap_bye(s, "Too many invalid commands");
			return;
		}
		imap_done(s, "BAD", "Unknown command");
		return;
	}
	if (!(d->states & (1u << s->state))) {
		s->bad_count++;
		if (s->state == IMAP_ST_NOAUTH)
			imap_done(s, "BAD", "Log in first");
		else if (d->states == S_NOAUTH)
			imap_done(s, "BAD", "Already logged in");
		else
			imap_done(s, "BAD", "No mailbox selected");
		return;
	}
	s->bad_count = 0;
	d->fn(s, args);
}
