/*
 * log.c -- one line per event, to stderr in the foreground (-F) or to
 * syslog(3) otherwise.  Every line carries the process role; connection
 * lines add the session id and peer (conn.c).  Client-supplied text goes
 * through log_escape() before it gets here.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_to_stderr = 1;
static int	 log_threshold = KURIR_LOG_INFO;
static char	 log_role[16] = "kurird";

static const struct {
	const char	*name;
	int		 level;
} log_levels[] = {
	{ "error",	KURIR_LOG_ERR },
	{ "warning",	KURIR_LOG_WARNING },
	{ "notice",	KURIR_LOG_NOTICE },
	{ "info",	KURIR_LOG_INFO },
	{ "debug",	KURIR_LOG_DEBUG },
};

void
log_init(const char *ident, int to_stderr)
{
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(int level)
{
	log_threshold = level;
}

int
log_level_parse(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(name, log_levels[i].name) == 0)
			return log_levels[i].level;
	return -1;
}

void
log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

static const char *
log_level_name(int level)
{
	size_t	i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return "?";
}

void
log_msgv(int level, const char *prefix, const char *fmt, va_list ap)
{
	char		 line[2048];
	int		 n;
	int		 saved_errno = errno;

	if (level > log_threshold)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (log_to_stderr) {
		struct timespec	ts;
		struct tm	tm;
		char		stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One fprintf per line so lines of concurrent processes do
		 * not interleave inside each other. */
		fprintf(stderr, "%s.%03ld %s[%d] %s: %s%s%s\n", stamp,
		    ts.tv_nsec / 1000000, log_role, (int)getpid(),
		    log_level_name(level), prefix ? prefix : "",
		    prefix ? " " : "", line);
	} else
		syslog(level, "%s: %s%s%s", log_role, prefix ? prefix : "",
		    prefix ? " " : "", line);
	errno = saved_errno;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_msgv(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_msgv(KURIR_LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_msgv(KURIR_LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_msgv(KURIR_LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

/* Like log_warnx, with ": strerror(errno)" appended. */
static void
log_vwarn(int level, const char *fmt, va_list ap)
{
	char	buf[1024];
	int	saved_errno = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(level, "%s: %s", buf, strerror(saved_errno));
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwarn(KURIR_LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwarn(KURIR_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_msgv(KURIR_LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_escape(char *out, size_t cap, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 o = 0, i;

	if (cap == 0)
		return out;
	for (i = 0; i < len; i++) {
		if (isprint(p[i]) && p[i] != '\\') {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)p[i];
		} else {
			if (o + 4 >= cap)
				break;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
		}
	}
	out[o] = '\0';
	return out;
}
