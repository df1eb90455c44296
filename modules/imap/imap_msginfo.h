/*
 * imap_msginfo.h -- what IMAP keeps about one message's structure, as
 * stored in the storage cache blob: the part table (offsets for
 * BODY[section]) and the rendered BODYSTRUCTURE, BODY and ENVELOPE of the
 * whole message.  A blob read back from storage is checked before use.
 */
#ifndef IMAP_MSGINFO_H
#define IMAP_MSGINFO_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_MSGINFO_MAGIC	"KIM1"

struct imap_part_rec {
	uint64_t	 hdr_off;
	uint64_t	 hdr_len;
	uint64_t	 body_off;
	uint64_t	 body_len;
	uint32_t	 lines;
	uint32_t	 flags;		/* MIME_P_* */
	uint32_t	 parent;
	uint32_t	 first_child;
	uint32_t	 next;
	uint32_t	 pad;
};

struct imap_msginfo_hdr {
	char		 magic[4];
	uint32_t	 nparts;
	uint32_t	 bs_len;
	uint32_t	 body_len;
	uint32_t	 env_len;
	uint32_t	 pad;
};

struct imap_msginfo {
	char		*blob;		/* owned copy */
	size_t		 blob_len;
	const struct imap_part_rec *parts;	/* aligned copy in blob */
	uint32_t	 nparts;
	const char	*bodystructure;
	size_t		 bs_len;
	const char	*body;
	size_t		 body_len;
	const char	*envelope;
	size_t		 env_len;
};

/* Take ownership of blob (malloc'ed) and check it; -1 when damaged. */
int	 imap_msginfo_load(struct imap_msginfo *mi, char *blob, size_t len);
void	 imap_msginfo_free(struct imap_msginfo *mi);

/*
 * Resolve a section part path ("1.2.3" as numbers).  Returns the part
 * index or -1 when there is no such part.  For HEADER/TEXT/HEADER.FIELDS
 * of a path that ends at a message/rfc822 part, call
 * imap_msginfo_message() on the result to step into the message.
 */
int	 imap_msginfo_part(const struct imap_msginfo *mi, const uint32_t *path,
	    size_t npath);
/* The embedded message of a message/rfc822 part (or the part itself
 * when it is a message); -1 when it is neither. */
int	 imap_msginfo_message(const struct imap_msginfo *mi, int part);

#endif /* IMAP_MSGINFO_H */
