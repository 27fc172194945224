/*
 * fuzz_conf.c: proxypoold's configuration loader on arbitrary file
 * contents, written to a file in a private temporary directory.  A
 * configuration either loads (and is destroyed) or is refused with one
 * line "file:line: setting: problem".
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static char fuzz_dir[64];	/* the private directory */
static char fuzz_path[128];	/* the configuration file in it */

/* Remove the directory at exit (files the input made included). */
static void
fuzz_conf_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fuzz_dir);
}

/* Is cause "file:line: setting: problem" on one line? */
static bool
fuzz_conf_cause_ok(const char *cause)
{
	const char *p, *q;

	if (strchr(cause, '\n') != NULL || strchr(cause, '\r') != NULL)
		return false;
	/* the file may contain ':' but is followed by ":<digits>: " */
	for (p = cause; (p = strchr(p, ':')) != NULL; p++) {
		q = p + 1;
		if (!isdigit((unsigned char)*q))
			continue;
		while (isdigit((unsigned char)*q))
			q++;
		if (q[0] != ':' || q[1] != ' ' || p == cause)
			continue;
		/* then "setting: problem" */
		q += 2;
		p = strstr(q, ": ");
		return p != NULL && p > q && p[2] != '\0';
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c;
	char *cause;
	FILE *f;

	if (fuzz_dir[0] == '\0') {
		const char *tmp = getenv("TMPDIR");

		snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzzconf.XXXXXX",
		    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
		snprintf(fuzz_path, sizeof fuzz_path, "%s/proxypoold.conf",
		    fuzz_dir);
		atexit(fuzz_conf_cleanup);
	}
	if ((f = fopen(fuzz_path, "wb")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();

	c = conf_load(fuzz_path, &cause);
	if (c == NULL) {
		FUZZ_CHECK(cause != NULL);
		if (!fuzz_conf_cause_ok(cause)) {
			fprintf(stderr, "bad cause: \"%s\"\n", cause);
			abort();
		}
		free(cause);
		return 0;
	}
	FUZZ_CHECK(cause == NULL);
	conf_destroy(c);
	return 0;
}
