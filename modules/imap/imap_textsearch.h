/*
 * imap_textsearch.h -- text the way SEARCH compares it (RFC 3501 6.4.4):
 * header values with their RFC 2047 encoded words decoded, bodies with
 * their transfer encoding (RFC 2045 6) undone and their charset turned
 * into UTF-8, and both sides case-folded, so that a search for "müller"
 * finds "=?ISO-8859-1?Q?M=FCller?=" and a quoted-printable "M=C3=BCLLER".
 */
#ifndef IMAP_TEXTSEARCH_H
#define IMAP_TEXTSEARCH_H

#include <stddef.h>

#include "imap_str.h"

/* Fold UTF-8 text for caseless comparison, in place: ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic letters.  Lengths do not change. */
void	 imap_text_fold(char *s, size_t len);

/* A header field value unfolded, with its encoded words decoded to
 * UTF-8 (blanks between two encoded words dropped, RFC 2047 6.2). */
void	 imap_text_hdr_decode(const char *v, size_t len, struct imap_str *out);

/*
 * A streaming substring match over decoded text.  The needle is folded
 * by new().  For each body part: part() with its Content-Transfer-Encoding
 * and charset values (either may be NULL), feed() its raw bytes in chunks
 * of any size, end().  feed() and end() return 1 once the needle was seen;
 * a match never spans two parts.
 */
struct imap_textscan;

struct imap_textscan *imap_textscan_new(const char *needle, size_t len);
void	 imap_textscan_part(struct imap_textscan *ts, const char *cte,
	    size_t cte_len, const char *charset, size_t charset_len);
int	 imap_textscan_feed(struct imap_textscan *ts, const char *p,
	    size_t len);
int	 imap_textscan_end(struct imap_textscan *ts);
void	 imap_textscan_free(struct imap_textscan *ts);

#endif /* IMAP_TEXTSEARCH_H */
