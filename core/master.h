/*
 * master.h -- the supervising process (master.c).
 */
#ifndef KURIR_CORE_MASTER_H
#define KURIR_CORE_MASTER_H

#include <signal.h>
#include <stddef.h>

struct boot;

/* What a reload reads again. */
struct master_args {
	const char	*config_path;	/* NULL: embedded defaults */
	char *const	*overrides;	/* -o KEY=VALUE */
	size_t		 noverrides;
};

/* Supervise workers until SIGTERM/SIGINT; b is heap-allocated and owned
 * by the master from here on.  Returns the exit status. */
int	master_run(struct boot *b, const struct master_args *a);

/* Blocks the signals the master waits for; call before binding. */
void	master_block_signals(sigset_t *set);

#endif
