/*
 * imap_mime.h -- the RFC 5322 / MIME (RFC 2045-2049) structure parser.
 * Message bytes are fed in chunks of any size; the parser keeps one
 * bounded line and the header values IMAP needs, finds part boundaries
 * (nested multiparts, message/rfc822, missing final boundaries, bare LF
 * or CR LF), and at the end renders ENVELOPE, BODY and BODYSTRUCTURE.
 * Every table it keeps is bounded by the limits given at init.
 *
 * The result is serialised into a blob for the storage cache
 * (imap_msginfo.h loads it back) so a message is parsed once.
 */
#ifndef IMAP_MIME_H
#define IMAP_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "imap_str.h"

/* Header fields kept per part. */
#define MIME_F_CTYPE		0
#define MIME_F_CTE		1
#define MIME_F_CID		2
#define MIME_F_CDESC		3
#define MIME_F_CDISP		4
#define MIME_F_CLANG		5
#define MIME_F_CLOC		6
#define MIME_F_CMD5		7
#define MIME_F_DATE		8
#define MIME_F_SUBJECT		9
#define MIME_F_FROM		10
#define MIME_F_SENDER		11
#define MIME_F_REPLYTO		12
#define MIME_F_TO		13
#define MIME_F_CC		14
#define MIME_F_BCC		15
#define MIME_F_INREPLYTO	16
#define MIME_F_MSGID		17
#define MIME_F_NUM		18

/* Part flags (also stored in the cache blob). */
#define MIME_P_MESSAGE		0x01u	/* a message: the root or embedded */
#define MIME_P_MULTIPART	0x02u	/* has child parts */
#define MIME_P_RFC822		0x04u	/* message/rfc822: child is a message */
#define MIME_P_HDRDONE		0x08u	/* saw the end of its header */

#define MIME_NONE		UINT32_MAX

struct mime_part {
	uint64_t	 hdr_off;
	uint64_t	 hdr_len;	/* header incl. the blank line */
	uint64_t	 body_off;
	uint64_t	 body_len;
	uint64_t	 body_line;	/* line index where the body starts */
	uint32_t	 lines;
	uint32_t	 flags;		/* MIME_P_* */
	uint32_t	 parent;
	uint32_t	 first_child;
	uint32_t	 last_child;
	uint32_t	 next;
	uint32_t	 depth;
	/* Header values: offset+1 into the value arena, 0 when absent. */
	uint32_t	 f_off[MIME_F_NUM];
	uint32_t	 f_len[MIME_F_NUM];
};

struct mime_boundary {
	uint32_t	 part;		/* the multipart it belongs to */
	uint32_t	 len;
	char		 b[200];
};

struct imap_mime_limits {
	uint32_t	 max_parts;	/* imap_mime_max_parts */
	uint32_t	 max_depth;	/* imap_mime_max_depth */
	uint32_t	 max_header_value;	/* per field value */
	uint32_t	 max_values;	/* all kept header values together */
};

struct imap_mime {
	struct imap_mime_limits lim;
	struct mime_part *parts;
	uint32_t	 nparts;
	uint32_t	 cur;		/* part being read */
	uint32_t	 state;		/* MIME_S_* */
	struct mime_boundary *bnd;	/* stack, innermost last */
	uint32_t	 nbnd;
	uint64_t	 off;		/* bytes consumed */
	uint64_t	 line_start;
	uint64_t	 nlines;	/* lines seen so far */
	uint32_t	 prev_eol;	/* EOL length of the previous line */
	uint32_t	 prev_content;	/* content length of the previous line */
	/* the current line, truncated to sizeof(line) */
	char		 line[8192];
	size_t		 line_len;	/* bytes kept */
	uint64_t	 line_total;	/* bytes of the line, incl. EOL so far */
	uint32_t	 line_cr;	/* last kept byte was CR */
	/* the header field being unfolded */
	char		*field;
	size_t		 field_len;
	uint32_t	 field_part;
	uint32_t	 field_trunc;
	/* header values */
	char		*vals;
	size_t		 vals_len;
	uint32_t	 failed;	/* out of memory: result is minimal */
};

int	 imap_mime_init(struct imap_mime *m, const struct imap_mime_limits *l);
void	 imap_mime_feed(struct imap_mime *m, const char *buf, size_t len);
void	 imap_mime_finish(struct imap_mime *m);
void	 imap_mime_free(struct imap_mime *m);

/* After finish: the cache blob (see imap_msginfo.h for its layout).
 * Returns 0, or -1 when it would exceed max bytes. */
int	 imap_mime_serialize(struct imap_mime *m, struct imap_str *out,
	    size_t max);

/* Rendering, also used by the serialiser and the tests. */
void	 imap_mime_envelope(struct imap_mime *m, uint32_t part,
	    struct imap_str *out);
void	 imap_mime_bodystructure(struct imap_mime *m, uint32_t part,
	    int extended, struct imap_str *out);
/* A kept header value (NULL when absent). */
const char *imap_mime_value(struct imap_mime *m, uint32_t part, int f,
	    size_t *len_r);

/* Header-field helpers shared with SEARCH and FETCH. */
struct mime_param {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};
/*
 * Split "type/subtype; a=b; c="d"" (or a disposition) into its first
 * token(s) and parameters.  Quoted values are returned without quotes
 * but with escapes kept (unescaped into `scratch`).  Returns the number
 * of parameters stored (at most max).
 */
size_t	 mime_parse_params(const char *v, size_t len, const char **tok_r,
	    size_t *tok_len_r, struct mime_param *p, size_t max,
	    char *scratch, size_t scratch_cap);

/* One header field as it stands in the message (folded, EOL kept). */
struct mime_field {
	const char	*start;		/* the whole field */
	size_t		 len;
	size_t		 name_len;	/* name at start, blanks trimmed */
	const char	*value;		/* after the colon, to the field end */
	size_t		 value_len;
};
/*
 * Step through a header block: fills f with the field at *pp and
 * advances *pp past it.  Lines without a colon are skipped.  Returns 0
 * at the blank line that ends the header or at end.
 */
int	 mime_next_field(const char **pp, const char *end,
	    struct mime_field *f);

#endif /* IMAP_MIME_H */
