/*
 * plugin.h: the health-check plugin loader: dlopen every module of a
 * directory, check its ABI, and find plugins by check type.
 */
#ifndef PLUGIN_H
#define PLUGIN_H

#include "pp_check.h"

/*
 * Load every "*.so" of dir that is not loaded yet.  A module that cannot
 * be opened, lacks the pp_check_plugin symbol, has another ABI version or
 * a name already taken is refused with a warning and skipped: the daemon
 * keeps running with the others.  Returns the number of plugins loaded
 * now, or -1 with *cause when dir cannot be read.
 */
int	plugin_load_dir(const char *dir, char **cause);

/* Load one module file; returns 0, or -1 with *cause (nothing kept). */
int	plugin_load_file(const char *path, char **cause);

/* The plugin for check type name, or NULL. */
const struct pp_check_type *plugin_find(const char *name);

/* Names of the loaded plugins, comma separated (for logs and INFO). */
const char *plugin_names(void);

/* dlclose everything (at exit, when no configuration uses them). */
void	plugin_unload_all(void);

#endif /* PLUGIN_H */
