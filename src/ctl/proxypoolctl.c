/*
 * proxypoolctl.c: the command line of proxypoold.  Sends one command over
 * the daemon's UNIX socket (RESP, with hiredis) and prints the reply as an
 * aligned table for people or as JSON for scripts.
 *
 * Exit status: 0 done, 1 the daemon answered with an error, 2 usage error,
 * 3 the daemon could not be reached or did not answer in time.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <termios.h>
#include <time.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "ctl.h"
#include "proxylist.h"
#include "proxyurl.h"
#include "where.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#ifndef SBINDIR
#define SBINDIR "/usr/sbin"
#endif

#ifndef SOCKET_PATH
#define SOCKET_PATH	RUNSTATEDIR "/proxypoold/proxypoold.sock"
#endif
/* listen.socket's default: configure's runstatedir, one -D for both */
#define CTL_SOCKET	SOCKET_PATH
#define CTL_TIMEOUT	10.0	/* default seconds to wait for a reply */
#define CTL_MAXARGS	8	/* positional arguments of a command */
#define CTL_MAXOPTS	8	/* options of a command */
#define CTL_LIST_PAGE	500	/* LIST COUNT asked per page */
#define CTL_LIST_PAGES	100000	/* pages followed at most */
#define CTL_ADD_BATCH	256	/* ADD commands pipelined at once */
#define CTL_LOCK_TTL	"60"	/* lock TTL when none is given */
#define CTL_TTL_MAX	((double)PROXYLIST_EXPIRES_MAX)	/* longest TTL or
						 * expiry, s (the daemon's) */
#define CTL_WAIT_MAX	3600.0	/* longest WAIT, s (daemon) */
#define CTL_LATENCY_MAX	86400000.0	/* largest LATENCY, ms (daemon) */
#define CTL_CHECK_OUTPUT (1024 * 1024) /* bytes kept of proxypoold -t */

#define EXIT_REPLY	1	/* the daemon answered with an error */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_CONN	3	/* cannot reach the daemon, or timed out */

#define CTL_VERIFY_EXTRA	60	/* VERIFY: more seconds for a reply */

/* The state of one run. */
struct ctl {
	const char	*socket;	/* (ref) socket path */
	int		 json;		/* print JSON */
	double		 timeout;	/* seconds to wait for a reply */
	double		 extra;		/* more seconds for this request */
	redisContext	*c;		/* connection, owned */
	const struct cmd *cmd;		/* (ref) the command run */
	int		 wide;		/* stats --wide: every column */
};

/* One option a command accepts. */
struct cmd_opt {
	const char	*name;		/* long name without "--" */
	char		 shortname;	/* one-letter alias, or 0 */
	int		 has_arg;	/* takes a value */
};

/* A command line split into positional arguments and option values. */
struct cmd_args {
	char		*argv[CTL_MAXARGS];	/* (ref) positional arguments */
	int		 argc;			/* how many */
	const char	*opt[CTL_MAXOPTS];	/* (ref) value by option index,
						 * "" for a flag, NULL unset */
};

/*
 * A plain command, run by ctl_plain: the daemon's command word then the
 * positional arguments as given (their number is checked against the
 * command's minargs and maxargs), and a printer for the reply.  The
 * printers shared by several commands take their words from here.
 */
struct cmd_plain {
	const char	*word;		/* the daemon's command word */
	double		 extra;		/* more seconds to wait for a reply */
	int		(*print)(struct ctl *, redisReply *);
	const char	*key;		/* JSON key, or column title */
	const char	*yes;		/* print_bool: the words for 1 */
	const char	*no;		/* and for 0 */
};

/* A proxypoolctl command. */
struct cmd {
	const char	*name;		/* command word */
	int		 minargs;	/* positional arguments, at least */
	int		 maxargs;	/* at most */
	const struct cmd_opt *opts;	/* accepted options, NULL-terminated */
	int		(*run)(struct ctl *, struct cmd_args *);
	const char	*usage;		/* arguments synopsis */
	const char	*help;		/* one line description */
	struct cmd_plain plain;		/* run is ctl_plain: what it sends */
};

static int	ctl_plain(struct ctl *, struct cmd_args *);
static int	ctl_lease(struct ctl *, struct cmd_args *);
static int	ctl_renew(struct ctl *, struct cmd_args *);
static int	ctl_release(struct ctl *, struct cmd_args *);
static int	ctl_report(struct ctl *, struct cmd_args *);
static int	ctl_bind(struct ctl *, struct cmd_args *);
static int	ctl_list(struct ctl *, struct cmd_args *);
static int	ctl_add(struct ctl *, struct cmd_args *);
static int	ctl_check_config(struct ctl *, struct cmd_args *);
static int	ctl_lock(struct ctl *, struct cmd_args *);
static int	ctl_top(struct ctl *, struct cmd_args *);
static int	ctl_verify(struct ctl *, struct cmd_args *);
static int	ctl_stats(struct ctl *, struct cmd_args *);

static int	print_ok(struct ctl *, redisReply *);
static int	print_pairs_reply(struct ctl *, redisReply *);
static int	print_bool(struct ctl *, redisReply *);
static int	print_names(struct ctl *, redisReply *);
static int	print_str(struct ctl *, redisReply *);
static int	print_binding(struct ctl *, redisReply *);
static int	print_stats(struct ctl *, redisReply *);
static int	print_info(struct ctl *, redisReply *);
static int	print_gateway(struct ctl *, redisReply *);

static const struct cmd_opt opts_none[] = { { NULL, 0, 0 } };
static const struct cmd_opt opts_lease[] = {
	{ "name", 0, 1 }, { "ttl", 0, 1 }, { "wait", 0, 1 },
	{ "shared", 0, 0 }, { "exclusive", 0, 0 }, { NULL, 0, 0 }
};
static const struct cmd_opt opts_ttl[] = { { "ttl", 0, 1 }, { NULL, 0, 0 } };
static const struct cmd_opt opts_latency[] = {
	{ "latency", 0, 1 }, { NULL, 0, 0 }
};
static const struct cmd_opt opts_list[] = {
	{ "state", 0, 1 }, { "count", 0, 1 }, { "wide", 0, 0 }, { NULL, 0, 0 }
};
static const struct cmd_opt opts_add[] = {
	{ "priority", 0, 1 }, { "expires", 0, 1 }, { "file", 'f', 1 },
	{ NULL, 0, 0 }
};
static const struct cmd_opt opts_wait[] = { { "wait", 0, 1 }, { NULL, 0, 0 } };
static const struct cmd_opt opts_stats[] = {
	{ "wide", 0, 0 }, { NULL, 0, 0 }
};
static const struct cmd_opt opts_top[] = {
	{ "interval", 'n', 1 }, { "iterations", 0, 1 }, { NULL, 0, 0 }
};

/* Option indexes, in the order of the tables above. */
enum { LEASE_NAME, LEASE_TTL, LEASE_WAIT, LEASE_SHARED, LEASE_EXCLUSIVE };
enum { LIST_STATE, LIST_COUNT, LIST_WIDE };
enum { ADD_PRIORITY, ADD_EXPIRES, ADD_FILE };
enum { TOP_INTERVAL, TOP_ITERATIONS };
enum { STATS_WIDE };

/* Commands; those run by ctl_plain say what to send in their last field. */
static const struct cmd cmds[] = {
	{ "lease", 1, 1, opts_lease, ctl_lease,
	  "POOL [--name NAME] [--ttl S] [--wait S] [--shared|--exclusive]",
	  "lease a proxy; prints proxy, token, expires, fence", { 0 } },
	{ "renew", 2, 2, opts_ttl, ctl_renew,
	  "POOL TOKEN [--ttl S]", "extend a lease; prints the new expiry",
	  { 0 } },
	{ "release", 2, 3, opts_latency, ctl_release,
	  "POOL TOKEN [ok|failed|banned] [--latency MS]",
	  "give a lease back with how the proxy did", { 0 } },
	{ "report", 3, 3, opts_latency, ctl_report,
	  "POOL URL ok|failed|banned [--latency MS]",
	  "report how a proxy behaved without a lease", { 0 } },
	{ "bind", 3, 3, opts_ttl, ctl_bind,
	  "POOL NAME URL [--ttl S]", "bind a name to a proxy", { 0 } },
	{ "unbind", 2, 2, opts_none, ctl_plain,
	  "POOL NAME", "remove the binding of a name",
	  { .word = "UNBIND", .print = print_bool, .key = "removed",
	    .yes = "unbound", .no = "not bound" } },
	{ "binding", 2, 2, opts_none, ctl_plain,
	  "POOL NAME", "print the proxy a name is bound to",
	  { .word = "BINDING", .print = print_binding } },
	{ "bindings", 2, 2, opts_none, ctl_plain,
	  "POOL URL", "print the names bound to a proxy",
	  { .word = "BINDINGS", .print = print_names, .key = "name" } },
	{ "pools", 0, 0, opts_none, ctl_plain,
	  "", "list the pools",
	  { .word = "POOLS", .print = print_names, .key = "pool" } },
	{ "stats", 0, 1, opts_stats, ctl_stats,
	  "[POOL] [--wide]", "counters of one pool or of every pool (--wide: "
	  "every column of the table)",
	  { .word = "STATS", .print = print_stats } },
	{ "list", 1, 1, opts_list, ctl_list,
	  "POOL [--state STATE] [--count N] [--wide]",
	  "list the proxies of a pool (--wide: next check and last error too)",
	  { 0 } },
	{ "add", 1, 2, opts_add, ctl_add,
	  "POOL URL [--priority P] [--expires S] | POOL -f FILE",
	  "add a proxy, or every proxy listed in FILE", { 0 } },
	{ "remove", 2, 2, opts_none, ctl_plain,
	  "POOL URL", "remove a proxy (drained if leased)",
	  { .word = "REMOVE", .print = print_bool, .key = "removed",
	    .yes = "removed", .no = "not in the pool" } },
	{ "gc", 1, 1, opts_none, ctl_plain,
	  "POOL", "collect expired leases, bindings and proxies now",
	  { .word = "GC", .print = print_pairs_reply } },
	{ "verify", 0, 1, opts_none, ctl_verify,
	  "[POOL]", "check the invariants of one pool or of every pool; "
	  "exits 1 on any violation", { 0 } },
	{ "reload", 0, 0, opts_none, ctl_plain,
	  "", "re-read the configuration file",
	  { .word = "RELOAD", .print = print_ok } },
	{ "info", 0, 0, opts_none, ctl_plain,
	  "", "daemon information (INFO)",
	  { .word = "INFO", .print = print_info } },
	{ "gateway", 0, 0, opts_none, ctl_plain,
	  "", "the gateway's listeners and their counters",
	  { .word = "INFO", .print = print_gateway } },
	{ "top", 0, 0, opts_top, ctl_top,
	  "[--interval S] [--iterations N]",
	  "a live view of every pool and the gateway; q quits", { 0 } },
	{ "metrics", 0, 0, opts_none, ctl_plain,
	  "", "Prometheus metrics text",
	  { .word = "METRICS", .print = print_str, .key = "metrics" } },
	/* a probe may take as long as its check's timeout */
	{ "check", 2, 2, opts_none, ctl_plain,
	  "POOL URL", "probe a proxy now with the pool's checks",
	  { .word = "CHECK", .extra = 30, .print = print_pairs_reply } },
	{ "check-config", 1, 1, opts_none, ctl_check_config,
	  "FILE", "validate a configuration file (proxypoold -t -c FILE)",
	  { 0 } },
	{ "lock", 2, 3, opts_wait, ctl_lock,
	  "NAME OWNER [TTL] [--wait S]",
	  "take a lock (TTL default " CTL_LOCK_TTL " s); prints its fence",
	  { 0 } },
	{ "unlock", 2, 2, opts_none, ctl_plain,
	  "NAME OWNER", "release a lock held by OWNER",
	  { .word = "UNLOCK", .print = print_ok } },
	{ "ping", 0, 0, opts_none, ctl_plain,
	  "", "check that the daemon answers",
	  { .word = "PING", .print = print_str, .key = "reply" } },
	{ NULL, 0, 0, NULL, NULL, NULL, NULL, { 0 } }
};

/* Time fields shown as dates in tables. */
static const char *time_fields[] = { "expires", "until", "down_since",
    "last_check", "next_check", NULL };

/* The columns of the list table without --wide. */
static const char *const list_columns[] = { "proxy", "state", "health",
    "priority", "holders", "expires", "until", "down_since", "last_check",
    "failures", "latency", NULL };

/* Print "proxypoolctl: message" on stderr. */
static void __attribute__((format(printf, 1, 2)))
ctl_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("proxypoolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Report a usage error about the current command; returns EXIT_USAGE. */
static int __attribute__((format(printf, 2, 3)))
usage_error(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("proxypoolctl: ", stderr);
	if (ctl->cmd != NULL)
		fprintf(stderr, "%s: ", ctl->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctl->cmd != NULL)
		fprintf(stderr, "usage: proxypoolctl %s %s\n", ctl->cmd->name,
		    ctl->cmd->usage);
	else
		fputs("try 'proxypoolctl --help'\n", stderr);
	return EXIT_USAGE;
}

/*
 * Parse a number of seconds (what) into a canonical string for the
 * daemon (up to millisecond precision).  zero_ok allows 0; max is the
 * daemon's own bound.  Returns 0, or
 * -1 after a usage message.
 */
static int
parse_seconds(struct ctl *ctl, const char *what, const char *s, int zero_ok,
    double max, char *out, size_t size)
{
	double v;
	char *end;
	size_t n;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
	    isspace((unsigned char)*s)) {
		usage_error(ctl, "%s: '%s' is not a number of seconds", what, s);
		return -1;
	}
	if (v < 0 || (v == 0 && !zero_ok) || v > max) {
		usage_error(ctl, "%s: %s out of range (%s to %g s)",
		    what, s, zero_ok ? "0" : "more than 0", max);
		return -1;
	}
	if (v > 0 && v < 0.001) {
		usage_error(ctl, "%s: %s is less than a millisecond", what, s);
		return -1;
	}
	snprintf(out, size, "%.3f", v);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
	return 0;
}

/* Parse an integer in [min, max] (what names it).  Returns 0 or -1. */
static int
parse_int(struct ctl *ctl, const char *what, const char *s, long long min,
    long long max, long long *out)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 ||
	    isspace((unsigned char)*s)) {
		usage_error(ctl, "%s: '%s' is not an integer", what, s);
		return -1;
	}
	if (v < min || v > max) {
		usage_error(ctl, "%s: %s out of range %lld to %lld", what, s,
		    min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Upper-case an outcome word (ok, failed, banned) into out.  Returns 0,
 * or -1 after a usage message. */
static int
parse_outcome(struct ctl *ctl, const char *s, char *out, size_t size)
{
	static const char *words[] = { "ok", "failed", "banned", NULL };
	size_t i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcasecmp(s, words[i]) == 0)
			break;
	}
	if (words[i] == NULL) {
		usage_error(ctl, "outcome '%s' is not ok, failed or banned", s);
		return -1;
	}
	snprintf(out, size, "%s", words[i]);
	for (i = 0; out[i] != '\0'; i++)
		out[i] = toupper((unsigned char)out[i]);
	return 0;
}

/*
 * Try argv[*i] as a global option: -j/--json, -s/--socket SOCKET,
 * -t/--timeout S (also --socket=SOCKET, --timeout=S), before or after
 * the command word.  Returns 1 when it was one (its value consumed), 0
 * when not, -1 after a usage message.
 */
static int
global_option(struct ctl *ctl, int argc, char **argv, int *i)
{
	const char *opt = argv[*i], *value = NULL;
	char *end;
	int which;

	if (strcmp(opt, "-j") == 0 || strcmp(opt, "--json") == 0) {
		ctl->json = 1;
		return 1;
	}
	if (strcmp(opt, "-s") == 0 || strcmp(opt, "--socket") == 0)
		which = 's';
	else if (strcmp(opt, "-t") == 0 || strcmp(opt, "--timeout") == 0)
		which = 't';
	else if (strncmp(opt, "--socket=", 9) == 0) {
		which = 's';
		value = opt + 9;
	} else if (strncmp(opt, "--timeout=", 10) == 0) {
		which = 't';
		value = opt + 10;
	} else
		return 0;
	if (value == NULL) {
		if (*i + 1 == argc) {
			usage_error(ctl, "option %s needs a value", opt);
			return -1;
		}
		value = argv[++*i];
	}
	if (which == 's') {
		if (*value == '\0') {
			usage_error(ctl, "option %s: empty socket path", opt);
			return -1;
		}
		ctl->socket = value;
		return 1;
	}
	errno = 0;
	ctl->timeout = strtod(value, &end);
	if (*value == '\0' || *end != '\0' || errno != 0 ||
	    !isfinite(ctl->timeout) || ctl->timeout <= 0 ||
	    ctl->timeout > 86400) {
		usage_error(ctl, "option %s: '%s' is not a number of seconds "
		    "between 0 and 86400", opt, value);
		return -1;
	}
	return 1;
}

/*
 * Split a command's words into positional arguments and options
 * ("--name value", "--name=value", "-f value"; "--" ends options).
 * Returns 0, or EXIT_USAGE after a message.
 */
static int
parse_args(struct ctl *ctl, int argc, char **argv, struct cmd_args *a)
{
	const struct cmd *cmd = ctl->cmd;
	const struct cmd_opt *o;
	const char *name, *value;
	size_t namelen;
	int i, k, options = 1;

	memset(a, 0, sizeof *a);
	for (i = 0; i < argc; i++) {
		if (!options || argv[i][0] != '-' || argv[i][1] == '\0') {
			if (a->argc == cmd->maxargs)
				return usage_error(ctl, "unexpected argument "
				    "'%s'", argv[i]);
			a->argv[a->argc++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			options = 0;
			continue;
		}
		value = NULL;
		o = NULL;
		if (argv[i][1] == '-') {
			name = argv[i] + 2;
			namelen = strcspn(name, "=");
			if (name[namelen] == '=')
				value = name + namelen + 1;
			for (k = 0; cmd->opts[k].name != NULL; k++) {
				if (strlen(cmd->opts[k].name) == namelen &&
				    strncmp(cmd->opts[k].name, name,
				    namelen) == 0) {
					o = &cmd->opts[k];
					break;
				}
			}
		} else if (argv[i][2] == '\0') {
			for (k = 0; cmd->opts[k].name != NULL; k++) {
				if (cmd->opts[k].shortname == argv[i][1]) {
					o = &cmd->opts[k];
					break;
				}
			}
		}
		if (o == NULL) {
			switch (global_option(ctl, argc, argv, &i)) {
			case 1:
				continue;
			case -1:
				return EXIT_USAGE;
			}
			return usage_error(ctl, "unknown option '%s'", argv[i]);
		}
		if (!o->has_arg) {
			if (value != NULL)
				return usage_error(ctl, "option --%s takes no "
				    "value", o->name);
			value = "";
		} else if (value == NULL) {
			if (i + 1 == argc)
				return usage_error(ctl, "option --%s needs a "
				    "value", o->name);
			value = argv[++i];
		}
		if (a->opt[k] != NULL)
			return usage_error(ctl, "option --%s given twice",
			    o->name);
		a->opt[k] = value;
	}
	if (a->argc < cmd->minargs)
		return usage_error(ctl, "missing argument%s",
		    cmd->minargs - a->argc > 1 ? "s" : "");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Talking to the daemon                                                */
/* ------------------------------------------------------------------ */

/* seconds as a struct timeval */
static struct timeval
ctl_tv(double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Describe a hiredis failure on stderr (and in JSON); returns EXIT_CONN. */
static int
ctl_connfail(struct ctl *ctl, const char *doing)
{
	char msg[512];
	int err = ctl->c != NULL ? ctl->c->err : REDIS_ERR_OTHER;
	const char *es = ctl->c != NULL ? ctl->c->errstr : "out of memory";

	if (err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == ETIMEDOUT || errno == EINPROGRESS))
		snprintf(msg, sizeof msg, "%s %s: timed out after %gs", doing,
		    ctl->socket, ctl->timeout + ctl->extra);
	else if (err == REDIS_ERR_EOF)
		snprintf(msg, sizeof msg, "%s %s: the daemon closed the "
		    "connection", doing, ctl->socket);
	else
		snprintf(msg, sizeof msg, "%s %s: %s", doing, ctl->socket, es);
	ctl_warn("%s", msg);
	if (ctl->json) {
		fputs("{\"error\":\"CONNECTION\",\"message\":", stdout);
		json_string(stdout, msg, strlen(msg));
		fputs("}\n", stdout);
	}
	return EXIT_CONN;
}

/* The compiled-in default socket (ctl->socket points here unless -s or
 * PROXYPOOLD_SOCKET named one). */
static const char default_socket[] = CTL_SOCKET;

/*
 * Without -s or PROXYPOOLD_SOCKET, and no socket at the default: the
 * socket of a daemon the user runs, $XDG_RUNTIME_DIR/proxypoold.sock
 * (contrib/quickstart links its socket there), when there is one.
 */
static void
ctl_find_socket(struct ctl *ctl)
{
	static char alt[PATH_MAX];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat sb;

	if (ctl->socket != default_socket || stat(default_socket, &sb) == 0 ||
	    errno != ENOENT || xdg == NULL || *xdg != '/' ||
	    (size_t)snprintf(alt, sizeof alt, "%s/proxypoold.sock", xdg) >=
	    sizeof alt || stat(alt, &sb) != 0 || !S_ISSOCK(sb.st_mode))
		return;
	ctl->socket = alt;
}

/* Connect to the daemon.  Returns 0 or EXIT_CONN after a message. */
static int
ctl_connect(struct ctl *ctl)
{
	int rc;

	ctl_find_socket(ctl);
	ctl->c = redisConnectUnixWithTimeout(ctl->socket, ctl_tv(ctl->timeout));
	if (ctl->c == NULL || ctl->c->err) {
		rc = ctl_connfail(ctl, "cannot connect to proxypoold at");
		if (ctl->c != NULL && ctl->c->err == REDIS_ERR_IO &&
		    (errno == ENOENT || errno == ECONNREFUSED))
			fputs("proxypoolctl: is proxypoold running? (socket: "
			    "-s SOCKET or $PROXYPOOLD_SOCKET)\n", stderr);
		return rc;
	}
	if (redisSetTimeout(ctl->c, ctl_tv(ctl->timeout)) != REDIS_OK)
		return ctl_connfail(ctl, "cannot set a timeout on");
	return 0;
}

/* An argument vector being built for one request. */
struct req {
	const char	*argv[2 * CTL_MAXARGS + 2 * CTL_MAXOPTS + 2]; /* (ref) */
	size_t		 argvlen[2 * CTL_MAXARGS + 2 * CTL_MAXOPTS + 2];
	int		 argc;		/* words so far */
};

/* Append a word (which must outlive the request). */
static void
req_add(struct req *r, const char *s)
{
	r->argv[r->argc] = s;
	r->argvlen[r->argc] = strlen(s);
	r->argc++;
}

/*
 * Send a request and read its reply, waiting extra seconds more than the
 * timeout (a WAIT the daemon honours).  Returns the reply, or NULL after a
 * connection message (exit status EXIT_CONN).
 */
static redisReply *
ctl_request(struct ctl *ctl, struct req *r, double extra)
{
	redisReply *reply;

	if (ctl->c == NULL && ctl_connect(ctl) != 0)
		return NULL;
	ctl->extra = extra;
	if (extra > 0 &&
	    redisSetTimeout(ctl->c, ctl_tv(ctl->timeout + extra)) != REDIS_OK) {
		ctl_connfail(ctl, "cannot set a timeout on");
		return NULL;
	}
	errno = 0;
	reply = redisCommandArgv(ctl->c, r->argc, r->argv, r->argvlen);
	if (reply == NULL) {
		ctl_connfail(ctl, "no reply from proxypoold at");
		return NULL;
	}
	return reply;
}

/* Print a daemon error reply (stderr, and JSON on stdout); returns
 * EXIT_REPLY. */
static int
ctl_reply_error(struct ctl *ctl, const redisReply *reply)
{
	char *safe;
	size_t codelen;

	safe = out_sanitize(reply->str, reply->len);
	ctl_warn("%s: %s", ctl->cmd->name, safe);
	free(safe);
	if (ctl->json) {
		codelen = strcspn(reply->str, " ");
		fputs("{\"error\":", stdout);
		json_string(stdout, reply->str, codelen);
		fputs(",\"message\":", stdout);
		json_string(stdout, reply->str, reply->len);
		fputs("}\n", stdout);
	}
	return EXIT_REPLY;
}

/* Complain about a reply of an unexpected shape; returns EXIT_REPLY. */
static int
ctl_unexpected(struct ctl *ctl, const redisReply *reply)
{
	ctl_warn("%s: unexpected reply from proxypoold (type %d)",
	    ctl->cmd->name, reply->type);
	if (ctl->json)
		fputs("{\"error\":\"PROTOCOL\",\"message\":\"unexpected reply "
		    "from proxypoold\"}\n", stdout);
	return EXIT_REPLY;
}

/* ------------------------------------------------------------------ */
/* Reply printing                                                       */
/* ------------------------------------------------------------------ */

/* True if r is a string-like reply. */
static int
reply_is_str(const redisReply *r)
{
	return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/* True if r is a flat array of field/value pairs. */
static int
reply_is_pairs(const redisReply *r)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return 0;
	for (i = 0; i < r->elements; i += 2) {
		if (!reply_is_str(r->element[i]))
			return 0;
	}
	return 1;
}

/* The value of field name in a pairs reply, or NULL. */
static const redisReply *
reply_field(const redisReply *r, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < r->elements; i += 2) {
		if (strcmp(r->element[i]->str, name) == 0)
			return r->element[i + 1];
	}
	return NULL;
}

/* Write any reply as JSON: pairs arrays are not guessed here. */
static void
json_reply(FILE *f, const redisReply *r)
{
	size_t i;

	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		fprintf(f, "%lld", r->integer);
		break;
	case REDIS_REPLY_NIL:
		fputs("null", f);
		break;
	case REDIS_REPLY_ARRAY:
		fputc('[', f);
		for (i = 0; i < r->elements; i++) {
			if (i > 0)
				fputc(',', f);
			json_reply(f, r->element[i]);
		}
		fputc(']', f);
		break;
	default:
		json_string(f, r->str, r->len);
		break;
	}
}

/* Write a pairs reply as a JSON object. */
static void
json_pairs(FILE *f, const redisReply *r)
{
	size_t i;

	fputc('{', f);
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (i > 0)
			fputc(',', f);
		json_string(f, r->element[i]->str, r->element[i]->len);
		fputc(':', f);
		if (reply_is_pairs(r->element[i + 1]) &&
		    r->element[i + 1]->elements > 0)
			json_pairs(f, r->element[i + 1]);
		else
			json_reply(f, r->element[i + 1]);
	}
	fputc('}', f);
}

/* True if field holds a time (ms since the epoch) worth showing as one. */
static int
is_time_field(const char *field)
{
	size_t i;

	for (i = 0; time_fields[i] != NULL; i++) {
		if (strcasecmp(field, time_fields[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * Text of a scalar reply for a table cell into buf; times are shown as
 * dates when asked.  Sets *numeric for integers.  Returns a pointer to the
 * text (buf or the reply's own string) and its length in *len.
 */
static const char *
cell_text(const redisReply *r, int as_time, char *buf, size_t size,
    size_t *len, int *numeric)
{
	long long v;
	char *end;

	*numeric = 0;
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		v = r->integer;
		break;
	case REDIS_REPLY_NIL:
		*len = 1;
		return "-";
	case REDIS_REPLY_ARRAY:
		*len = (size_t)snprintf(buf, size, "[%zu]", r->elements);
		return buf;
	default:
		if (!as_time || r->len == 0) {
			*len = r->len;
			return r->str;
		}
		errno = 0;
		v = strtoll(r->str, &end, 10);
		if (*end != '\0' || errno != 0) {
			*len = r->len;
			return r->str;
		}
		break;
	}
	if (as_time && v <= 0) {
		*len = 1;
		return "-";
	}
	if (as_time)
		out_time(buf, size, v);
	else {
		snprintf(buf, size, "%lld", v);
		*numeric = 1;
	}
	*len = strlen(buf);
	return buf;
}

/* Add a pairs reply as one row of t (columns by field name). */
static void
table_pairs_row(struct table *t, const redisReply *r)
{
	char buf[64];
	const char *s;
	size_t i, len;
	unsigned col;
	int numeric;

	table_row(t);
	for (i = 0; i + 1 < r->elements; i += 2) {
		col = table_column(t, r->element[i]->str);
		s = cell_text(r->element[i + 1], is_time_field(r->element[i]->str),
		    buf, sizeof buf, &len, &numeric);
		table_set(t, col, s, len, numeric);
	}
}

/* Add a row of a pairs reply with only the fields of cols (NULL-ended),
 * in that order (each a column even when the reply lacks it). */
static void
table_fields_row(struct table *t, const redisReply *r,
    const char *const *cols)
{
	char buf[64];
	const redisReply *v;
	const char *s;
	size_t len;
	unsigned col;
	int numeric;

	table_row(t);
	for (; *cols != NULL; cols++) {
		col = table_column(t, *cols);
		if ((v = reply_field(r, *cols)) == NULL)
			continue;
		s = cell_text(v, is_time_field(*cols), buf, sizeof buf, &len,
		    &numeric);
		table_set(t, col, s, len, numeric);
	}
}

/* Print a pairs reply as "field  value" lines, aligned. */
static void
print_pairs(const redisReply *r)
{
	struct table *t;
	char buf[128], both[64];
	const char *s;
	size_t i, len;
	int numeric;

	t = table_create(0);
	table_column(t, "field");
	table_column(t, "value");
	for (i = 0; i + 1 < r->elements; i += 2) {
		table_row(t);
		table_set(t, 0, r->element[i]->str, r->element[i]->len, 0);
		s = cell_text(r->element[i + 1], 0, buf, sizeof buf, &len,
		    &numeric);
		if (is_time_field(r->element[i]->str) &&
		    r->element[i + 1]->type == REDIS_REPLY_INTEGER &&
		    r->element[i + 1]->integer > 0) {
			out_time(both, sizeof both, r->element[i + 1]->integer);
			snprintf(buf, sizeof buf, "%lld (%s)",
			    r->element[i + 1]->integer, both);
			s = buf;
			len = strlen(buf);
		}
		table_set(t, 1, s, len, 0);
	}
	table_print(t, stdout);
	table_destroy(t);
}

/* Print a reply expected to be +OK: "OK" or {"ok":true}. */
static int
print_ok(struct ctl *ctl, redisReply *reply)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type != REDIS_REPLY_STATUS)
		return ctl_unexpected(ctl, reply);
	if (ctl->json)
		puts("{\"ok\":true}");
	else
		puts("OK");
	return 0;
}

/* Print a pairs reply as a table of fields or a JSON object. */
static int
print_pairs_reply(struct ctl *ctl, redisReply *reply)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (!reply_is_pairs(reply))
		return ctl_unexpected(ctl, reply);
	if (ctl->json) {
		json_pairs(stdout, reply);
		fputc('\n', stdout);
	} else
		print_pairs(reply);
	return 0;
}

/* Print a :1/:0 reply as the command's yes or no words, or
 * {"key":true|false}. */
static int
print_bool(struct ctl *ctl, redisReply *reply)
{
	const struct cmd_plain *p = &ctl->cmd->plain;

	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type != REDIS_REPLY_INTEGER)
		return ctl_unexpected(ctl, reply);
	if (ctl->json)
		printf("{\"%s\":%s}\n", p->key, reply->integer ? "true" :
		    "false");
	else
		puts(reply->integer ? p->yes : p->no);
	return 0;
}

/* Print an array of strings as a one-column table (titled with the
 * command's key) or a JSON array. */
static int
print_names(struct ctl *ctl, redisReply *reply)
{
	struct table *t;
	size_t i;

	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type != REDIS_REPLY_ARRAY)
		return ctl_unexpected(ctl, reply);
	for (i = 0; i < reply->elements; i++) {
		if (!reply_is_str(reply->element[i]))
			return ctl_unexpected(ctl, reply->element[i]);
	}
	if (ctl->json) {
		json_reply(stdout, reply);
		fputc('\n', stdout);
		return 0;
	}
	if (reply->elements == 0)
		return 0;
	t = table_create(1);
	table_column(t, ctl->cmd->plain.key);
	for (i = 0; i < reply->elements; i++) {
		table_row(t);
		table_set(t, 0, reply->element[i]->str,
		    reply->element[i]->len, 0);
	}
	table_print(t, stdout);
	table_destroy(t);
	return 0;
}

/* Run a request and print its reply with fn; frees the reply. */
static int
ctl_run(struct ctl *ctl, struct req *r, double extra,
    int (*fn)(struct ctl *, redisReply *))
{
	redisReply *reply;
	int rc;

	if ((reply = ctl_request(ctl, r, extra)) == NULL)
		return EXIT_CONN;
	rc = fn(ctl, reply);
	freeReplyObject(reply);
	return rc;
}

/* Start r with the command word and the first n positional arguments. */
static void
req_words(struct req *r, const char *word, const struct cmd_args *a, int n)
{
	int i;

	req_add(r, word);
	for (i = 0; i < n; i++)
		req_add(r, a->argv[i]);
}

/* Run a plain command (struct cmd_plain): its word and every positional
 * argument, printed by its printer. */
static int
ctl_plain(struct ctl *ctl, struct cmd_args *a)
{
	const struct cmd_plain *p = &ctl->cmd->plain;
	struct req r = { .argc = 0 };

	req_words(&r, p->word, a, a->argc);
	return ctl_run(ctl, &r, p->extra, p->print);
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */
/* ------------------------------------------------------------------ */

/* VERIFY's reply for pool: 0 and its violations printed, -1 (NOPOOL: it
 * went meanwhile, skipped when every pool is verified) or EXIT_*. */
static int
verify_pool(struct ctl *ctl, const char *pool, int all, size_t *found,
    int *first)
{
	struct req r = { .argc = 0 };
	redisReply *reply;
	size_t i;
	char *safe;
	int rc = 0;

	req_add(&r, "VERIFY");
	req_add(&r, pool);
	/* the daemon walks the pool page by page, for up to 30 times its
	 * redis.timeout */
	if ((reply = ctl_request(ctl, &r, CTL_VERIFY_EXTRA)) == NULL)
		return EXIT_CONN;
	if (reply->type == REDIS_REPLY_ERROR) {
		if (all && strncmp(reply->str, "NOPOOL ", 7) == 0)
			rc = -1;
		else {
			if (!*first && ctl->json)
				fputs("}\n", stdout);
			*first = 1;
			rc = ctl_reply_error(ctl, reply);
		}
		goto out;
	}
	if (reply->type != REDIS_REPLY_ARRAY) {
		rc = ctl_unexpected(ctl, reply);
		goto out;
	}
	for (i = 0; i < reply->elements; i++)
		if (!reply_is_str(reply->element[i])) {
			rc = ctl_unexpected(ctl, reply->element[i]);
			goto out;
		}
	if (ctl->json) {
		fputs(*first ? "{" : ",", stdout);
		json_string(stdout, pool, strlen(pool));
		fputc(':', stdout);
		json_reply(stdout, reply);
	} else if (reply->elements == 0) {
		safe = out_sanitize(pool, strlen(pool));
		printf("%s: no violations\n", safe);
		free(safe);
	}
	*first = 0;
	for (i = 0; i < reply->elements && !ctl->json; i++) {
		safe = out_sanitize(reply->element[i]->str,
		    reply->element[i]->len);
		printf("%s: %s\n", pool, safe);
		free(safe);
	}
	*found += reply->elements;
out:
	freeReplyObject(reply);
	return rc;
}

/* verify [POOL]: every violation as "POOL: line" (or JSON, an object of
 * arrays by pool); exits 1 when there is any. */
static int
ctl_verify(struct ctl *ctl, struct cmd_args *a)
{
	struct req r = { .argc = 0 };
	redisReply *pools;
	size_t found = 0, i;
	int first = 1, rc = 0;

	if (a->argc == 1)
		rc = verify_pool(ctl, a->argv[0], 0, &found, &first);
	else {
		req_add(&r, "POOLS");
		if ((pools = ctl_request(ctl, &r, 0)) == NULL)
			return EXIT_CONN;
		if (pools->type == REDIS_REPLY_ERROR)
			rc = ctl_reply_error(ctl, pools);
		else if (pools->type != REDIS_REPLY_ARRAY)
			rc = ctl_unexpected(ctl, pools);
		for (i = 0; rc == 0 && i < pools->elements; i++) {
			if (!reply_is_str(pools->element[i]))
				rc = ctl_unexpected(ctl, pools->element[i]);
			else if ((rc = verify_pool(ctl,
			    pools->element[i]->str, 1, &found, &first)) == -1)
				rc = 0;	/* deleted meanwhile */
		}
		freeReplyObject(pools);
	}
	if (rc != 0)
		return rc;
	if (ctl->json)
		fputs(first ? "{}\n" : "}\n", stdout);
	return found > 0 ? EXIT_REPLY : 0;
}

/* stats [POOL] [--wide] */
static int
ctl_stats(struct ctl *ctl, struct cmd_args *a)
{
	ctl->wide = a->opt[STATS_WIDE] != NULL;
	return ctl_plain(ctl, a);
}

static int
ctl_lease(struct ctl *ctl, struct cmd_args *a)
{
	struct req r = { .argc = 0 };
	char ttl[32], wait[32];
	double extra = 0;

	req_words(&r, "LEASE", a, 1);
	if (a->opt[LEASE_NAME] != NULL) {
		if (*a->opt[LEASE_NAME] == '\0')
			return usage_error(ctl, "--name: empty name");
		req_add(&r, "NAME");
		req_add(&r, a->opt[LEASE_NAME]);
	}
	if (a->opt[LEASE_TTL] != NULL) {
		if (parse_seconds(ctl, "--ttl", a->opt[LEASE_TTL], 0,
		    CTL_TTL_MAX, ttl, sizeof ttl) != 0)
			return EXIT_USAGE;
		req_add(&r, "TTL");
		req_add(&r, ttl);
	}
	if (a->opt[LEASE_WAIT] != NULL) {
		if (parse_seconds(ctl, "--wait", a->opt[LEASE_WAIT], 1,
		    CTL_WAIT_MAX, wait, sizeof wait) != 0)
			return EXIT_USAGE;
		req_add(&r, "WAIT");
		req_add(&r, wait);
		extra = strtod(wait, NULL);
	}
	if (a->opt[LEASE_SHARED] != NULL && a->opt[LEASE_EXCLUSIVE] != NULL)
		return usage_error(ctl, "--shared and --exclusive together");
	if (a->opt[LEASE_SHARED] != NULL)
		req_add(&r, "SHARED");
	if (a->opt[LEASE_EXCLUSIVE] != NULL)
		req_add(&r, "EXCLUSIVE");
	return ctl_run(ctl, &r, extra, print_pairs_reply);
}

/* Print an integer expiry reply. */
static int
print_expiry(struct ctl *ctl, redisReply *reply)
{
	char when[64];

	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type != REDIS_REPLY_INTEGER)
		return ctl_unexpected(ctl, reply);
	if (ctl->json)
		printf("{\"expires\":%lld}\n", reply->integer);
	else {
		out_time(when, sizeof when, reply->integer);
		printf("expires  %lld (%s)\n", reply->integer, when);
	}
	return 0;
}

/* Append "WORD value" when the command's option (flag, its first) was
 * given: a number from 0 (zero_ok) or above it, up to max.  Returns 0, or
 * -1 after a usage message. */
static int
add_number(struct ctl *ctl, struct cmd_args *a, struct req *r,
    const char *flag, const char *word, int zero_ok, double max, char *buf,
    size_t size)
{
	if (a->opt[0] == NULL)
		return 0;
	if (parse_seconds(ctl, flag, a->opt[0], zero_ok, max, buf, size) != 0)
		return -1;
	req_add(r, word);
	req_add(r, buf);
	return 0;
}

/* Append "LATENCY ms" when --latency was given.  Returns 0 or -1. */
static int
add_latency(struct ctl *ctl, struct cmd_args *a, struct req *r, char *buf,
    size_t size)
{
	return add_number(ctl, a, r, "--latency", "LATENCY", 1,
	    CTL_LATENCY_MAX, buf, size);
}

/* WORD and the command's first nwords words, then TTL when --ttl was
 * given (0 allowed with zero_ok); the reply printed by fn. */
static int
ctl_with_ttl(struct ctl *ctl, struct cmd_args *a, const char *word,
    int nwords, int zero_ok, int (*fn)(struct ctl *, redisReply *))
{
	struct req r = { .argc = 0 };
	char ttl[32];

	req_words(&r, word, a, nwords);
	if (add_number(ctl, a, &r, "--ttl", "TTL", zero_ok, CTL_TTL_MAX, ttl,
	    sizeof ttl) != 0)
		return EXIT_USAGE;
	return ctl_run(ctl, &r, 0, fn);
}

static int
ctl_renew(struct ctl *ctl, struct cmd_args *a)
{
	return ctl_with_ttl(ctl, a, "RENEW", 2, 0, print_expiry);
}

static int
ctl_release(struct ctl *ctl, struct cmd_args *a)
{
	struct req r = { .argc = 0 };
	char outcome[16], latency[32];

	req_words(&r, "RELEASE", a, 2);
	if (a->argc > 2) {
		if (parse_outcome(ctl, a->argv[2], outcome, sizeof outcome) != 0)
			return EXIT_USAGE;
		req_add(&r, outcome);
	}
	if (add_latency(ctl, a, &r, latency, sizeof latency) != 0)
		return EXIT_USAGE;
	return ctl_run(ctl, &r, 0, print_ok);
}

static int
ctl_report(struct ctl *ctl, struct cmd_args *a)
{
	struct req r = { .argc = 0 };
	char outcome[16], latency[32];

	req_words(&r, "REPORT", a, 2);
	if (parse_outcome(ctl, a->argv[2], outcome, sizeof outcome) != 0)
		return EXIT_USAGE;
	req_add(&r, outcome);
	if (add_latency(ctl, a, &r, latency, sizeof latency) != 0)
		return EXIT_USAGE;
	return ctl_run(ctl, &r, 0, print_ok);
}

static int
ctl_bind(struct ctl *ctl, struct cmd_args *a)
{
	return ctl_with_ttl(ctl, a, "BIND", 3, 1, print_ok);
}

/* BINDING's reply: a proxy or nil. */
static int
print_binding(struct ctl *ctl, redisReply *reply)
{
	char *safe;

	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type == REDIS_REPLY_NIL) {
		if (ctl->json)
			puts("{\"proxy\":null}");
		else
			ctl_warn("binding: no binding for that name");
		return 0;
	}
	if (!reply_is_str(reply))
		return ctl_unexpected(ctl, reply);
	if (ctl->json) {
		fputs("{\"proxy\":", stdout);
		json_string(stdout, reply->str, reply->len);
		fputs("}\n", stdout);
	} else {
		safe = out_sanitize(reply->str, reply->len);
		puts(safe);
		free(safe);
	}
	return 0;
}

/* STATS' reply: one pairs array, or an array of them. */
/* The columns of the every-pool STATS table without --wide: the most
 * telling ones, within 100 columns for pool names up to 17 characters. */
static const char *const stats_cols[] = { "pool", "total", "free",
    "leased", "shared", "quarantined", "leases", "check", "proxies_up",
    "proxies_down", NULL };

static int
print_stats(struct ctl *ctl, redisReply *reply)
{
	struct table *t;
	size_t i, n;
	redisReply **rows;
	int many;

	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type != REDIS_REPLY_ARRAY)
		return ctl_unexpected(ctl, reply);
	/* one pool: [pool, x, total, ...]; all: [[pool, ...], ...] */
	many = reply->elements == 0 ||
	    reply->element[0]->type == REDIS_REPLY_ARRAY;
	rows = many ? reply->element : &reply;
	n = many ? reply->elements : 1;
	for (i = 0; i < n; i++) {
		if (!reply_is_pairs(rows[i]))
			return ctl_unexpected(ctl, rows[i]);
	}
	if (ctl->json) {
		if (many)
			fputc('[', stdout);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputc(',', stdout);
			json_pairs(stdout, rows[i]);
		}
		fputs(many ? "]\n" : "\n", stdout);
		return 0;
	}
	if (n == 0)
		return 0;
	if (!many) {
		/* one pool: its fields one a line reads better than a row */
		print_pairs(reply);
		return 0;
	}
	t = table_create(1);
	table_column(t, "pool");
	for (i = 0; i < n; i++) {
		if (ctl->wide)
			table_pairs_row(t, rows[i]);
		else
			table_fields_row(t, rows[i], stats_cols);
	}
	table_print(t, stdout);
	table_destroy(t);
	return 0;
}

static int
ctl_list(struct ctl *ctl, struct cmd_args *a)
{
	struct req r;
	redisReply *reply, *items, **all = NULL, **replies = NULL;
	const redisReply *proxy, *down;
	struct strset seen = { NULL, 0, 0 };
	struct table *t;
	long long count = LLONG_MAX, got = 0;
	size_t nall = 0, nreplies = 0, i, pages = 0;
	char cursor[64] = "0", pagesize[32];
	int rc = 0;

	if (a->opt[LIST_COUNT] != NULL && parse_int(ctl, "--count",
	    a->opt[LIST_COUNT], 1, LLONG_MAX, &count) != 0)
		return EXIT_USAGE;
	if (a->opt[LIST_STATE] != NULL && *a->opt[LIST_STATE] == '\0')
		return usage_error(ctl, "--state: empty state");
	do {
		if (++pages > CTL_LIST_PAGES) {
			ctl_warn("list: stopped after %d pages; the cursor does "
			    "not end", CTL_LIST_PAGES);
			rc = EXIT_REPLY;
			break;
		}
		memset(&r, 0, sizeof r);
		req_add(&r, "LIST");
		req_add(&r, a->argv[0]);
		if (a->opt[LIST_STATE] != NULL) {
			req_add(&r, "STATE");
			req_add(&r, a->opt[LIST_STATE]);
		}
		req_add(&r, "CURSOR");
		req_add(&r, cursor);
		snprintf(pagesize, sizeof pagesize, "%lld",
		    count - got < CTL_LIST_PAGE ? count - got : CTL_LIST_PAGE);
		req_add(&r, "COUNT");
		req_add(&r, pagesize);
		if ((reply = ctl_request(ctl, &r, 0)) == NULL) {
			rc = EXIT_CONN;
			break;
		}
		replies = xreallocarray(replies, nreplies + 1,
		    sizeof *replies);
		replies[nreplies++] = reply;
		if (reply->type == REDIS_REPLY_ERROR) {
			rc = ctl_reply_error(ctl, reply);
			break;
		}
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
		    !reply_is_str(reply->element[0]) ||
		    reply->element[0]->len >= sizeof cursor ||
		    reply->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = ctl_unexpected(ctl, reply);
			break;
		}
		items = reply->element[1];
		for (i = 0; i < items->elements && got < count; i++) {
			if (!reply_is_pairs(items->element[i])) {
				rc = ctl_unexpected(ctl, items->element[i]);
				break;
			}
			/* a scan cursor may return an item twice */
			proxy = reply_field(items->element[i], "proxy");
			if (proxy != NULL && reply_is_str(proxy) &&
			    !strset_add(&seen, proxy->str))
				continue;
			all = xreallocarray(all, nall + 1, sizeof *all);
			all[nall++] = items->element[i];
			got++;
		}
		if (rc != 0)
			break;
		memcpy(cursor, reply->element[0]->str, reply->element[0]->len);
		cursor[reply->element[0]->len] = '\0';
	} while (strcmp(cursor, "0") != 0 && got < count);

	if (rc == 0 && ctl->json) {
		fputc('[', stdout);
		for (i = 0; i < nall; i++) {
			if (i > 0)
				fputs(",\n", stdout);
			json_pairs(stdout, all[i]);
		}
		fputs("]\n", stdout);
	} else if (rc == 0 && nall > 0) {
		t = table_create(1);
		table_column(t, "proxy");
		for (i = 0; i < nall; i++) {
			if (a->opt[LIST_WIDE] != NULL)
				table_pairs_row(t, all[i]);
			else
				table_fields_row(t, all[i], list_columns);
			/* DOWN: quarantined until UP again, no end to show */
			down = reply_field(all[i], "down_since");
			if (down != NULL && down->type == REDIS_REPLY_INTEGER &&
			    down->integer > 0)
				table_set(t, table_column(t, "until"), "down", 4,
				    0);
		}
		table_print(t, stdout);
		table_destroy(t);
	}
	for (i = 0; i < nreplies; i++)
		freeReplyObject(replies[i]);
	free(replies);
	free(all);
	strset_clear(&seen);
	return rc;
}

/*
 * Add every proxy of a list file: the whole file is checked first and
 * nothing is sent if any line is bad; then the ADDs are pipelined in
 * batches, stopping at the first batch with a refused line.  A line's
 * priority=N and expires=S win over --priority and --expires.
 */
static int
ctl_add_file(struct ctl *ctl, struct cmd_args *a, const char *prio,
    const char *expires)
{
	struct proxyfile pf;
	struct req r;
	redisReply *reply;
	size_t i, start, end, added = 0, refused = 0;
	const char *path = a->opt[ADD_FILE];
	char *safe, *red, *msg, pbuf[CTL_ADD_BATCH][16];
	int bad, rc = 0;

	if ((bad = proxyfile_load(&pf, path, stderr)) < 0)
		return EXIT_USAGE;
	if (bad > 0) {
		ctl_warn("add: %d bad line%s in %s: nothing added", bad,
		    bad > 1 ? "s" : "", path);
		if (ctl->json)
			printf("{\"error\":\"BADFILE\",\"bad_lines\":%d,"
			    "\"added\":0}\n", bad);
		proxyfile_clear(&pf);
		return EXIT_USAGE;
	}
	if (ctl->c == NULL && ctl_connect(ctl) != 0) {
		proxyfile_clear(&pf);
		return EXIT_CONN;
	}
	for (start = 0; start < pf.n && rc == 0; start = end) {
		end = start + CTL_ADD_BATCH < pf.n ? start + CTL_ADD_BATCH : pf.n;
		for (i = start; i < end; i++) {
			memset(&r, 0, sizeof r);
			req_add(&r, "ADD");
			req_add(&r, a->argv[0]);
			req_add(&r, pf.v[i].url);
			if (pf.v[i].has_priority) {
				snprintf(pbuf[i - start], sizeof pbuf[0], "%ld",
				    pf.v[i].priority);
				req_add(&r, "PRIORITY");
				req_add(&r, pbuf[i - start]);
			} else if (prio != NULL) {
				req_add(&r, "PRIORITY");
				req_add(&r, prio);
			}
			if (pf.v[i].expires != NULL || expires != NULL) {
				req_add(&r, "EXPIRES");
				req_add(&r, pf.v[i].expires != NULL ?
				    pf.v[i].expires : expires);
			}
			if (redisAppendCommandArgv(ctl->c, r.argc, r.argv,
			    r.argvlen) != REDIS_OK) {
				rc = ctl_connfail(ctl, "cannot send to");
				goto out;
			}
		}
		for (i = start; i < end; i++) {
			errno = 0;
			if (redisGetReply(ctl->c, (void **)&reply) != REDIS_OK) {
				rc = ctl_connfail(ctl, "no reply from "
				    "proxypoold at");
				goto out;
			}
			if (reply->type == REDIS_REPLY_ERROR) {
				red = proxyurl_redact(pf.v[i].url);
				safe = out_sanitize(reply->str, reply->len);
				msg = where_fmt(path, pf.v[i].line, red, "%s",
				    safe);
				fprintf(stderr, "%s\n", msg);
				free(msg);
				free(safe);
				free(red);
				refused++;
			} else
				added++;
			freeReplyObject(reply);
		}
		if (refused > 0)
			rc = EXIT_REPLY;
	}
out:
	if (refused > 0 || rc == EXIT_CONN)
		ctl_warn("add: %zu of %zu proxies added to %s, %zu refused%s",
		    added, pf.n, a->argv[0], refused,
		    added + refused < pf.n ? ", the rest not sent" : "");
	if (rc != EXIT_CONN) {
		if (ctl->json)
			printf("{\"added\":%zu,\"refused\":%zu}\n", added,
			    refused);
		else if (rc == 0)
			printf("added %zu prox%s to %s\n", added,
			    added == 1 ? "y" : "ies", a->argv[0]);
	}
	proxyfile_clear(&pf);
	return rc;
}

static int
ctl_add(struct ctl *ctl, struct cmd_args *a)
{
	struct req r = { .argc = 0 };
	char expires[32], prio[32];
	const char *p = NULL, *e = NULL;
	long long v;

	if (a->opt[ADD_PRIORITY] != NULL) {
		if (parse_int(ctl, "--priority", a->opt[ADD_PRIORITY],
		    -1000000, 1000000, &v) != 0)
			return EXIT_USAGE;
		snprintf(prio, sizeof prio, "%lld", v);
		p = prio;
	}
	if (a->opt[ADD_EXPIRES] != NULL) {
		if (parse_seconds(ctl, "--expires", a->opt[ADD_EXPIRES], 1,
		    CTL_TTL_MAX, expires, sizeof expires) != 0)
			return EXIT_USAGE;
		e = expires;
	}
	if (a->opt[ADD_FILE] != NULL) {
		if (a->argc > 1)
			return usage_error(ctl, "give a URL or -f FILE, not "
			    "both");
		return ctl_add_file(ctl, a, p, e);
	}
	if (a->argc < 2)
		return usage_error(ctl, "missing URL (or -f FILE)");
	req_words(&r, "ADD", a, 2);
	if (p != NULL) {
		req_add(&r, "PRIORITY");
		req_add(&r, p);
	}
	if (e != NULL) {
		req_add(&r, "EXPIRES");
		req_add(&r, e);
	}
	return ctl_run(ctl, &r, 0, print_ok);
}

/* Is s (n bytes) a plain decimal number JSON can carry as one: an
 * optional minus, digits without a leading zero, an optional fraction? */
static bool
json_is_number(const char *s, size_t n)
{
	size_t i = 0, digits;

	if (n > 0 && s[0] == '-')
		i++;
	for (digits = 0; i < n && isdigit((unsigned char)s[i]); i++)
		digits++;
	if (digits == 0 || (digits > 1 && s[i - digits] == '0') || digits > 18)
		return false;
	if (i < n && s[i] == '.') {
		for (i++, digits = 0; i < n && isdigit((unsigned char)s[i]); i++)
			digits++;
		if (digits == 0)
			return false;
	}
	return i == n;
}

/* Write INFO text as {"section": {"key": value, ...}, ...}: numbers as
 * numbers, anything else as a string. */
static void
json_info(const char *s, size_t len)
{
	const char *end = s + len, *eol, *colon, *v;
	size_t n, vn;
	int sections = 0, keys = 0;

	fputc('{', stdout);
	for (; s < end; s = eol + 1) {
		if ((eol = memchr(s, '\n', end - s)) == NULL)
			eol = end;
		n = eol - s;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (s[0] == '#') {
			s++;
			n--;
			while (n > 0 && *s == ' ') {
				s++;
				n--;
			}
			fputs(sections++ > 0 ? "}," : "", stdout);
			json_string(stdout, s, n);
			fputs(":{", stdout);
			keys = 0;
			continue;
		}
		if (sections == 0) {
			fputs("\"info\":{", stdout);
			sections++;
		}
		if ((colon = memchr(s, ':', n)) == NULL)
			colon = s + n;
		if (keys++ > 0)
			fputc(',', stdout);
		json_string(stdout, s, colon - s);
		fputc(':', stdout);
		v = colon < s + n ? colon + 1 : colon;
		vn = colon < s + n ? (size_t)(s + n - colon - 1) : 0;
		if (json_is_number(v, vn))
			fwrite(v, 1, vn, stdout);
		else
			json_string(stdout, v, vn);
	}
	fputs(sections > 0 ? "}}\n" : "}\n", stdout);
}

/* Print a bulk text reply, CRLF turned into LF. */
static void
print_text(const redisReply *reply)
{
	size_t i;

	for (i = 0; i < reply->len; i++) {
		if (reply->str[i] == '\r' && i + 1 < reply->len &&
		    reply->str[i + 1] == '\n')
			continue;
		fputc(reply->str[i], stdout);
	}
	if (reply->len > 0 && reply->str[reply->len - 1] != '\n')
		fputc('\n', stdout);
}

/* INFO's reply. */
static int
print_info(struct ctl *ctl, redisReply *reply)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (!reply_is_str(reply))
		return ctl_unexpected(ctl, reply);
	if (ctl->json)
		json_info(reply->str, reply->len);
	else
		print_text(reply);
	return 0;
}

/*
 * The gateway_N lines of INFO ("listen=A,pool=P,requests=N,...") as a
 * table with a row per listener, or a JSON array of objects.
 */
static void
gateway_table(struct ctl *ctl, const redisReply *reply,
    const char *const *only)
{
	const char *s, *end, *eol, *v, *f, *fe, *eq;
	const char *const *o;
	struct table *t;
	size_t n;
	int rows = 0, k;

	t = table_create(1);
	for (o = only; o != NULL && *o != NULL; o++)
		table_column(t, *o);
	if (ctl->json)
		fputc('[', stdout);
	end = reply->str + reply->len;
	for (s = reply->str; s < end; s = eol + 1) {
		if ((eol = memchr(s, '\n', end - s)) == NULL)
			eol = end;
		n = eol - s;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n < 9 || strncmp(s, "gateway_", 8) != 0 ||
		    !isdigit((unsigned char)s[8]) ||
		    (v = memchr(s, ':', n)) == NULL)
			continue;
		if (ctl->json)
			fputs(rows > 0 ? ",{" : "{", stdout);
		else
			table_row(t);
		rows++;
		for (f = v + 1, k = 0; f < s + n; f = fe + 1, k++) {
			if ((fe = memchr(f, ',', s + n - f)) == NULL)
				fe = s + n;
			if ((eq = memchr(f, '=', fe - f)) == NULL)
				continue;
			if (ctl->json) {
				if (k > 0)
					fputc(',', stdout);
				json_string(stdout, f, eq - f);
				fputc(':', stdout);
				if (json_is_number(eq + 1, fe - eq - 1))
					fwrite(eq + 1, 1, fe - eq - 1, stdout);
				else
					json_string(stdout, eq + 1, fe - eq - 1);
			} else {
				char name[64];

				snprintf(name, sizeof name, "%.*s",
				    (int)(eq - f), f);
				for (o = only; o != NULL && *o != NULL; o++) {
					if (strcmp(*o, name) == 0)
						break;
				}
				if (only != NULL && *o == NULL)
					continue;
				table_set(t, table_column(t, name), eq + 1,
				    fe - eq - 1, json_is_number(eq + 1,
				    fe - eq - 1));
			}
		}
		if (ctl->json)
			fputc('}', stdout);
	}
	if (ctl->json)
		fputs("]\n", stdout);
	else if (rows > 0)
		table_print(t, stdout);
	else
		puts("no gateway listener");
	table_destroy(t);
}

static int
print_gateway(struct ctl *ctl, redisReply *reply)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (!reply_is_str(reply))
		return ctl_unexpected(ctl, reply);
	gateway_table(ctl, reply, NULL);
	return 0;
}

/* A string reply: as text, or {"key": string} in JSON. */
static int
print_str(struct ctl *ctl, redisReply *reply)
{
	const char *key = ctl->cmd->plain.key;

	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (!reply_is_str(reply))
		return ctl_unexpected(ctl, reply);
	if (ctl->json) {
		printf("{\"%s\":", key);
		json_string(stdout, reply->str, reply->len);
		fputs("}\n", stdout);
	} else
		print_text(reply);
	return 0;
}

/* ------------------------------------------------------------------ */
/* top                                                                  */
/* ------------------------------------------------------------------ */

static struct termios top_saved;
static int top_raw;

static void
top_restore(void)
{
	if (top_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &top_saved);
		top_raw = 0;
	}
}

/* The value of "key:" in INFO text, copied into buf ("" if none). */
static void
info_value(const redisReply *info, const char *key, char *buf, size_t size)
{
	const char *p = info->str, *end = info->str + info->len, *eol;
	size_t n = strlen(key);

	buf[0] = '\0';
	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		if ((size_t)(eol - p) > n && strncmp(p, key, n) == 0 &&
		    p[n] == ':') {
			snprintf(buf, size, "%.*s", (int)(eol - p - n - 1), p + n + 1);
			n = strlen(buf);
			if (n > 0 && buf[n - 1] == '\r')
				buf[n - 1] = '\0';
			return;
		}
	}
}

/* One screen: the daemon, then STATS of every pool as a table. */
static int
top_frame(struct ctl *ctl, int clear, int n)
{
	static const char *const cols[] = { "pool", "total", "free", "leased",
	    "shared", "quarantined", "proxies_up", "proxies_down", "leases",
	    "probes_per_sec", "errors", NULL };
	struct req r = { .argc = 0 }, ri = { .argc = 0 };
	redisReply *stats, *info;
	const redisReply *v;
	const char *const *c;
	char buf[64], version[64], uptime[32], clients[32];
	struct table *t;
	size_t i, len;
	int numeric;
	time_t now = time(NULL);

	req_add(&r, "STATS");
	req_add(&ri, "INFO");
	if ((stats = ctl_request(ctl, &r, 0)) == NULL)
		return EXIT_CONN;
	if ((info = ctl_request(ctl, &ri, 0)) == NULL) {
		freeReplyObject(stats);
		return EXIT_CONN;
	}
	if (stats->type == REDIS_REPLY_ERROR || !reply_is_str(info)) {
		int rc = stats->type == REDIS_REPLY_ERROR ?
		    ctl_reply_error(ctl, stats) : ctl_unexpected(ctl, info);

		freeReplyObject(stats);
		freeReplyObject(info);
		return rc;
	}
	info_value(info, "version", version, sizeof version);
	info_value(info, "uptime_in_seconds", uptime, sizeof uptime);
	info_value(info, "connected_clients", clients, sizeof clients);
	if (clear)
		fputs("\033[H\033[2J", stdout);
	strftime(buf, sizeof buf, "%H:%M:%S", localtime(&now));
	printf("proxypoold %s  up %ss  clients %s  %s  (%d)%s\n\n",
	    version, uptime[0] ? uptime : "?", clients[0] ? clients : "?", buf,
	    n, clear ? "  q quits" : "");
	t = table_create(1);
	for (c = cols; *c != NULL; c++)
		table_column(t, *c);
	for (i = 0; stats->type == REDIS_REPLY_ARRAY && i < stats->elements;
	    i++) {
		if (!reply_is_pairs(stats->element[i]))
			continue;
		table_row(t);
		for (c = cols; *c != NULL; c++) {
			if ((v = reply_field(stats->element[i], *c)) == NULL)
				continue;
			const char *txt = cell_text(v, 0, buf, sizeof buf,
			    &len, &numeric);
			table_set(t, table_column(t, *c), txt, len, numeric);
		}
	}
	table_print(t, stdout);
	table_destroy(t);
	freeReplyObject(stats);
	/* the gateway's listeners, when it has some */
	if (memmem(info->str, info->len, "\ngateway_0:", 11) != NULL) {
		static const char *const gw[] = { "listen", "pool", "clients",
		    "requests", "tunnels", "ok", "failed", "banned",
		    "retries", "errors", NULL };

		putchar('\n');
		gateway_table(ctl, info, gw);
	}
	if (!clear)
		putchar('\n');
	freeReplyObject(info);
	fflush(stdout);
	return 0;
}

/*
 * TOP: refresh a frame every interval until q (or Ctrl-C) on a terminal;
 * --iterations N prints N frames and ends (what a script or a pipe
 * gets: without a terminal the screen is not cleared and 1 frame is the
 * default).
 */
static int
ctl_top(struct ctl *ctl, struct cmd_args *a)
{
	struct termios raw;
	struct pollfd pfd;
	char interval[32], ch;
	long long iterations = -1;
	double every = 2;
	int tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO), n, rc = 0;

	if (a->opt[TOP_INTERVAL] != NULL) {
		if (parse_seconds(ctl, "--interval", a->opt[TOP_INTERVAL], 0,
		    3600, interval, sizeof interval) != 0)
			return EXIT_USAGE;
		every = strtod(interval, NULL);
		if (every < 0.1)
			return usage_error(ctl, "--interval: at least 0.1 s");
	}
	if (a->opt[TOP_ITERATIONS] != NULL && parse_int(ctl, "--iterations",
	    a->opt[TOP_ITERATIONS], 1, LLONG_MAX, &iterations) != 0)
		return EXIT_USAGE;
	if (iterations < 0 && !tty)
		iterations = 1;
	if (ctl->json)
		return usage_error(ctl, "no JSON view: use stats --json");
	if (tty && tcgetattr(STDIN_FILENO, &top_saved) == 0) {
		raw = top_saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
			top_raw = 1;
			atexit(top_restore);
		}
	}
	for (n = 1; iterations < 0 || n <= iterations; n++) {
		if ((rc = top_frame(ctl, tty, n)) != 0)
			break;
		if (iterations >= 0 && n == iterations)
			break;
		pfd.fd = STDIN_FILENO;
		pfd.events = POLLIN;
		if (tty && poll(&pfd, 1, (int)(every * 1000)) > 0) {
			if (read(STDIN_FILENO, &ch, 1) == 1 &&
			    (ch == 'q' || ch == 'Q' || ch == 3))
				break;
		} else if (!tty)
			poll(NULL, 0, (int)(every * 1000));
	}
	top_restore();
	return rc;
}

/*
 * Where proxypoold is: $PROXYPOOLD, else next to this program (installed
 * in the same directory, in ../sbin, or in the build tree's
 * ../daemon), else SBINDIR.  Returns an allocated path.
 */
static char *
find_proxypoold(void)
{
	static const char *rel[] = {
		"proxypoold", "../sbin/proxypoold", "../daemon/proxypoold", NULL
	};
	char self[PATH_MAX], path[PATH_MAX + 64], *slash;
	const char *env;
	ssize_t n;
	size_t i;

	if ((env = getenv("PROXYPOOLD")) != NULL && *env != '\0')
		return xstrdup(env);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			/* libtool keeps the real binary in .libs */
			n = (ssize_t)strlen(self);
			if (n >= 6 && strcmp(self + n - 6, "/.libs") == 0)
				self[n - 6] = '\0';
			for (i = 0; rel[i] != NULL; i++) {
				snprintf(path, sizeof path, "%s/%s", self,
				    rel[i]);
				if (access(path, X_OK) == 0)
					return xstrdup(path);
			}
		}
	}
	return xstrdup(SBINDIR "/proxypoold");
}

static int
ctl_check_config(struct ctl *ctl, struct cmd_args *a)
{
	char *daemon, *out = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd[2], status, rc;
	pid_t pid;
	char buf[4096];

	if (access(a->argv[0], R_OK) != 0) {
		ctl_warn("check-config: %s: %s", a->argv[0], strerror(errno));
		return EXIT_USAGE;
	}
	daemon = find_proxypoold();
	if (pipe(fd) != 0) {
		ctl_warn("check-config: pipe: %s", strerror(errno));
		free(daemon);
		return EXIT_CONN;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		ctl_warn("check-config: fork: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		free(daemon);
		return EXIT_CONN;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(fd[0]);
		dup2(fd[1], STDOUT_FILENO);
		dup2(fd[1], STDERR_FILENO);
		if (fd[1] > STDERR_FILENO)
			close(fd[1]);
		execl(daemon, "proxypoold", "-t", "-c", a->argv[0],
		    (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", daemon, strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		n = read(fd[0], buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + (size_t)n > CTL_CHECK_OUTPUT)
			continue;	/* keep reading so the child ends */
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			out = xreallocarray(out, cap, 1);
		}
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		rc = EXIT_CONN;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else
		rc = EXIT_REPLY;
	if (ctl->json) {
		printf("{\"file\":");
		json_string(stdout, a->argv[0], strlen(a->argv[0]));
		printf(",\"valid\":%s,\"output\":", rc == 0 ? "true" : "false");
		json_string(stdout, out != NULL ? out : "", len);
		puts("}");
	} else {
		fwrite(out != NULL ? out : "", 1, len, rc == 0 ? stdout : stderr);
		if (rc == 0) {
			/* the daemon's own "configuration OK" line, or ours */
			if (len == 0)
				printf("%s: configuration OK\n", a->argv[0]);
		} else if (rc == EXIT_CONN)
			ctl_warn("check-config: could not run %s (set "
			    "$PROXYPOOLD to its path)", daemon);
		else
			ctl_warn("check-config: %s is not valid", a->argv[0]);
	}
	free(out);
	free(daemon);
	return rc;
}

/* LOCK's reply: the fence. */
static int
print_fence(struct ctl *ctl, redisReply *reply)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return ctl_reply_error(ctl, reply);
	if (reply->type != REDIS_REPLY_INTEGER)
		return ctl_unexpected(ctl, reply);
	if (ctl->json)
		printf("{\"fence\":%lld}\n", reply->integer);
	else
		printf("fence  %lld\n", reply->integer);
	return 0;
}

static int
ctl_lock(struct ctl *ctl, struct cmd_args *a)
{
	struct req r = { .argc = 0 };
	char ttl[32], wait[32];
	double extra = 0;

	req_words(&r, "LOCK", a, 2);
	if (parse_seconds(ctl, "TTL", a->argc > 2 ? a->argv[2] : CTL_LOCK_TTL,
	    0, CTL_TTL_MAX, ttl, sizeof ttl) != 0)
		return EXIT_USAGE;
	req_add(&r, ttl);
	if (a->opt[0] != NULL) {
		if (parse_seconds(ctl, "--wait", a->opt[0], 1, CTL_WAIT_MAX,
		    wait, sizeof wait) != 0)
			return EXIT_USAGE;
		req_add(&r, "WAIT");
		req_add(&r, wait);
		extra = strtod(wait, NULL);
	}
	return ctl_run(ctl, &r, extra, print_fence);
}

/* ------------------------------------------------------------------ */
/* main                                                                 */
/* ------------------------------------------------------------------ */

static void
usage(FILE *f)
{
	const struct cmd *c;

	fprintf(f,
	    "usage: proxypoolctl [-s SOCKET] [-t TIMEOUT] [--json] COMMAND "
	    "[ARGS]\n"
	    "\n"
	    "  -s, --socket SOCKET  proxypoold's socket (default: "
	    "$PROXYPOOLD_SOCKET,\n"
	    "                       else %s,\n"
	    "                       else $XDG_RUNTIME_DIR/proxypoold.sock if "
	    "only it exists)\n"
	    "  -t, --timeout S      seconds to wait for the daemon (default "
	    "%g; a --wait\n"
	    "                       is added to it)\n"
	    "  -j, --json           print JSON instead of tables\n"
	    "  -h, --help           this help\n"
	    "  -V, --version        print the version\n"
	    "-j, -s and -t may also follow the command word.\n"
	    "\n"
	    "commands:\n", CTL_SOCKET, CTL_TIMEOUT);
	for (c = cmds; c->name != NULL; c++)
		fprintf(f, "  %s %s\n      %s\n", c->name, c->usage, c->help);
	fprintf(f,
	    "\n"
	    "exit status: 0 done; 1 the daemon answered with an error (EMPTY,\n"
	    "NOTOWNED, NOPOOL, NOPROXY, BADARG, BUSY, DENIED, TRYAGAIN...) or\n"
	    "the file is not valid (check-config); 2 usage error; 3 cannot\n"
	    "reach the daemon, or no answer within the timeout.\n");
}

int
main(int argc, char **argv)
{
	struct ctl ctl;
	struct cmd_args args;
	const char *env, *opt;
	int i, rc;

	/* a daemon that closes the socket gives EPIPE (exit 3), not death */
	signal(SIGPIPE, SIG_IGN);

	memset(&ctl, 0, sizeof ctl);
	ctl.timeout = CTL_TIMEOUT;
	ctl.socket = default_socket;
	if ((env = getenv("PROXYPOOLD_SOCKET")) != NULL && *env != '\0')
		ctl.socket = env;

	/* global options, before the command word */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		opt = argv[i];
		if (strcmp(opt, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(opt, "-V") == 0 || strcmp(opt, "--version") == 0) {
			printf("proxypoolctl %s\n", PACKAGE_VERSION);
			return 0;
		}
		if ((rc = global_option(&ctl, argc, argv, &i)) < 0)
			return EXIT_USAGE;
		if (rc == 1)
			continue;
		return usage_error(&ctl, "unknown option '%s'", opt);
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (ctl.cmd = cmds; ctl.cmd->name != NULL; ctl.cmd++) {
		if (strcasecmp(ctl.cmd->name, argv[i]) == 0)
			break;
	}
	if (ctl.cmd->name == NULL) {
		ctl.cmd = NULL;
		return usage_error(&ctl, "unknown command '%s'", argv[i]);
	}
	if ((rc = parse_args(&ctl, argc - i - 1, argv + i + 1, &args)) != 0)
		return rc;
	rc = ctl.cmd->run(&ctl, &args);
	if (ctl.c != NULL)
		redisFree(ctl.c);
	/* a reader that went away (| head) is not an error worth a word */
	if (fflush(stdout) != 0 && rc == 0 && errno != EPIPE) {
		ctl_warn("writing output: %s", strerror(errno));
		rc = EXIT_REPLY;
	}
	return rc;
}
