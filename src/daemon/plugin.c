/*
 * plugin.c: load check plugins with dlopen.  Modules stay loaded until
 * exit: a configuration in use (even the one a reload replaced, while its
 * probes finish) may point into them.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "plugin.h"
#include "xmalloc.h"

#define PLUGIN_MAX	64

/* One loaded module. */
struct plugin {
	void				*dl;	/* dlopen handle */
	char				*path;	/* owned file path */
	const struct pp_check_type	*type;	/* (ref into the module) */
};

static struct plugin plugins[PLUGIN_MAX];	/* loaded modules */
static size_t nplugins;				/* entries in plugins */
static char names[PLUGIN_MAX * 16];		/* plugin_names() text */

const struct pp_check_type *
plugin_find(const char *name)
{
	size_t i;

	for (i = 0; i < nplugins; i++)
		if (strcmp(plugins[i].type->name, name) == 0)
			return plugins[i].type;
	return NULL;
}

const char *
plugin_names(void)
{
	size_t i, len = 0;

	names[0] = '\0';
	for (i = 0; i < nplugins && len < sizeof names; i++)
		len += (size_t)snprintf(names + len, sizeof names - len,
		    "%s%s", i ? "," : "", plugins[i].type->name);
	return names;
}

/* Is path loaded already (same file)? */
static bool
plugin_loaded(const char *path)
{
	size_t i;

	for (i = 0; i < nplugins; i++)
		if (strcmp(plugins[i].path, path) == 0)
			return true;
	return false;
}

int
plugin_load_file(const char *path, char **cause)
{
	const struct pp_check_type *t;
	const char *e;
	void *dl;

	if (nplugins == PLUGIN_MAX) {
		xasprintf(cause, "%s: too many plugins (max %d)", path,
		    PLUGIN_MAX);
		return -1;
	}
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		xasprintf(cause, "%s: cannot load: %s", path,
		    e ? e : "unknown error");
		return -1;
	}
	dlerror();
	t = dlsym(dl, PP_CHECK_SYMBOL);
	if ((e = dlerror()) != NULL || t == NULL) {
		xasprintf(cause, "%s: not a check plugin: no %s symbol", path,
		    PP_CHECK_SYMBOL);
		goto fail_dl;
	}
	if (t->abi != PP_CHECK_ABI) {
		xasprintf(cause, "%s: plugin ABI version %u, this proxypoold "
		    "needs %u: rebuild the plugin", path, t->abi, PP_CHECK_ABI);
		goto fail_dl;
	}
	if (t->name == NULL || *t->name == '\0' || t->configure == NULL ||
	    t->free == NULL ||
	    !((t->prepare != NULL && t->judge != NULL) ||
	    (t->spawn != NULL && t->reap != NULL))) {
		xasprintf(cause, "%s: incomplete plugin descriptor (needs a "
		    "name, configure, free and prepare+judge or spawn+reap)",
		    path);
		goto fail_dl;
	}
	if (plugin_find(t->name) != NULL) {
		xasprintf(cause, "%s: a plugin named \"%s\" is loaded already",
		    path, t->name);
		goto fail_dl;
	}
	plugins[nplugins].dl = dl;
	plugins[nplugins].path = xstrdup(path);
	plugins[nplugins].type = t;
	nplugins++;
	log_debug("check plugin \"%s\" loaded from %s", t->name, path);
	return 0;

fail_dl:
	dlclose(dl);
	return -1;
}

int
plugin_load_dir(const char *dir, char **cause)
{
	struct dirent *de;
	char *path, *err;
	size_t len;
	int n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		xasprintf(&path, "%s/%s", dir, de->d_name);
		if (plugin_loaded(path)) {
			free(path);
			continue;
		}
		if (plugin_load_file(path, &err) == 0)
			n++;
		else {
			log_warn("check plugin refused: %s", err);
			free(err);
		}
		free(path);
	}
	closedir(d);
	return n;
}

void
plugin_unload_all(void)
{
	size_t i;

	for (i = 0; i < nplugins; i++) {
		dlclose(plugins[i].dl);
		free(plugins[i].path);
	}
	nplugins = 0;
}
