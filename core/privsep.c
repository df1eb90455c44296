/*
 * privsep.c -- see privsep.h.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privsep.h"

static uid_t	privsep_uid;
static gid_t	privsep_gid;
static int	privsep_active;

int
privsep_init(const char *user, char *err, size_t errlen)
{
	struct passwd	*pw;

	privsep_active = 0;
	if (geteuid() != 0)
		return 0;
	if (user == NULL || *user == '\0') {
		snprintf(err, errlen, "running as root needs `user` set to "
		    "an unprivileged account");
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user '%s' not found: create it "
		    "(useradd --system %s) or set `user`", user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user '%s' is root: workers must run "
		    "unprivileged", user);
		return -1;
	}
	privsep_uid = pw->pw_uid;
	privsep_gid = pw->pw_gid;
	privsep_active = 1;
	return 0;
}

int
privsep_chown(const char *path)
{
	if (!privsep_active)
		return 0;
	return chown(path, privsep_uid, privsep_gid);
}

int
privsep_drop(char *err, size_t errlen)
{
	if (!privsep_active)
		return 0;
	if (setgroups(1, &privsep_gid) == -1 ||
	    setresgid(privsep_gid, privsep_gid, privsep_gid) == -1 ||
	    setresuid(privsep_uid, privsep_uid, privsep_uid) == -1) {
		snprintf(err, errlen, "dropping privileges: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
