/*
 * output.c: what proxypoolctl prints: aligned tables for people, JSON
 * strings for scripts, and terminal-safe text for anything the daemon
 * sends back.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/*
 * Length of the valid UTF-8 sequence at s (at most len bytes), or 0 when
 * the bytes there are not one (overlong forms, surrogates and code points
 * past U+10FFFF are refused).  ASCII counts as a sequence of 1.
 */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

void
json_string(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		if ((n = utf8_seq(s + i, len - i)) == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (n > 1) {
			fwrite(s + i, 1, n, f);
			i += n;
			continue;
		}
		switch (s[i]) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (s[i] < 0x20 || s[i] == 0x7f)
				fprintf(f, "\\u%04x", s[i]);
			else
				fputc(s[i], f);
			break;
		}
		i++;
	}
	fputc('"', f);
}

char *
out_sanitize(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	char *out, *p;
	size_t i = 0, n;

	p = out = xcalloc(1, len * 4 + 1);
	while (i < len) {
		n = utf8_seq(s + i, len - i);
		if (n == 1 && (s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\'))
			n = 0;
		/* C1 controls U+0080..U+009F (CSI...) steer terminals too */
		if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
			n = 0;
		if (n == 0) {
			if (s[i] == '\\') {
				*p++ = '\\';
				*p++ = '\\';
			} else
				p += sprintf(p, "\\x%02x", s[i]);
			i++;
			continue;
		}
		memcpy(p, s + i, n);
		p += n;
		i += n;
	}
	*p = '\0';
	return out;
}

void
out_time(char *buf, size_t size, long long ms)
{
	struct tm tm;
	time_t t;

	t = (time_t)(ms / 1000);
	if (ms < 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, size, "%lld", ms);
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

struct table *
table_create(int header)
{
	struct table *t;

	t = xcalloc(1, sizeof *t);
	t->header = header;
	return t;
}

void
table_destroy(struct table *t)
{
	unsigned i, j;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->rows[i].ncells; j++)
			free(t->rows[i].cells[j]);
		free(t->rows[i].cells);
	}
	for (i = 0; i < t->ncols; i++)
		free(t->head[i]);
	free(t->rows);
	free(t->head);
	free(t->right);
	free(t);
}

unsigned
table_column(struct table *t, const char *name)
{
	unsigned i;
	char *h, *p;

	for (i = 0; i < t->ncols; i++) {
		if (strcasecmp(t->head[i], name) == 0)
			return i;
	}
	h = out_sanitize(name, strlen(name));
	for (p = h; *p != '\0'; p++)
		*p = toupper((unsigned char)*p);
	t->head = xreallocarray(t->head, t->ncols + 1, sizeof *t->head);
	t->right = xreallocarray(t->right, t->ncols + 1, sizeof *t->right);
	t->head[t->ncols] = h;
	t->right[t->ncols] = 0;
	return t->ncols++;
}

void
table_row(struct table *t)
{
	if (t->nrows == t->rowscap) {
		t->rowscap = t->rowscap == 0 ? 16 : t->rowscap * 2;
		t->rows = xreallocarray(t->rows, t->rowscap, sizeof *t->rows);
	}
	t->rows[t->nrows].cells = NULL;
	t->rows[t->nrows].ncells = 0;
	t->nrows++;
}

void
table_set(struct table *t, unsigned col, const char *s, size_t len,
    int numeric)
{
	struct table_row *r;
	unsigned i;

	if (t->nrows == 0)
		table_row(t);
	r = &t->rows[t->nrows - 1];
	if (col >= r->ncells) {
		r->cells = xreallocarray(r->cells, col + 1, sizeof *r->cells);
		for (i = r->ncells; i <= col; i++)
			r->cells[i] = NULL;
		r->ncells = col + 1;
	}
	free(r->cells[col]);
	r->cells[col] = out_sanitize(s, len);
	if (numeric && col < t->ncols)
		t->right[col] = 1;
}

/* Display width of a sanitised cell: UTF-8 continuation bytes take none. */
static size_t
cell_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

/* Print one line of cells padded to the widths, trimmed at the end. */
static void
table_line(struct table *t, char **cells, unsigned ncells, size_t *width,
    FILE *f)
{
	unsigned i, last;
	const char *c;
	size_t w;

	last = 0;
	for (i = 0; i < t->ncols; i++) {
		if (i < ncells && cells[i] != NULL && *cells[i] != '\0')
			last = i;
	}
	for (i = 0; i <= last && i < t->ncols; i++) {
		c = (i < ncells && cells[i] != NULL) ? cells[i] : "";
		w = cell_width(c);
		if (i > 0)
			fputs("  ", f);
		if (t->right[i])
			fprintf(f, "%*s", (int)(width[i] - w), "");
		fputs(c, f);
		if (!t->right[i] && i < last)
			fprintf(f, "%*s", (int)(width[i] - w), "");
	}
	fputc('\n', f);
}

void
table_print(struct table *t, FILE *f)
{
	size_t *width, w;
	unsigned i, j;

	if (t->ncols == 0)
		return;
	width = xcalloc(t->ncols, sizeof *width);
	for (i = 0; i < t->ncols; i++)
		width[i] = t->header ? cell_width(t->head[i]) : 0;
	for (j = 0; j < t->nrows; j++) {
		for (i = 0; i < t->rows[j].ncells && i < t->ncols; i++) {
			if (t->rows[j].cells[i] == NULL)
				continue;
			w = cell_width(t->rows[j].cells[i]);
			if (w > width[i])
				width[i] = w;
		}
	}
	if (t->header)
		table_line(t, t->head, t->ncols, width, f);
	for (j = 0; j < t->nrows; j++)
		table_line(t, t->rows[j].cells, t->rows[j].ncells, width, f);
	free(width);
}

/* FNV-1a hash of a string. */
static size_t
strset_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

int
strset_add(struct strset *set, const char *s)
{
	const char **old;
	size_t i, oldcap;

	if (set->n * 2 >= set->cap) {
		old = set->slot;
		oldcap = set->cap;
		set->cap = set->cap == 0 ? 64 : set->cap * 2;
		set->slot = xcalloc(set->cap, sizeof *set->slot);
		set->n = 0;
		for (i = 0; i < oldcap; i++) {
			if (old[i] != NULL)
				strset_add(set, old[i]);
		}
		free(old);
	}
	for (i = strset_hash(s) & (set->cap - 1); set->slot[i] != NULL;
	    i = (i + 1) & (set->cap - 1)) {
		if (strcmp(set->slot[i], s) == 0)
			return 0;
	}
	set->slot[i] = s;
	set->n++;
	return 1;
}

void
strset_clear(struct strset *set)
{
	free(set->slot);
	set->slot = NULL;
	set->cap = set->n = 0;
}
