/*
 * nosym.c: a loadable module without the pp_check_plugin descriptor; the
 * loader must refuse it (tests/integ/health_checks.sh).
 */
#include "config.h"

int	nosym_answer(void);

int
nosym_answer(void)
{
	return 42;
}
