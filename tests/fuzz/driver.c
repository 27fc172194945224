/*
 * driver.c: a main() for the fuzz harnesses when they are not built with
 * libFuzzer: run LLVMFuzzerTestOneInput once on every file named on the
 * command line, or on every file of a directory named there, so make
 * check replays the committed corpus without clang.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Run the harness on one file; returns 0, or -1 if it cannot be read. */
static int
driver_file(const char *path)
{
	FILE *f;
	unsigned char *buf;
	struct stat sb;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &sb) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/*
	 * Exactly the input's size, so ASan sees a read one byte past it;
	 * an empty file still gets a valid pointer (malloc(1) if malloc(0)
	 * gives NULL).
	 */
	if ((buf = malloc((size_t)sb.st_size)) == NULL &&
	    (sb.st_size != 0 || (buf = malloc(1)) == NULL)) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)sb.st_size, f);
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* as libFuzzer says it, so a sanitizer report has its input */
	fprintf(stderr, "Running: %s\n", path);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* Run the harness on every regular file of a directory; returns the
 * number of files run, or -1. */
static int
driver_dir(const char *path)
{
	struct dirent **names;
	struct stat sb;
	char *file;
	int i, n, done = 0, bad = 0;

	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] == '.') {
			free(names[i]);
			continue;
		}
		if (asprintf(&file, "%s/%s", path, names[i]->d_name) < 0)
			abort();
		if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (driver_file(file) == 0)
				done++;
			else
				bad = 1;
		}
		free(file);
		free(names[i]);
	}
	free(names);
	return bad ? -1 : done;
}

int
main(int argc, char **argv)
{
	struct stat sb;
	int i, n, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file|directory ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if ((n = driver_dir(argv[i])) < 0)
				return 1;
			total += n;
		} else {
			if (driver_file(argv[i]) != 0)
				return 1;
			total++;
		}
	}
	printf("%s: %d inputs replayed\n", argv[0], total);
	return total > 0 ? 0 : 1;
}
