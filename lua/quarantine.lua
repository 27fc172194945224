-- quarantine.lua: keep an item from being leased for a while (its leases
-- stay valid); 0 ms ends a quarantine now.  A longer quarantine already
-- running is kept.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 item, 2 duration ms
-- Returns: the end of the quarantine (ms), 0 when lifted.
-- Errors: NOT_FOUND (no such item, or draining), NO_SUCH_POOL,
--   BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local e = bad_key(ARGV[1], 'item')
if e then return bad(e) end
local ms
ms, e = arg_ms(ARGV[2], 'quarantine time', false)
if not ms then return bad(e) end
local item = ARGV[1]
local m = item_get(item)
if not m or m.st == 'd' then
	return fail('NOT_FOUND', 'no such item')
end
local now = now_ms()
if ms == 0 then
	if m.st == 'q' then
		unquarantine(item, m, now, conf)
	end
	return 0
end
quarantine(item, m, now + ms, conf)
return m.untl
