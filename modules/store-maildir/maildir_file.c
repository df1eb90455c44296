/*
 * maildir_file.c -- message file names: the ":2,FLAGS" info suffix, the
 * ",S=size" field and unique names (cr.yp.to/proto/maildir.html).
 *
 * Flags are letters in ASCII order: D draft, F flagged, P passed, R
 * replied (\Answered), S seen, T trashed (\Deleted), then keyword letters
 * a..z (dovecot-keywords maps them to names).  Letters kurir has no flag
 * for (P, and any other upper-case letter) are kept across renames.
 */
#include "autoconf.h"

#include <sys/time.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

static const struct {
	char		 c;
	uint32_t	 flag;
} md_letters[] = {
	{ 'D', KURIR_FLAG_DRAFT },
	{ 'F', KURIR_FLAG_FLAGGED },
	{ 'R', KURIR_FLAG_ANSWERED },
	{ 'S', KURIR_FLAG_SEEN },
	{ 'T', KURIR_FLAG_DELETED },
};

static const char *
info_of(const char *name)
{
	const char	*p = strrchr(name, ':');

	if (p == NULL || p[1] != '2' || p[2] != ',')
		return NULL;
	return p + 3;
}

/* The base name: everything before the ':' info separator. */
size_t
md_base_len(const char *name)
{
	const char	*p = strchr(name, ':');

	return p == NULL ? strlen(name) : (size_t)(p - name);
}

int
md_info_parse(const char *name, uint32_t *flags_r, uint32_t *kwbits_r)
{
	const char	*p;
	size_t		 i;

	*flags_r = 0;
	*kwbits_r = 0;
	if ((p = info_of(name)) == NULL)
		return 0;
	for (; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z') {
			*kwbits_r |= 1u << (*p - 'a');
			continue;
		}
		for (i = 0; i < sizeof(md_letters) / sizeof(md_letters[0]);
		    i++)
			if (md_letters[i].c == *p)
				*flags_r |= md_letters[i].flag;
	}
	return 0;
}

/* base + ":2," + the sorted letters; keep is an old name whose unknown
 * upper-case letters are carried over (or NULL). */
int
md_info_render(const char *base, size_t baselen, uint32_t flags,
    uint32_t kwbits, const char *keep, char *out, size_t cap)
{
	char		 set[128];
	const char	*p;
	size_t		 i, o;

	memset(set, 0, sizeof(set));
	for (i = 0; i < sizeof(md_letters) / sizeof(md_letters[0]); i++)
		if (flags & md_letters[i].flag)
			set[(unsigned char)md_letters[i].c] = 1;
	for (i = 0; i < MD_NKEYWORDS; i++)
		if (kwbits & (1u << i))
			set['a' + i] = 1;
	if (keep != NULL && (p = info_of(keep)) != NULL) {
		for (; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z' &&
			    strchr("DFRST", *p) == NULL)
				set[(unsigned char)*p] = 1;
		}
	}
	if (baselen + 4 > cap)
		return -1;
	memcpy(out, base, baselen);
	memcpy(out + baselen, ":2,", 3);
	o = baselen + 3;
	for (i = 0; i < sizeof(set); i++) {
		if (!set[i])
			continue;
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)i;
	}
	out[o] = '\0';
	return 0;
}

/* The ",S=size" field of the base name, as Dovecot and Courier write it. */
int
md_size_from_name(const char *name, uint64_t *size_r)
{
	const char	*p, *end = name + md_base_len(name);
	char		*e;
	unsigned long long v;

	for (p = name; (p = strstr(p, ",S=")) != NULL && p < end; p += 3) {
		if (!isdigit((unsigned char)p[3]))
			continue;
		v = strtoull(p + 3, &e, 10);
		if (e <= end && (*e == ',' || *e == ':' || *e == '\0')) {
			*size_r = v;
			return 0;
		}
	}
	return -1;
}

/* "SEC.MusecPpidQn.host": unique per the Maildir spec; '/' and ':' in
 * the host name are written as \057 and \072, and ',' as \054. */
int
md_unique_name(char *out, size_t cap)
{
	static uint32_t	 counter;
	struct timeval	 tv;
	char		 host[256], safe[1024];
	size_t		 i, o = 0;
	uint32_t	 q;

	if (gethostname(host, sizeof(host)) == -1)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && o + 5 < sizeof(safe); i++) {
		if (host[i] == '/' || host[i] == ':' || host[i] == ',') {
			o += (size_t)snprintf(safe + o, sizeof(safe) - o,
			    "\\%03o", (unsigned char)host[i]);
		} else
			safe[o++] = host[i];
	}
	safe[o] = '\0';
	gettimeofday(&tv, NULL);
	q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	if ((size_t)snprintf(out, cap, "%lld.M%06ldP%ldQ%u.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), q,
	    safe) >= cap)
		return -1;
	return 0;
}
