/*
 * main.c -- kurird's command line (the operator contract of DESIGN.md):
 *
 *	kurird [-c FILE] [-o KEY=VALUE]... [-F] [-t] [-n] [-V]
 *
 * Without -c, KURIR_SYSCONFDIR/kurir.conf is read when it exists; without
 * it kurird runs on the embedded defaults.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "privsep.h"

#define MAX_OVERRIDES	256

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: kurird [-c FILE] [-o KEY=VALUE]... "
	    "[-F] [-t] [-n] [-V]\n");
	exit(2);
}

static void
print_module(const char *dir, const char *name, void *arg)
{
	const struct kurir_module_desc	*d;
	struct kurir_module		*m;
	char				 err[1024];

	if ((m = module_open(dir, name, 0, err, sizeof(err))) == NULL) {
		printf("  %-10s unusable: %s\n", name, err);
		return;
	}
	d = module_desc(m);
	printf("  %-10s %-8s %-8s ABI %u.%u  %s\n", d->name,
	    module_kind_name(m), d->version ? d->version : "?",
	    d->abi_major, d->abi_minor, module_path(m));
	module_close(m);
}

static int
print_versions(const char *path, char *const *ov, size_t nov)
{
	struct config	*cf;
	const char	*dir = KURIR_MODULE_DIR;
	char		 err[1024];

	printf("kurird %s (ABI %u.%u)\n", PACKAGE_VERSION, KURIR_ABI_MAJOR,
	    KURIR_ABI_MINOR);
	if ((cf = config_parse(path, ov, nov, err, sizeof(err))) != NULL &&
	    config_raw(cf, "module_dir") != NULL)
		dir = config_raw(cf, "module_dir");
	printf("modules in %s:\n", dir);
	module_scan(dir, print_module, NULL);
	config_free(cf);
	return 0;
}

/* kurird -n and -t: report, then free everything so leak checkers stay quiet. */
static int
check_or_print(struct boot *b, int print)
{
	char	err[2048];
	int	rc = 0;

	if (print)
		config_print(b->cf, stdout);
	/* A missing default certificate is made at start, fine. */
	else if (!b->cert_is_default && boot_tls(b, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		rc = 1;
	}
	boot_free(b);
	free(b);
	module_close_all();
	return rc;
}

static void
daemonize(void)
{
	int	fd;

	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		fatal("setsid");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

int
main(int argc, char **argv)
{
	struct master_args	 a;
	struct boot		*b;
	char			*overrides[MAX_OVERRIDES];
	char			 err[2048];
	sigset_t		 sigs;
	const char		*path = NULL;
	size_t			 nov = 0;
	int			 ch, foreground = 0, check = 0, print = 0;
	int			 version = 0;

	while ((ch = getopt(argc, argv, "c:o:FtnVh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			if (nov == MAX_OVERRIDES)
				fatalx("too many -o options");
			overrides[nov++] = optarg;
			break;
		case 'F':
			foreground = 1;
			break;
		case 't':
			check = 1;
			break;
		case 'n':
			print = 1;
			break;
		case 'V':
			version = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (path == NULL && access(KURIR_SYSCONFDIR "/kurir.conf", F_OK) == 0)
		path = KURIR_SYSCONFDIR "/kurir.conf";
	log_init("kurird", 1);
	if (version)
		return print_versions(path, overrides, nov);

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("calloc");
	if (boot_load(b, path, overrides, nov, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		free(b);
		module_close_all();
		return 1;
	}
	if (print || check)
		return check_or_print(b, print);

	master_block_signals(&sigs);
	boot_activate(b);
	if (privsep_init(config_str("user"), err, sizeof(err)) == -1 ||
	    boot_state_dir(err, sizeof(err)) == -1 ||
	    boot_tls(b, 1, err, sizeof(err)) == -1 ||
	    listen_bind(&b->ls, NULL, err, sizeof(err)) == -1 ||
	    boot_init_modules(err, sizeof(err)) == -1) {
		log_msg(KURIR_LOG_ERR, "%s", err);
		return 1;
	}
	if (!foreground) {
		log_init("kurird", 0);
		daemonize();
	}
	a.config_path = path;
	a.overrides = overrides;
	a.noverrides = nov;
	return master_run(b, &a);
}
