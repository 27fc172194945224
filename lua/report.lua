-- report.lua: an item's outcome without a lease (passive health
-- feedback): the same failure counting, ejection and latency average as
-- release.lua.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 item, 2 outcome (NONE, OK, FAILED, BANNED), 3 latency ms
--       (< 0 = unknown)
-- Returns: 1
-- Errors: NOT_FOUND (no such item), NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local e = bad_key(ARGV[1], 'item')
if e then return bad(e) end
local outcome, lat
outcome, lat, e = arg_outcome(ARGV[2], ARGV[3])
if not outcome then return bad(e) end
local item = ARGV[1]
local m = item_get(item)
if not m then
	return fail('NOT_FOUND', 'no such item')
end
local now = now_ms()
local untl = health(m, outcome, lat, now, conf)
if untl and m.st ~= 'd' then
	quarantine(item, m, untl, conf)
else
	item_save(item, m)
end
return 1
