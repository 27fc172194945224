/*
 * log.h: leveled logging to stderr, a file or syslog.  The macros test
 * the level before evaluating their arguments; every line passes through
 * credential redaction (user:***@) before it is written.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

extern int log_level;		/* lines above this level are skipped */

/* Parse "error", "warning", "info", "debug"; -1 if unknown. */
int	log_level_parse(const char *name);
const char *log_level_name(int level);

/* Write to path (NULL: stderr) or to syslog; returns -1 with cause. */
int	log_open(const char *path, int use_syslog, int level, char **cause);
void	log_close(void);
/* Reopen the log file (after logrotate moved it). */
void	log_reopen(void);

void	log_write(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...) do {						\
	if ((lvl) <= log_level)						\
		log_write((lvl), __VA_ARGS__);				\
} while (0)
#define log_error(...)	log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Context prefixes: the pool, or the client (id and peer uid). */
#define log_pool(lvl, pool, fmt, ...)					\
	log_at(lvl, "pool %s: " fmt, (pool), ##__VA_ARGS__)
#define log_client(lvl, c, fmt, ...)					\
	log_at(lvl, "client %llu uid %ld: " fmt,			\
	    (unsigned long long)(c)->id, (long)(c)->uid, ##__VA_ARGS__)

#endif /* LOG_H */
