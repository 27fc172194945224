/*
 * ctl.h: proxypoolctl's output helpers (aligned tables, JSON strings, safe
 * terminal text) and the proxy list file reader shared with its tests.
 * Allocation (xmalloc.h) and proxy URLs (proxyurl.h) are src/common's, as
 * the daemon's.
 */
#ifndef CTL_H
#define CTL_H

#include <stddef.h>
#include <stdio.h>

#include "xmalloc.h"

/* ---- output.c ---- */

/* An aligned text table: columns are added by name as rows bring them. */
struct table {
	char		**head;		/* column titles, owned */
	int		 *right;	/* 1 if the column is right-aligned */
	unsigned	  ncols;	/* columns so far */
	struct table_row *rows;		/* rows, owned */
	unsigned	  nrows;	/* rows so far */
	unsigned	  rowscap;	/* rows allocated */
	int		  header;	/* print the titles line */
};

/* One row of a table. */
struct table_row {
	char		**cells;	/* cell text or NULL, owned */
	unsigned	  ncells;	/* cells allocated */
};

struct table	*table_create(int header);
void		 table_destroy(struct table *t);
/* Index of the column titled name, added (upper-cased) when missing. */
unsigned	 table_column(struct table *t, const char *name);
/* Start a new row; later table_set calls fill it. */
void		 table_row(struct table *t);
/* Set a cell of the last row to a sanitised copy of len bytes of s;
 * numeric cells right-align their column. */
void		 table_set(struct table *t, unsigned col, const char *s,
		     size_t len, int numeric);
/* Print the table, columns separated by two spaces, no trailing blanks. */
void		 table_print(struct table *t, FILE *f);

/* Write len bytes of s as a JSON string with quotes; bytes that are not
 * valid UTF-8 become U+FFFD, so the output is always valid JSON. */
void		 json_string(FILE *f, const char *s, size_t len);

/* A copy of len bytes of s printable on a terminal: control bytes and
 * bytes that are not valid UTF-8 become \xHH.  The caller frees. */
char		*out_sanitize(const char *s, size_t len);

/* Format a time in ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void		 out_time(char *buf, size_t size, long long ms);

/* A set of strings, to drop the items a scan cursor returns twice. */
struct strset {
	const char	**slot;		/* (ref) strings, NULL when free */
	size_t		  cap;		/* slots, a power of two */
	size_t		  n;		/* strings in the set */
};

/* Add s (kept by reference) to the set; returns 1 if it was not there,
 * 0 if it was. */
int		 strset_add(struct strset *set, const char *s);
void		 strset_clear(struct strset *set);

/* ---- proxyfile.c ---- */

/* One proxy of a list file. */
struct proxyfile_entry {
	char		*url;		/* the URL as written, owned */
	char		*key;		/* its normal form (the daemon's
					   identity of the proxy), owned */
	unsigned	 line;		/* line number in the file, from 1 */
	int		 has_priority;	/* priority=N was given */
	long		 priority;	/* its value */
	char		*expires;	/* expires=S as written, owned, or NULL */
};

/* The proxies of a list file, in file order. */
struct proxyfile {
	struct proxyfile_entry *v;	/* entries, owned */
	size_t		 n;		/* entries used */
	size_t		 cap;		/* entries allocated */
};

/* Read a list file ("URL [priority=N] [expires=S]" a line, blank lines
 * and # comments skipped: proxypoold's proxies_file, read by the same
 * src/common code) into pf.  Every bad line, a URL listed twice (in
 * normal form) included, is reported on errf as "file:line: problem".
 * Returns the number of bad lines (0 when all is well; pf is empty
 * otherwise), or -1 when the file cannot be read. */
int		 proxyfile_load(struct proxyfile *pf, const char *path,
		     FILE *errf);
void		 proxyfile_clear(struct proxyfile *pf);

#endif
