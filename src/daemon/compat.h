/*
 * compat.h: optional platform features behind one header: systemd's
 * sd_notify when built --with-systemd, no-op stubs otherwise.
 */
#ifndef COMPAT_H
#define COMPAT_H

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
/* Without systemd there is nobody to notify. */
static inline int
sd_notify(int unset_environment, const char *state)
{
	(void)unset_environment;
	(void)state;
	return 0;
}
#endif

#endif /* COMPAT_H */
