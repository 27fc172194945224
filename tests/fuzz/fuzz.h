/*
 * fuzz.h: the libFuzzer entry point every harness defines, a check that
 * aborts (so libFuzzer and the replay driver report it) when a harness'
 * expectation fails, and the input written to a file for file parsers.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

static char fuzz_file_dir[64];	/* the harness' private directory */

/* Remove the private directory at exit, with whatever is in it. */
static inline void
fuzz_file_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_file_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fuzz_file_dir);
}

/*
 * Write the input to name in a private temporary directory (made on the
 * first call, removed at exit) and return the file's path.
 */
static inline const char *
fuzz_input_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[128];
	const char *tmp;
	FILE *f;

	if (fuzz_file_dir[0] == '\0') {
		tmp = getenv("TMPDIR");
		snprintf(fuzz_file_dir, sizeof fuzz_file_dir, "%s/fuzz.XXXXXX",
		    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
		if (mkdtemp(fuzz_file_dir) == NULL)
			abort();
		atexit(fuzz_file_cleanup);
	}
	snprintf(path, sizeof path, "%s/%s", fuzz_file_dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	return path;
}

#endif /* FUZZ_H */
