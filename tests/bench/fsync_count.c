/*
 * fsync_count.c -- LD_PRELOAD counter of fsync(2), fdatasync(2) and
 * msync(2) calls for the storage benchmark.  At exit, appends the
 * process's counts to $KURIR_FSYNC_COUNT_FILE as "fsync N\n".
 */
#include <sys/mman.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong calls;

int	fsync(int);
int	fdatasync(int);
int	msync(void *, size_t, int);

__attribute__((visibility("default"))) int
fsync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	atomic_fetch_add(&calls, 1);
	return real(fd);
}

__attribute__((visibility("default"))) int
fdatasync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	atomic_fetch_add(&calls, 1);
	return real(fd);
}

__attribute__((visibility("default"))) int
msync(void *addr, size_t len, int flags)
{
	static int (*real)(void *, size_t, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "msync");
	atomic_fetch_add(&calls, 1);
	return real(addr, len, flags);
}

__attribute__((destructor)) static void
fsync_count_report(void)
{
	const char *path = getenv("KURIR_FSYNC_COUNT_FILE");
	char line[64];
	int fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT,
	    0600)) == -1)
		return;
	n = snprintf(line, sizeof(line), "fsync %lu\n",
	    (unsigned long)atomic_load(&calls));
	(void)!write(fd, line, (size_t)n);
	close(fd);
}
