/*
 * imap_fetch.h -- FETCH items (RFC 3501 6.4.5) as parsed from the
 * command, shared by the item parser and the streaming FETCH job.
 */
#ifndef IMAP_FETCH_H
#define IMAP_FETCH_H

#include <stdint.h>

#include "imap.h"

#define FI_FLAGS		1
#define FI_UID			2
#define FI_INTERNALDATE		3
#define FI_SIZE			4
#define FI_ENVELOPE		5
#define FI_BODY			6	/* BODY (structure, no extensions) */
#define FI_BODYSTRUCTURE	7
#define FI_SECTION		8	/* BODY[...] and BODY.PEEK[...] */
#define FI_RFC822		9
#define FI_RFC822_HEADER	10
#define FI_RFC822_TEXT		11

#define SP_NONE			0
#define SP_HEADER		1
#define SP_FIELDS		2
#define SP_FIELDS_NOT		3
#define SP_TEXT			4
#define SP_MIME			5

#define FETCH_MAX_ITEMS		64
#define FETCH_MAX_PATH		16
#define FETCH_MAX_FIELDS	64

struct fetch_item {
	uint32_t	 kind;		/* FI_* */
	uint32_t	 peek;
	uint32_t	 path[FETCH_MAX_PATH];
	uint32_t	 npath;
	uint32_t	 spec;		/* SP_* */
	struct imap_arg	*fields;	/* HEADER.FIELDS names, linked */
	char		*fieldbuf;
	uint32_t	 partial;
	uint64_t	 p_off;
	uint64_t	 p_len;
	char		 label[256];	/* e.g. "BODY[1.TEXT]<0>" */
};

/* Parse the item argument (atom, macro or list) into items; returns the
 * count or -1 with *err_r set. */
int	 imap_fetch_parse_items(const struct imap_arg *a,
	    struct fetch_item *items, size_t max, const char **err_r);
void	 imap_fetch_items_free(struct fetch_item *items, size_t n);

#endif /* IMAP_FETCH_H */
