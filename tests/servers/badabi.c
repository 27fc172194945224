/*
 * badabi.c: a check plugin built for another ABI version; the loader
 * must refuse it (tests/integ/health_checks.sh).
 */
#include "config.h"

#include "pp_check.h"

const struct pp_check_type pp_check_plugin = {
	.abi = 999,
	.name = "badabi",
};
