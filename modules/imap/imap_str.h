/*
 * imap_str.h -- a growable byte string with a hard cap, and the IMAP
 * string forms (quoted, literal, NIL) written into it.  Reaching the cap
 * sets `over` and drops further bytes; the caller checks it once.
 */
#ifndef IMAP_STR_H
#define IMAP_STR_H

#include <stddef.h>
#include <stdint.h>

struct imap_str {
	char		*s;
	size_t		 len;
	size_t		 alloc;
	size_t		 cap;
	uint32_t	 over;
};

void	 imap_str_init(struct imap_str *b, size_t cap);
void	 imap_str_free(struct imap_str *b);
void	 imap_str_add(struct imap_str *b, const void *p, size_t len);
void	 imap_str_adds(struct imap_str *b, const char *s);
void	 imap_str_addc(struct imap_str *b, char c);
void	 imap_str_printf(struct imap_str *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* An IMAP string: quoted when safe, else a literal {n}. */
void	 imap_str_astr(struct imap_str *b, const char *p, size_t len);
/* NIL for p == NULL, else imap_str_astr. */
void	 imap_str_nstr(struct imap_str *b, const char *p, size_t len);
/* Same as imap_str_astr but quoted strings are upper-cased. */
void	 imap_str_astr_upper(struct imap_str *b, const char *p, size_t len);

#endif /* IMAP_STR_H */
