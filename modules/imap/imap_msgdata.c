/*
 * imap_msgdata.c -- message data for FETCH and SEARCH: the parsed
 * structure (storage cache blob, or parsed now from a stream of bounded
 * reads and then cached), bounded reads of byte ranges, header-field
 * filtering and the INTERNALDATE format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap.h"

#define READ_CHUNK	65536

void
imap_msginfo_forget(struct imap_sess *s)
{
	if (s->mi != NULL) {
		imap_msginfo_free(s->mi);
		free(s->mi);
		s->mi = NULL;
	}
	s->mi_uid = 0;
}

static char *
cache_read(struct imap_sess *s, uint32_t uid, size_t *len_r)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	struct kurir_mailbox *mb = s->view->mb;
	size_t cap = 8192, len = 0;
	char *buf;
	int rc;

	if (st->cache_get == NULL)
		return NULL;
	if ((buf = malloc(cap)) == NULL)
		return NULL;
	rc = st->cache_get(mb, uid, buf, cap, &len);
	if (rc == KURIR_E_TOOBIG && len > cap &&
	    len <= imap_conf.max_cache_blob) {
		char *n = realloc(buf, len);

		if (n == NULL) {
			free(buf);
			return NULL;
		}
		buf = n;
		cap = len;
		rc = st->cache_get(mb, uid, buf, cap, &len);
	}
	if (rc != KURIR_OK || len > cap) {
		free(buf);
		return NULL;
	}
	*len_r = len;
	return buf;
}

static char *
parse_message(struct imap_sess *s, uint32_t uid, size_t *len_r)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	struct kurir_mailbox *mb = s->view->mb;
	struct imap_mime m;
	struct imap_str out;
	uint64_t off = 0;
	char *buf, *blob = NULL;
	size_t n;
	int rc;

	if ((buf = malloc(READ_CHUNK)) == NULL)
		return NULL;
	if (imap_mime_init(&m, &imap_conf.mime) < 0) {
		free(buf);
		return NULL;
	}
	for (;;) {
		rc = st->msg_read(mb, uid, off, buf, READ_CHUNK, &n);
		if (rc != KURIR_OK)
			goto out;
		imap_mime_feed(&m, buf, n);
		off += n;
		if (n < READ_CHUNK)
			break;
	}
	imap_mime_finish(&m);
	imap_str_init(&out, (size_t)imap_conf.max_cache_blob);
	if (imap_mime_serialize(&m, &out, (size_t)imap_conf.max_cache_blob)
	    == 0 && out.len > 0) {
		if (st->cache_set != NULL)
			st->cache_set(mb, uid, out.s, out.len);
		blob = out.s;	/* take the buffer */
		*len_r = out.len;
		out.s = NULL;
	}
	imap_str_free(&out);
out:
	imap_mime_free(&m);
	free(buf);
	return blob;
}

const struct imap_msginfo *
imap_msginfo_get(struct imap_sess *s, uint32_t uid)
{
	char *blob;
	size_t len = 0;

	if (s->mi != NULL && s->mi->blob != NULL && s->mi_uid == uid)
		return s->mi;
	imap_msginfo_forget(s);
	if ((s->mi = calloc(1, sizeof(*s->mi))) == NULL)
		return NULL;
	if ((blob = cache_read(s, uid, &len)) != NULL) {
		if (imap_msginfo_load(s->mi, blob, len) == 0) {
			s->mi_uid = uid;
			return s->mi;
		}
		imap_msginfo_free(s->mi);	/* damaged: parse again */
	}
	if ((blob = parse_message(s, uid, &len)) == NULL ||
	    imap_msginfo_load(s->mi, blob, len) < 0) {
		imap_msginfo_forget(s);
		return NULL;
	}
	s->mi_uid = uid;
	return s->mi;
}

int
imap_msg_read_region(struct imap_sess *s, uint32_t uid, uint64_t off,
    uint64_t len, struct imap_str *out)
{
	const struct kurir_storage_ops *st = imap_api->storage();
	char buf[8192];
	size_t n;
	int rc;

	while (len > 0 && !out->over) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);

		rc = st->msg_read(s->view->mb, uid, off, buf, want, &n);
		if (rc != KURIR_OK)
			return rc;
		imap_str_add(out, buf, n);
		if (n < want)
			break;
		off += n;
		len -= n;
	}
	return KURIR_OK;
}

static int
name_listed(const struct imap_arg *names, const char *f, size_t flen)
{
	const struct imap_arg *a;

	for (a = names; a != NULL; a = a->next)
		if (a->type != IMAP_ARG_LIST && a->len == flen &&
		    strncasecmp(a->str, f, flen) == 0)
			return 1;
	return 0;
}

int
imap_header_filter(struct imap_sess *s, uint32_t uid, uint64_t off,
    uint64_t len, const struct imap_arg *names, int not,
    struct imap_str *out)
{
	struct imap_str hdr;
	struct mime_field f;
	const char *p, *end;
	int rc;

	if (len > imap_conf.max_header_fetch)
		len = imap_conf.max_header_fetch;
	imap_str_init(&hdr, (size_t)len + 1);
	rc = imap_msg_read_region(s, uid, off, len, &hdr);
	if (rc != KURIR_OK) {
		imap_str_free(&hdr);
		return rc;
	}
	p = hdr.s;
	end = hdr.s + hdr.len;
	while (mime_next_field(&p, end, &f))
		if (name_listed(names, f.start, f.name_len) != not)
			imap_str_add(out, f.start, f.len);
	imap_str_adds(out, "\r\n");
	imap_str_free(&hdr);
	return KURIR_OK;
}

void
imap_date_str(int64_t t, char *out, size_t cap)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, cap, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
	    mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}
