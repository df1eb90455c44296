/*
 * passwd.h -- internals of the passwd-file auth module.
 *
 * passwd file, one user per line ('#' comments and blank lines ignored):
 *
 *	user@domain:{SCHEME}hash[:attr attr ...]
 *
 * SCHEME is YESCRYPT ($y$...), SHA512-CRYPT ($6$...), BLF-CRYPT
 * ($2b$/$2y$/$2a$...), all verified with crypt_rn(3) from libxcrypt, or
 * SCRAM-SHA-256 (ITER,SALT,STOREDKEY,SERVERKEY in base64, no plaintext
 * needed).  An empty hash, "!" or "*" means no password login at all.
 * Attributes, space separated:
 *	quota_bytes=N quota_messages=N location=PATH disabled
 *	scram=ITER,SALT,STOREDKEY,SERVERKEY	(keys for SCRAM-SHA-256 next
 *						 to a crypt hash)
 *
 * aliases file, one alias per line:
 *
 *	alias@domain: target@domain, target2@otherdomain
 *	@domain: catchall@domain
 */
#ifndef KURIR_PASSWD_H
#define KURIR_PASSWD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kurir/auth.h>

#define PW_LINE_MAX		8192
#define PW_HASH_MAX		512

#define PW_SCHEME_NONE		0	/* no password login */
#define PW_SCHEME_YESCRYPT	1
#define PW_SCHEME_SHA512	2
#define PW_SCHEME_BLF		3
#define PW_SCHEME_SCRAM		4

struct pw_user {
	char			*address;	/* lower-cased */
	int			 scheme;
	char			*hash;		/* crypt string, or NULL */
	int			 has_scram;
	struct kurir_scram_keys	 scram;
	uint64_t		 quota_bytes;
	uint64_t		 quota_messages;
	unsigned		 quota_set;	/* PW_QUOTA_*: given in the file */
	char			*location;	/* NULL: none */
	int			 disabled;
	unsigned		 line;
	int			 dup;		/* a later duplicate: ignored */
};

#define PW_QUOTA_BYTES		0x1u
#define PW_QUOTA_MESSAGES	0x2u

struct pw_alias {
	char			*alias;		/* "a@d" or "@d", lower-cased */
	char			**targets;
	size_t			 ntargets;
	char			*joined;	/* "t1, t2" */
	unsigned		 line;
	int			 dup;
};

struct pw_db {
	struct pw_user		*users;		/* file order */
	size_t			 nusers;
	struct pw_user		**by_addr;	/* sorted for bsearch */
	size_t			 nindexed;
	struct pw_alias		*aliases;
	size_t			 naliases;
	struct pw_alias		**by_alias;
	size_t			 naindexed;
};

/* Reports a malformed line; the parser skips it and goes on. */
typedef void pw_err_fn(void *arg, const char *file, unsigned line,
    const char *msg);

/* passwd_db.c */
struct pw_db	*pw_db_new(void);
void		 pw_db_free(struct pw_db *db);
/* Parse a passwd or aliases stream into db; returns the number of lines
 * skipped as malformed. */
unsigned	 pw_db_read_users(struct pw_db *db, FILE *fp, const char *file,
		    pw_err_fn *err, void *arg);
unsigned	 pw_db_read_aliases(struct pw_db *db, FILE *fp,
		    const char *file, pw_err_fn *err, void *arg);
/* Sort the indexes after reading; reports (and hides) duplicates, and
 * returns how many there were. */
unsigned	 pw_db_index(struct pw_db *db, const char *ufile,
		    const char *afile, pw_err_fn *err, void *arg);
const struct pw_user *pw_db_user(const struct pw_db *db, const char *addr);
const struct pw_alias *pw_db_alias(const struct pw_db *db, const char *a);
/* One passwd line: 0, or -1 with *why_r set. */
int		 pw_parse_user_line(char *line, struct pw_user *u,
		    const char **why_r);
void		 pw_user_clear(struct pw_user *u);
int		 pw_parse_alias_line(char *line, struct pw_alias *a,
		    const char **why_r);
void		 pw_alias_clear(struct pw_alias *a);
/* Attributes ("quota_bytes=1G disabled"): 0, or -1 with *why_r. */
int		 pw_parse_attrs(char *attrs, struct pw_user *u,
		    const char **why_r);
/* A valid address (local@domain or, with catchall, @domain)? */
int		 pw_valid_address(const char *s, int catchall);
void		 pw_lower(char *s);

/* passwd_hash.c */
int		 pw_scheme_id(const char *name);	/* -1 if unknown */
const char	*pw_scheme_name(int id);
/* Check a "{SCHEME}rest" field; fills u->scheme, u->hash, u->scram. */
int		 pw_parse_hash(const char *field, struct pw_user *u,
		    const char **why_r);
int		 pw_parse_scram(const char *s, struct kurir_scram_keys *k);
int		 pw_format_scram(const struct kurir_scram_keys *k, char *out,
		    size_t outlen);
int		 pw_scram_derive(const char *pw, size_t len,
		    const uint8_t *salt, size_t saltlen, uint32_t iter,
		    struct kurir_scram_keys *k);
/* "{SCHEME}hash" for a new password; cost 0 = libxcrypt's default. */
int		 pw_hash_make(int scheme, const char *pw, size_t len,
		    unsigned long cost, uint32_t scram_iter, char *out,
		    size_t outlen);
/* KURIR_OK or KURIR_E_AUTH, constant-time compare.  u NULL: burn the
 * same work on a dummy hash of the default scheme and fail. */
int		 pw_verify(const struct pw_user *u, const char *pw,
		    size_t len);
/* The dummy hash used for unknown users (once per process). */
void		 pw_set_dummy_scheme(int scheme, unsigned long cost);
int		 pw_b64_encode(const void *in, size_t len, char *out,
		    size_t cap);
int		 pw_b64_decode(const char *in, size_t len, void *out,
		    size_t cap);

/* passwd_write.c: rewrite file atomically under file.lock.  edit() is
 * called for each line (without newline) and returns the replacement
 * ("" to drop it) or NULL to keep it; at the end it is called once with
 * line NULL to append (NULL: nothing).  Returning pw_edit_abort at any
 * point leaves the file alone and makes pw_file_edit return 1.  Returns
 * KURIR_OK, 1, or a negative KURIR_E_* with a message in err. */
extern const char pw_edit_abort[];
typedef const char *pw_edit_fn(void *arg, const char *line, char *buf,
    size_t buflen);
int		 pw_file_edit(const char *path, pw_edit_fn *edit, void *arg,
		    char *err, size_t errlen);

#endif
