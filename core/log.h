/*
 * log.h -- the core's logging: one line per event, to stderr (-F) or
 * syslog, filtered by log_level.  log_warn appends strerror(errno),
 * log_warnx does not (OpenBSD style).  fatal/fatalx exit(1) and are for
 * start-up and the master only; modules never call them.
 */
#ifndef KURIR_CORE_LOG_H
#define KURIR_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include <kurir/api.h>

void	log_init(const char *ident, int to_stderr);
void	log_set_level(int level);		/* KURIR_LOG_* */
int	log_level_parse(const char *name);	/* -1 if unknown */
/* Role of this process ("master", "worker"), prefixed to every line. */
void	log_set_role(const char *role);
void	log_msgv(int level, const char *prefix, const char *fmt, va_list ap);
void	log_msg(int level, const char *fmt, ...) KURIR_PRINTF(2, 3);
void	log_warn(const char *fmt, ...) KURIR_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) KURIR_PRINTF(1, 2);
void	log_info(const char *fmt, ...) KURIR_PRINTF(1, 2);
void	log_debug(const char *fmt, ...) KURIR_PRINTF(1, 2);
__attribute__((noreturn)) void fatal(const char *fmt, ...) KURIR_PRINTF(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) KURIR_PRINTF(1, 2);
/* Printable, truncated copy of untrusted bytes: non-printables as \xNN. */
char	*log_escape(char *out, size_t cap, const void *buf, size_t len);

#endif
