/*
 * log.c: leveled logging with timestamps, to stderr, a file or syslog;
 * proxy credentials are redacted from every line.  When stderr is the
 * journal's stream (systemd sets JOURNAL_STREAM to its device:inode),
 * lines carry the syslog priority as a "<N>" prefix instead of a
 * timestamp, so journalctl -p filters them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "proxyurl.h"
#include "xmalloc.h"

int log_level = LOG_LEVEL_INFO;

static FILE	*log_file;		/* NULL: stderr */
static char	*log_path;		/* owned; NULL: stderr */
static int	 log_syslog;		/* write to syslog instead */
static int	 log_journal;		/* stderr is the journal's stream */

static const char *log_names[] = { "error", "warning", "info", "debug" };

int
log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcasecmp(name, log_names[i]) == 0)
			return (int)i;
	}
	if (strcasecmp(name, "warn") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_LEVEL_DEBUG)
		return "?";
	return log_names[level];
}

/* Is stderr the stream systemd's journal reads (JOURNAL_STREAM)? */
static int
log_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (v == NULL || sscanf(v, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
log_open(const char *path, int use_syslog, int level, char **cause)
{
	FILE *f = NULL;

	if (!use_syslog && path != NULL && *path != '\0') {
		if ((f = fopen(path, "a")) == NULL) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			return -1;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	log_close();
	log_file = f;
	log_path = f != NULL ? xstrdup(path) : NULL;
	log_syslog = use_syslog;
	log_journal = !use_syslog && f == NULL && log_is_journal();
	if (use_syslog)
		openlog("proxypoold", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_level = level;
	return 0;
}

void
log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	if (log_syslog)
		closelog();
	log_file = NULL;
	free(log_path);
	log_path = NULL;
	log_syslog = 0;
}

void
log_reopen(void)
{
	FILE *f;

	if (log_path == NULL)
		return;
	if ((f = fopen(log_path, "a")) == NULL)
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	fclose(log_file);
	log_file = f;
}

void
log_write(int level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char *raw, *line, stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	xvasprintf(&raw, fmt, ap);
	va_end(ap);
	line = proxyurl_redact_text(raw);
	free(raw);
	if (log_syslog) {
		syslog(prio[level], "%s", line);
	} else if (log_journal && log_file == NULL) {
		/* the journal stamps the time itself */
		fprintf(stderr, "<%d>%s\n", prio[level], line);
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(log_file != NULL ? log_file : stderr,
		    "%s.%03dZ [%s] %s\n", stamp, (int)(tv.tv_usec / 1000),
		    log_level_name(level), line);
	}
	free(line);
}
