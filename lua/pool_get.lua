-- pool_get.lua: a pool's settings.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: none
-- Returns: { shared, max_shares, lease_ttl ms, bind_ttl ms,
--   eject_failures, eject_base ms, eject_max ms, eject_max_percent,
--   ban_time ms }
-- Errors: NO_SUCH_POOL
-- @include alloc
local conf, err = pool_conf(true)
if not conf then return err end
eject_conf(conf)
return { conf.shared, conf.max, conf.lease_ttl, conf.bind_ttl, conf.ef,
    conf.eb, conf.emax, conf.pct, conf.ban }
