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
	const char *path;
	char *cause;

	path = fuzz_input_file("proxypoold.conf", data, size);
	c = conf_load(path, &cause);
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
