/*
 * fuzz_proxyfile.c: the proxies file format (src/common/proxylist.c, as
 * proxypoold and proxypoolctl read it) on arbitrary file contents,
 * through its parser and duplicate check and through proxypoolctl's
 * reader, and proxypoolctl's output escapers (json_string, out_sanitize)
 * on arbitrary bytes.  Each line parses to a URL without blanks and words
 * within bounds, or to one error; every repeat points at the first copy;
 * a file either loads (every entry a good URL, in normal form once) or
 * each bad line is reported as "file:line: problem"; JSON output is
 * always one valid JSON string; sanitised text is valid UTF-8 without
 * control bytes.  The URLs themselves are fuzz_proxyurl's.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "fuzz.h"
#include "proxylist.h"
#include "proxyurl.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none:
 * no overlong forms, surrogates or code points past U+10FFFF. */
static size_t
fuzz_utf8(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Is s[0..n) one JSON string literal? */
static bool
fuzz_json_ok(const unsigned char *s, size_t n)
{
	size_t i, k;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return false;
	for (i = 1; i < n - 1; ) {
		if (s[i] == '"' || s[i] < 0x20)
			return false;
		if (s[i] == '\\') {
			if (i + 1 >= n - 1)
				return false;
			if (strchr("\"\\/bfnrt", s[i + 1]) != NULL &&
			    s[i + 1] != '\0') {
				i += 2;
				continue;
			}
			if (s[i + 1] != 'u' || i + 6 > n - 1)
				return false;
			for (k = 2; k < 6; k++)
				if (!isxdigit(s[i + k]))
					return false;
			i += 6;
			continue;
		}
		if ((k = fuzz_utf8(s + i, n - 1 - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

/* The escapers on the raw input. */
static void
fuzz_proxyfile_output(const uint8_t *data, size_t size)
{
	char *buf = NULL, *s;
	size_t len = 0, i, k;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	json_string(f, (const char *)data, size);
	if (fclose(f) != 0)
		abort();
	if (!fuzz_json_ok((unsigned char *)buf, len)) {
		fprintf(stderr, "bad JSON: %.*s\n", (int)len, buf);
		abort();
	}
	free(buf);

	s = out_sanitize((const char *)data, size);
	FUZZ_CHECK(s != NULL);
	len = strlen(s);
	for (i = 0; i < len; i += k) {
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] != 0x7f);
		k = fuzz_utf8((unsigned char *)s + i, len - i);
		FUZZ_CHECK(k != 0);
	}
	free(s);
}

/*
 * Every line through proxylist_parse, and the URLs it finds (taken as
 * keys as written) through proxylist_dups.
 */
static void
fuzz_proxylist(const uint8_t *data, size_t size)
{
	struct proxylist_line l;
	enum proxylist_error e;
	const char **keys;
	char *text, *line, *nl, *why;
	size_t n = 0, i, *first, len;

	text = malloc(size + 1);
	keys = calloc(size + 1, sizeof *keys);
	FUZZ_CHECK(text != NULL && keys != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; line < text + size; line = nl + 1) {
		/* a line as getline gives it: to '\n', NULs included */
		nl = memchr(line, '\n', (size_t)(text + size - line));
		if (nl == NULL)
			nl = text + size;
		len = (size_t)(nl - line);
		*nl = '\0';
		e = proxylist_parse(line, len, &l);
		why = proxylist_strerror(e, &l, true);
		FUZZ_CHECK(why != NULL && *why != '\0');
		free(why);
		if (e == PROXYLIST_NUL)
			continue;
		if (e != PROXYLIST_OK) {
			FUZZ_CHECK(l.url != NULL && l.bad != NULL);
			continue;
		}
		FUZZ_CHECK(l.bad == NULL);
		if (l.url == NULL)
			continue;
		FUZZ_CHECK(*l.url != '\0' && strpbrk(l.url, " \t\r\n#") ==
		    NULL);
		FUZZ_CHECK(!l.has_priority ||
		    (l.priority >= -PROXYLIST_PRIORITY_MAX &&
		    l.priority <= PROXYLIST_PRIORITY_MAX));
		FUZZ_CHECK(l.expires_text != NULL || l.expires == 0);
		FUZZ_CHECK(isfinite(l.expires) && l.expires >= 0 &&
		    l.expires <= PROXYLIST_EXPIRES_MAX);
		keys[n++] = l.url;
	}
	first = calloc(n + 1, sizeof *first);
	FUZZ_CHECK(first != NULL);
	len = proxylist_dups(keys, n, first);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(first[i] <= i && first[first[i]] == first[i]);
		FUZZ_CHECK(strcmp(keys[first[i]], keys[i]) == 0);
		if (first[i] != i)
			len--;
	}
	FUZZ_CHECK(len == 0);
	free(first);
	free(keys);
	free(text);
}

/* Every line of errors is "path:N: problem". */
static void
fuzz_proxyfile_errors(const char *path, const char *errs, size_t len)
{
	const char *p = errs, *end = errs + len, *nl, *q;
	size_t plen = strlen(path);

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(nl != NULL);
		if (strncmp(p, path, plen) != 0 || p[plen] != ':' ||
		    !isdigit((unsigned char)p[plen + 1])) {
			fprintf(stderr, "bad error line: %.*s\n",
			    (int)(nl - p), p);
			abort();
		}
		for (q = p + plen + 1; isdigit((unsigned char)*q); q++)
			;
		FUZZ_CHECK(q[0] == ':' && q[1] == ' ' && q + 2 < nl);
		p = nl + 1;
	}
}

/* The keys of a loaded file: each its URL's normal form, none twice. */
static void
fuzz_proxyfile_keys(const struct proxyfile *pf)
{
	const char **keys;
	size_t *first, i;
	char *norm, *cause;

	keys = calloc(pf->n + 1, sizeof *keys);
	first = calloc(pf->n + 1, sizeof *first);
	FUZZ_CHECK(keys != NULL && first != NULL);
	for (i = 0; i < pf->n; i++) {
		norm = proxyurl_normalise(pf->v[i].url, &cause);
		FUZZ_CHECK(norm != NULL && strcmp(norm, pf->v[i].key) == 0);
		free(norm);
		keys[i] = pf->v[i].key;
	}
	FUZZ_CHECK(proxylist_dups(keys, pf->n, first) == 0);
	free(first);
	free(keys);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyfile pf;
	char *errs = NULL;
	size_t errlen = 0, i;
	const char *path;
	FILE *errf;
	int rc;

	fuzz_proxyfile_output(data, size);
	fuzz_proxylist(data, size);

	path = fuzz_input_file("proxies.txt", data, size);
	if ((errf = open_memstream(&errs, &errlen)) == NULL)
		abort();
	memset(&pf, 0, sizeof pf);
	rc = proxyfile_load(&pf, path, errf);
	if (fclose(errf) != 0)
		abort();
	FUZZ_CHECK(rc >= 0);
	if (rc == 0) {
		FUZZ_CHECK(errlen == 0);
		for (i = 0; i < pf.n; i++) {
			FUZZ_CHECK(pf.v[i].url != NULL && pf.v[i].line >= 1);
			FUZZ_CHECK(pf.v[i].key != NULL);
		}
		fuzz_proxyfile_keys(&pf);
	} else {
		FUZZ_CHECK(errlen > 0);
		fuzz_proxyfile_errors(path, errs, errlen);
	}
	proxyfile_clear(&pf);
	free(errs);
	return 0;
}
