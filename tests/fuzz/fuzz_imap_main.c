/*
 * fuzz_imap_main.c -- plain replay driver for the IMAP fuzz targets:
 * without libFuzzer, main() feeds every file of the corpus directories
 * named on the command line (or $KURIR_SRCDIR/tests/fuzz/corpus/<dir>)
 * to LLVMFuzzerTestOneInput, so crashes once found stay fixed in
 * `make check`.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern const char *fuzz_imap_corpus;

static int
replay_file(const char *path)
{
	FILE *f;
	uint8_t *buf;
	long sz;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	if ((buf = malloc((size_t)sz + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)sz);
	free(buf);
	return 0;
}

static int
replay_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char path[4096];
	int n = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: cannot open\n", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (replay_file(path) == 0)
			n++;
	}
	closedir(d);
	printf("%s: %d inputs replayed\n", dir, n);
	return n > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	char dir[4096];
	const char *src;
	int i, rc = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_dir(argv[i]) < 0)
				rc = 1;
		return rc;
	}
	if ((src = getenv("KURIR_SRCDIR")) == NULL)
		src = ".";
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src,
	    fuzz_imap_corpus);
	return replay_dir(dir) < 0 ? 1 : 0;
}
