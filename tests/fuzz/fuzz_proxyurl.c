/*
 * fuzz_proxyurl.c: src/common/proxyurl.c (validation, normalisation and
 * redaction of proxy URLs, for proxypoold and proxypoolctl alike) on
 * arbitrary text.  A URL is either accepted with a normal form and no
 * cause or refused with a cause, and the brief form (proxypoolctl's)
 * agrees; a normal form is accepted again as itself, has no blank or
 * control byte, and its redaction shows everything but the password.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "proxyurl.h"
#include "xmalloc.h"

/* Check the redaction of a normalised URL: the same text with the
 * password, if any, replaced by "***". */
static void
fuzz_proxyurl_redaction(const char *norm)
{
	const char *ui, *at, *colon;
	char *red, *want;

	red = proxyurl_redact(norm);
	FUZZ_CHECK(red != NULL);
	ui = strstr(norm, "://");
	FUZZ_CHECK(ui != NULL);
	ui += 3;
	at = strrchr(ui, '@');
	colon = at != NULL ? memchr(ui, ':', (size_t)(at - ui)) : NULL;
	if (colon == NULL)
		want = xstrdup(norm);
	else
		xasprintf(&want, "%.*s***%s", (int)(colon + 1 - norm), norm,
		    at);
	if (strcmp(red, want) != 0) {
		fprintf(stderr, "redact(%s) = %s, want %s\n", norm, red, want);
		abort();
	}
	free(want);
	free(red);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *norm, *again, *cause, *red, *brief_norm;
	const char *p, *brief;

	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	red = proxyurl_redact_text(text);
	FUZZ_CHECK(red != NULL);
	free(red);

	norm = proxyurl_normalise(text, &cause);
	/* the two ways of asking give one verdict and one normal form */
	brief_norm = proxyurl_normalise_brief(text, &brief);
	FUZZ_CHECK((norm == NULL) == (brief_norm == NULL));
	FUZZ_CHECK((brief == NULL) == (brief_norm != NULL));
	FUZZ_CHECK(brief_norm == NULL || strcmp(brief_norm, norm) == 0);
	FUZZ_CHECK((proxyurl_check(text) == NULL) == (norm != NULL));
	free(brief_norm);
	if (norm == NULL) {
		FUZZ_CHECK(cause != NULL && *cause != '\0');
		free(cause);
		free(text);
		return 0;
	}
	FUZZ_CHECK(cause == NULL);
	FUZZ_CHECK(strlen(norm) <= 1024);
	for (p = norm; *p != '\0'; p++)
		FUZZ_CHECK(!isspace((unsigned char)*p) &&
		    !iscntrl((unsigned char)*p));
	again = proxyurl_normalise(norm, &cause);
	if (again == NULL || strcmp(again, norm) != 0) {
		fprintf(stderr, "normalise(%s) = %s, again: %s (%s)\n", text,
		    norm, again ? again : "refused", cause ? cause : "");
		abort();
	}
	free(again);
	fuzz_proxyurl_redaction(norm);
	free(norm);
	free(text);
	return 0;
}
