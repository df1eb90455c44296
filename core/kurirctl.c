/*
 * kurirctl.c -- the admin tool:
 *
 *	kurirctl [-c FILE] [-o KEY=VALUE]... COMMAND [ARGS]
 *
 * It reads the same configuration as kurird and loads the same storage
 * and auth modules, then acts as the worker user would (it drops to
 * `user` when run as root), so every file it makes belongs to the
 * workers and is safe to change while the server runs.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "ctl.h"
#include "log.h"
#include "module.h"
#include "privsep.h"

#define MAX_OVERRIDES	256

static const struct ctl_command {
	const char	*name;
	int		(*run)(int argc, char **argv);
	const char	*usage;
} ctl_commands[] = {
	{ "user", ctl_user, "user add|del|passwd|list|show ..." },
	{ "alias", ctl_alias, "alias add|del|list ..." },
	{ "pw", ctl_pw, "pw hash [--scheme S]" },
	{ "mailbox", ctl_mailbox,
	    "mailbox list USER | status USER MAILBOX | quota USER" },
	{ "queue", ctl_queue, "queue list | show ID | flush [ID] | remove ID | "
	    "hold ID | release ID" },
};
#define NCOMMANDS	(sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static __attribute__((noreturn)) void
usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: kurirctl [-c FILE] [-o KEY=VALUE]... COMMAND "
	    "[ARGS]\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(stderr, "  %s\n", ctl_commands[i].usage);
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct ctl_command	*cmd = NULL;
	struct boot			 b;
	char				*overrides[MAX_OVERRIDES];
	char				 err[2048];
	const char			*path = NULL;
	size_t				 nov = 0, i;
	int				 ch, rc;

	while ((ch = getopt(argc, argv, "+c:o:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			if (nov == MAX_OVERRIDES)
				usage();
			overrides[nov++] = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[0], ctl_commands[i].name) == 0)
			cmd = &ctl_commands[i];
	if (cmd == NULL)
		usage();
	if (path == NULL && access(KURIR_SYSCONFDIR "/kurir.conf", F_OK) == 0)
		path = KURIR_SYSCONFDIR "/kurir.conf";

	log_init("kurirctl", 1);
	log_set_role("kurirctl");
	if (boot_load(&b, path, overrides, nov, BOOT_NO_PROTOCOLS, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "kurirctl: %s\n", err);
		return 1;
	}
	boot_activate(&b);
	/* Only errors on the terminal: the output is the command's. */
	log_set_level(KURIR_LOG_WARNING);
	if (privsep_init(config_str("user"), err, sizeof(err)) == -1 ||
	    boot_state_dir(err, sizeof(err)) == -1 ||
	    boot_init_modules(err, sizeof(err)) == -1 ||
	    privsep_drop(err, sizeof(err)) == -1 ||
	    module_init_worker_all(err, sizeof(err)) == -1) {
		fprintf(stderr, "kurirctl: %s\n", err);
		return 1;
	}
	rc = cmd->run(argc - 1, argv + 1);
	module_close_all();
	boot_free(&b);
	return rc;
}
