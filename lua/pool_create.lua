-- pool_create.lua: create a pool or update its settings (items are kept);
-- brings back a pool that is being deleted.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua), 13: the registry SET of pools
-- ARGV: 1 pool name, 2 shared (0/1), 3 max_shares (0 = unlimited),
--       4 lease_ttl ms (> 0), 5 bind_ttl ms (0 = forever),
--       6 eject_failures (0 = off), 7 eject_base ms, 8 eject_max ms,
--       9 eject_max_percent (0..100), 10 ban_time ms
-- Returns: 1 if the pool was created, 0 if updated.
-- Errors: BAD_ARGUMENT (nothing changed).
local e = bad_key(ARGV[1], 'pool name')
if e then return bad(e) end
local v = {}
local spec = {
	{ 'shared', 0, 1 }, { 'max_shares', 0, 1000000 },
	{ 'lease_ttl', 1, MS_MAX }, { 'bind_ttl', 0, MS_MAX },
	{ 'eject_failures', 0, 1000000 }, { 'eject_base', 0, MS_MAX },
	{ 'eject_max', 0, MS_MAX }, { 'eject_max_percent', 0, 100 },
	{ 'ban_time', 0, MS_MAX }
}
for i = 1, #spec do
	local n, err = arg_range(ARGV[i + 1], spec[i][1], spec[i][2],
	    spec[i][3])
	if not n then return bad(err) end
	v[#v + 1] = spec[i][1]
	v[#v + 1] = n
end
local created = redis.call('EXISTS', KEYS[1]) == 0 and 1 or 0
redis.call('HSET', KEYS[1], unpack(v))
redis.call('HSET', KEYS[1], 'deleted', 0)
redis.call('SADD', KEYS[13], ARGV[1])
-- a smaller max_shares: items now full leave the shareable set lazily
-- (they are skipped when chosen, see lease.lua)
return created
