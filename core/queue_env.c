/*
 * queue_env.c -- the envelope file of a queue entry (see queue.h): a
 * few "key value" lines, then one "rcpt" line per recipient:
 *
 *	rcpt STATE NOTIFY ORCPT|- ADDRESS<TAB>DIAGNOSTIC
 *
 * Addresses and xtext never hold spaces or control characters (checked
 * when queued), diagnostics are flattened to printable text, so the
 * format needs no quoting.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "queue.h"

#define ENV_MAX		(16u * 1024 * 1024)	/* sanity bound on a read */

int
queue_dir(char *buf, size_t cap)
{
	const char	*sd = config_str("state_dir");
	int		 n;

	if (sd == NULL || *sd == '\0')
		return -1;
	n = snprintf(buf, cap, "%s/queue", sd);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
		log_warn("queue: mkdir %s", buf);
		return -1;
	}
	return 0;
}

int
queue_id_valid(const char *id)
{
	size_t	n = strspn(id, "0123456789ABCDEF");

	return n >= 8 && n <= KURIR_QID_MAX && id[n] == '\0';
}

int
queue_lock(const char *dir)
{
	char	path[PATH_MAX + 64];
	int	fd;

	snprintf(path, sizeof(path), "%s/.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("queue: %s", path);
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			log_warn("queue: flock %s", path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

void
queue_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the flock */
}

int
queue_fsync_dir(const char *dir)
{
	int	fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

void
queue_env_free(struct queue_env *env)
{
	free(env->r);
	env->r = NULL;
	env->nr = 0;
}

static int
env_add_rcpt(struct queue_env *env, char *line)
{
	struct kurir_queue_rcpt	*tmp, *r;
	char			*addr, *orcpt, *tab, *end;
	unsigned long		 state, notify;

	state = strtoul(line, &end, 10);
	if (*end != ' ')
		return -1;
	notify = strtoul(end + 1, &end, 10);
	if (*end != ' ' || state > KURIR_QRCPT_DELIVERED)
		return -1;
	orcpt = end + 1;
	if ((addr = strchr(orcpt, ' ')) == NULL)
		return -1;
	*addr++ = '\0';
	if ((tab = strchr(addr, '\t')) != NULL)
		*tab++ = '\0';
	if ((tmp = reallocarray(env->r, env->nr + 1, sizeof(*tmp))) == NULL)
		return -1;
	env->r = tmp;
	r = &env->r[env->nr++];
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->state = (uint32_t)state;
	r->notify = (uint32_t)notify;
	snprintf(r->address, sizeof(r->address), "%s", addr);
	if (strcmp(orcpt, "-") != 0)
		snprintf(r->orcpt, sizeof(r->orcpt), "%s", orcpt);
	if (tab != NULL)
		snprintf(r->diag, sizeof(r->diag), "%s", tab);
	return 0;
}

static int
env_parse(struct queue_env *env, char *text)
{
	struct kurir_queue_info	*i = &env->info;
	char			*line, *next, *val;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((val = strchr(line, ' ')) == NULL)
			return -1;
		*val++ = '\0';
		if (strcmp(line, "rcpt") == 0) {
			if (env_add_rcpt(env, val) == -1)
				return -1;
		} else if (strcmp(line, "sender") == 0)
			snprintf(i->sender, sizeof(i->sender), "%s", val);
		else if (strcmp(line, "envid") == 0)
			snprintf(i->envid, sizeof(i->envid), "%s", val);
		else if (strcmp(line, "created") == 0)
			i->created = strtoll(val, NULL, 10);
		else if (strcmp(line, "next") == 0)
			i->next_retry = strtoll(val, NULL, 10);
		else if (strcmp(line, "size") == 0)
			i->msg_size = strtoull(val, NULL, 10);
		else if (strcmp(line, "attempts") == 0)
			i->attempts = (uint32_t)strtoul(val, NULL, 10);
		else if (strcmp(line, "hold") == 0)
			i->hold = (uint32_t)strtoul(val, NULL, 10);
		else if (strcmp(line, "ret") == 0)
			i->ret = (uint32_t)strtoul(val, NULL, 10);
		else if (strcmp(line, "utf8") == 0)
			i->smtputf8 = (uint32_t)strtoul(val, NULL, 10);
		else if (strcmp(line, "8bit") == 0)
			i->body8bit = (uint32_t)strtoul(val, NULL, 10);
		/* other keys: written by a newer core; ignore */
	}
	i->nrcpt = env->nr;
	return 0;
}

int
queue_env_load(const char *dir, const char *id, struct queue_env *env)
{
	char		 path[PATH_MAX + 64], *text;
	struct stat	 st;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd, rc;

	memset(env, 0, sizeof(*env));
	env->info.size = sizeof(env->info);
	if (!queue_id_valid(id))
		return KURIR_E_INVALID;
	snprintf(env->info.id, sizeof(env->info.id), "%s", id);
	snprintf(path, sizeof(path), "%s/%s.env", dir, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? KURIR_E_NOTFOUND : KURIR_E_TEMPFAIL;
	if (fstat(fd, &st) == -1 || st.st_size > ENV_MAX ||
	    (text = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return KURIR_E_TEMPFAIL;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	rc = env_parse(env, text) == 0 ? KURIR_OK : KURIR_E_CORRUPT;
	free(text);
	if (rc != KURIR_OK) {
		log_warnx("queue %s: damaged envelope %s", id, path);
		queue_env_free(env);
	}
	return rc;
}

int
queue_env_store(const char *dir, const struct queue_env *env)
{
	return queue_env_store_ext(dir, env, "env");
}

int
queue_env_store_ext(const char *dir, const struct queue_env *env,
    const char *ext)
{
	const struct kurir_queue_info	*i = &env->info;
	const struct kurir_queue_rcpt	*r;
	char				 tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	FILE				*fp;
	uint32_t			 k;
	int				 fd, bad, e;

	snprintf(tmp, sizeof(tmp), "%s/tmp.%s.%s", dir, i->id, ext);
	snprintf(path, sizeof(path), "%s/%s.%s", dir, i->id, ext);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		log_warn("queue %s: %s", i->id, tmp);
		if (fd != -1)
			close(fd);
		return KURIR_E_TEMPFAIL;
	}
	fprintf(fp, "v 1\nsender %s\nenvid %s\ncreated %" PRId64 "\n"
	    "next %" PRId64 "\nattempts %u\nhold %u\nret %u\nutf8 %u\n"
	    "8bit %u\nsize %" PRIu64 "\n", i->sender, i->envid, i->created,
	    i->next_retry, i->attempts, i->hold, i->ret, i->smtputf8,
	    i->body8bit, i->msg_size);
	for (k = 0; k < env->nr; k++) {
		r = &env->r[k];
		fprintf(fp, "rcpt %u %u %s %s\t%s\n", r->state, r->notify,
		    r->orcpt[0] != '\0' ? r->orcpt : "-", r->address,
		    r->diag);
	}
	bad = fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) == -1;
	bad |= fclose(fp) != 0;
	if (bad || rename(tmp, path) == -1 || queue_fsync_dir(dir) == -1) {
		e = errno;
		log_warn("queue %s: writing %s", i->id, path);
		unlink(tmp);
		return e == ENOSPC || e == EDQUOT || e == EFBIG ?
		    KURIR_E_NOSPACE : KURIR_E_TEMPFAIL;
	}
	return KURIR_OK;
}
