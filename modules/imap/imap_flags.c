/*
 * imap_flags.c -- flag lists of APPEND and STORE: system flags to
 * KURIR_FLAG_* bits, keywords (atoms) collected space separated.
 */
#include <string.h>
#include <strings.h>

#include "imap.h"
#include "imap_flags.h"

static const struct {
	const char	*name;
	uint32_t	 bit;
} sysflags[] = {
	{ "\\Seen", KURIR_FLAG_SEEN },
	{ "\\Answered", KURIR_FLAG_ANSWERED },
	{ "\\Flagged", KURIR_FLAG_FLAGGED },
	{ "\\Deleted", KURIR_FLAG_DELETED },
	{ "\\Draft", KURIR_FLAG_DRAFT },
};

static int
one_flag(const struct imap_arg *a, uint32_t *flags, struct imap_str *kw)
{
	size_t i;

	if (a->type != IMAP_ARG_ATOM)
		return -1;
	if (a->str[0] == '\\') {
		for (i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]); i++)
			if (strcasecmp(a->str, sysflags[i].name) == 0) {
				*flags |= sysflags[i].bit;
				return 0;
			}
		return -1;	/* \Recent and unknown system flags */
	}
	for (i = 0; i < a->len; i++)
		if (!imap_is_atom_char((unsigned char)a->str[i]))
			return -1;
	if (kw->len > 0)
		imap_str_addc(kw, ' ');
	imap_str_add(kw, a->str, a->len);
	return kw->over ? -1 : 0;
}

int
imap_flags_parse(const struct imap_arg *a, uint32_t *flags_r,
    struct imap_str *kw)
{
	const struct imap_arg *c;

	*flags_r = 0;
	if (a == NULL)
		return -1;
	if (a->type != IMAP_ARG_LIST)
		return one_flag(a, flags_r, kw);
	for (c = a->child; c != NULL; c = c->next)
		if (one_flag(c, flags_r, kw) < 0)
			return -1;
	return 0;
}
