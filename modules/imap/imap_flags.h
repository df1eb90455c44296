/*
 * imap_flags.h -- parsing flag lists (APPEND, STORE).
 */
#ifndef IMAP_FLAGS_H
#define IMAP_FLAGS_H

#include <stdint.h>

#include "imap_parse.h"
#include "imap_str.h"

/* A flag list "(\Seen $Work)" or one flag: system flags into *flags_r,
 * keywords appended to kw space separated.  -1 on a bad flag. */
int	 imap_flags_parse(const struct imap_arg *a, uint32_t *flags_r,
	    struct imap_str *kw);

#endif /* IMAP_FLAGS_H */
