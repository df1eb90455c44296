/*
 * imap_utf7.h -- mailbox names: modified UTF-7 on the wire (RFC 3501
 * 5.1.3), UTF-8 in storage.
 */
#ifndef IMAP_UTF7_H
#define IMAP_UTF7_H

#include <stddef.h>

/* Wire (modified UTF-7) to storage (UTF-8); INBOX normalised.  -1 on a
 * malformed name or when it does not fit. */
int	 imap_mbox_from_wire(const char *in, size_t len, char *out,
	    size_t cap);
/* Storage to wire. */
int	 imap_mbox_to_wire(const char *in, char *out, size_t cap);
int	 imap_utf7_decode(const char *in, size_t len, char *out, size_t cap);
int	 imap_utf7_encode(const char *in, char *out, size_t cap);

#endif /* IMAP_UTF7_H */
