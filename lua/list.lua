-- list.lua: one page of a pool's items (HSCAN cursor).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 cursor ("0" starts), 2 count, 3 state filter ("" = every state,
--       else one of f l s q d)
-- Returns: { next cursor ("0" = done), { key, state, priority, holders,
--   expires ms, quarantine end ms, failures, ejections, latency }... }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local count, e = arg_range(ARGV[2], 'count', 1, 100000)
if not count then return bad(e) end
local filter = ARGV[3]
if filter ~= '' and not string.match(filter, '^[flsqd]$') then
	return bad('state filter must be one of f l s q d')
end
if not string.match(ARGV[1], '^%d+$') then
	return bad('cursor must be a decimal number')
end
local r = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', count)
local v = r[2]
local out = {}
for i = 1, #v, 2 do
	local m = item_decode(v[i + 1])
	if filter == '' or m.st == filter then
		out[#out + 1] = { v[i], m.st, m.prio, m.h, m.exp, m.untl,
		    m.fail, m.ej, tostring(m.lat) }
	end
end
return { r[1], out }
