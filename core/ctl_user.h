/*
 * ctl_user.h -- `kurirctl user`, `kurirctl alias` and `kurirctl pw`
 * (declared in ctl.h too, where kurirctl.c dispatches them).  argv[0] is
 * the verb ("add"); each returns the exit status: 0 done, 1 failed,
 * 2 usage.  Everything goes through the auth module's ops.
 */
#ifndef KURIR_CORE_CTL_USER_H
#define KURIR_CORE_CTL_USER_H

#include <stddef.h>

int	ctl_user(int argc, char **argv);
int	ctl_alias(int argc, char **argv);
int	ctl_pw(int argc, char **argv);

/* A password: a line of standard input when it is not a terminal, else
 * prompted (twice when confirm) with echo off.  0 or -1 (message
 * printed). */
int	ctl_read_password(const char *prompt, int confirm, char *buf,
	    size_t cap);

#endif
