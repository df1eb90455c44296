/*
 * maildir_keywords.c -- keyword names <-> the letters a..z of file names.
 *
 * The table is Dovecot's dovecot-keywords ("0 $Forwarded" = letter a), so
 * Dovecot reading the same Maildir sees the same keywords.  Only 26 fit
 * in a file name (maildir_max_keywords may lower that); one more is
 * refused with KURIR_E_TOOBIG.  Keywords compare case-insensitively
 * (RFC 3501 flags) and keep the spelling they were first given.  Callers
 * hold the folder lock while the table may change.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maildir.h"

int
md_kw_read(const char *dir, struct md_index *ix)
{
	char		 path[4096], line[512];
	unsigned long	 n;
	size_t		 i, len;
	int		 off;
	FILE		*fp;

	for (i = 0; i < ix->nkw; i++) {
		free(ix->kw[i]);
		ix->kw[i] = NULL;
	}
	ix->nkw = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, MD_KEYWORDS);
	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? KURIR_OK : md_errno(errno);
	while (fgets(line, sizeof(line), fp) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		off = 0;
		if (sscanf(line, "%lu %n", &n, &off) != 1 || off == 0 ||
		    n >= MD_NKEYWORDS || line[off] == '\0' ||
		    ix->kw[n] != NULL)
			continue;
		if ((ix->kw[n] = strdup(line + off)) == NULL)
			break;
		if (n + 1 > ix->nkw)
			ix->nkw = n + 1;
	}
	fclose(fp);
	return KURIR_OK;
}

static int
kw_valid(const char *w, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 100 || w[0] == '\\')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)w[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return 0;
	}
	return 1;
}

static int
kw_write(const char *dir, const struct md_index *ix)
{
	char	 buf[MD_NKEYWORDS * 120];
	size_t	 i, o = 0;

	for (i = 0; i < ix->nkw; i++)
		if (ix->kw[i] != NULL)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "%zu %s\n", i, ix->kw[i]);
	if (md_write_file(dir, MD_KEYWORDS, buf, o, 1) == -1)
		return md_errno(errno);
	return KURIR_OK;
}

/* Letters for the space separated words; with create, unknown words get
 * free letters and the table is written. */
int
md_kw_map(const char *dir, struct md_index *ix, const char *words,
    int create, uint32_t *bits_r)
{
	const char	*p, *e;
	size_t		 len, i, slot;
	int		 dirty = 0, rc;

	*bits_r = 0;
	if (words == NULL)
		return KURIR_OK;
	for (p = words; *p != '\0'; p = e) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		len = (size_t)(e - p);
		if (!kw_valid(p, len))
			return KURIR_E_INVALID;
		slot = MD_NKEYWORDS;
		for (i = 0; i < ix->nkw; i++)
			if (ix->kw[i] != NULL && strlen(ix->kw[i]) == len &&
			    strncasecmp(ix->kw[i], p, len) == 0)
				slot = i;
		if (slot == MD_NKEYWORDS && create) {
			for (i = 0; i < (size_t)md_conf.max_keywords &&
			    i < MD_NKEYWORDS; i++)
				if (ix->kw[i] == NULL)
					break;
			if (i >= (size_t)md_conf.max_keywords ||
			    i >= MD_NKEYWORDS)
				return KURIR_E_TOOBIG;
			if ((ix->kw[i] = strndup(p, len)) == NULL)
				return KURIR_E_NOMEM;
			if (i + 1 > ix->nkw)
				ix->nkw = i + 1;
			slot = i;
			dirty = 1;
		}
		if (slot < MD_NKEYWORDS)
			*bits_r |= 1u << slot;
	}
	if (dirty && (rc = kw_write(dir, ix)) != KURIR_OK)
		return rc;
	return KURIR_OK;
}

size_t
md_kw_render(const struct md_index *ix, uint32_t bits, char *out,
    size_t cap)
{
	size_t	 i, o = 0, len;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	for (i = 0; i < ix->nkw; i++) {
		if (!(bits & (1u << i)) || ix->kw[i] == NULL)
			continue;
		len = strlen(ix->kw[i]);
		if (o + len + 2 > cap)
			break;
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, ix->kw[i], len);
		o += len;
		out[o] = '\0';
	}
	return o;
}
