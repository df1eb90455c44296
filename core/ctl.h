/*
 * ctl.h -- kurirctl's commands.  Each gets the words after its name
 * (argv[0] is the verb, e.g. "add") and returns the exit status.  The
 * configuration, storage and auth modules are loaded before it runs.
 */
#ifndef KURIR_CORE_CTL_H
#define KURIR_CORE_CTL_H

int	ctl_user(int argc, char **argv);	/* ctl_user.c */
int	ctl_alias(int argc, char **argv);	/* ctl_user.c */
int	ctl_pw(int argc, char **argv);		/* ctl_user.c */
int	ctl_mailbox(int argc, char **argv);	/* ctl_mailbox.c */
int	ctl_queue(int argc, char **argv);	/* ctl_queue.c */

/* Fills the storage parameters of a user from the auth module; quota
 * defaults come from the config.  Returns 0 or a KURIR_E_* status. */
struct kurir_user_params;
struct kurir_auth_user;
int	ctl_user_params(const char *address, struct kurir_auth_user *u,
	    struct kurir_user_params *p);

#endif
