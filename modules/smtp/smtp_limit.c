/*
 * smtp_limit.c -- simultaneous connections per client address, counted
 * in this worker process (smtp_connections_per_ip).  A small chained
 * hash table keyed by the textual address; entries go away at zero.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

#define SMTP_LIMIT_BUCKETS	256

struct smtp_limit_ent {
	struct smtp_limit_ent	*next;
	uint32_t		 count;
	char			 ip[64];
};

static struct smtp_limit_ent *smtp_limit_tab[SMTP_LIMIT_BUCKETS];

static struct smtp_limit_ent **
smtp_limit_slot(const char *ip)
{
	struct smtp_limit_ent **pp;
	uint32_t h = 2166136261u;	/* FNV-1a */
	const unsigned char *p;

	for (p = (const unsigned char *)ip; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	for (pp = &smtp_limit_tab[h % SMTP_LIMIT_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->next)
		if (strcmp((*pp)->ip, ip) == 0)
			break;
	return (pp);
}

int
smtp_limit_enter(const char *ip, uint32_t max)
{
	struct smtp_limit_ent **pp, *e;

	pp = smtp_limit_slot(ip);
	if ((e = *pp) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return (KURIR_E_NOMEM);
		smtp_strlcpy(e->ip, ip, sizeof(e->ip));
		*pp = e;
	}
	if (max != 0 && e->count >= max)
		return (KURIR_E_TOOBIG);
	e->count++;
	return (KURIR_OK);
}

void
smtp_limit_leave(const char *ip)
{
	struct smtp_limit_ent **pp, *e;

	pp = smtp_limit_slot(ip);
	if ((e = *pp) == NULL)
		return;
	if (e->count > 0)
		e->count--;
	if (e->count == 0) {
		*pp = e->next;
		free(e);
	}
}
