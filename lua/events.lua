-- events.lua: each pool's recent events (ejections, bans, health
-- changes), for status pages: one capped stream per pool that every
-- proxypoold on the Redis appends to, so each shows them all.  Only a
-- record of what the other functions did; nothing reads it to decide.
--
--   KEYS[1] events  STREAM  kind, proxy (redacted by the caller), until
--                           (ms, 0 = none), detail, source (who saw it)

local EVENTS_KEEP = 256		-- entries kept per pool (about: MAXLEN ~)
local EVENT_KINDS = { ejected = true, banned = true, down = true,
    up = true, evicted = true }
local EVENT_TEXT_MAX = 256	-- bytes of detail and source

-- event_add: append an event to a pool's stream, trimmed to about
-- EVENTS_KEEP entries (bounded work: the trim drops whole nodes).
--
-- KEYS: 1 the pool's events stream
-- ARGV: 1 kind (ejected, banned, down, up, evicted), 2 proxy, 3 until ms
--       (0 = none), 4 detail, 5 source
-- Returns: the entry's id
-- Errors: BAD_ARGUMENT
register('event_add', WRITE, function()
	if not EVENT_KINDS[ARGV[1]] then
		return bad('kind must be ejected, banned, down, up or evicted')
	end
	local e = bad_key(ARGV[2], 'proxy')
	if e then return bad(e) end
	local untl
	untl, e = arg_range(ARGV[3], 'until', 0, 2 ^ 53)
	if not untl then return bad(e) end
	if #ARGV[4] > EVENT_TEXT_MAX or #ARGV[5] > EVENT_TEXT_MAX then
		return bad('detail and source are at most ' .. EVENT_TEXT_MAX ..
		    ' bytes')
	end
	return redis.call('XADD', KEYS[1], 'MAXLEN', '~', EVENTS_KEEP, '*',
	    'k', ARGV[1], 'p', ARGV[2], 'u', ARGV[3], 'd', ARGV[4],
	    's', ARGV[5])
end)

-- events_get: a pool's newest events, newest first.
--
-- KEYS: 1 the pool's events stream
-- ARGV: 1 count (1..EVENTS_KEEP)
-- Returns: per event { ms (its time), kind, proxy, until ms, detail,
--   source }
-- Errors: BAD_ARGUMENT
register('events_get', READ, function()
	local n, e = arg_range(ARGV[1], 'count', 1, EVENTS_KEEP)
	if not n then return bad(e) end
	local r = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', n)
	local out = {}
	for i = 1, #r do
		local f, v = r[i][2], {}
		for j = 1, #f, 2 do
			v[f[j]] = f[j + 1]
		end
		out[i] = { tonumber(string.match(r[i][1], '^%d+')), v.k or '',
		    v.p or '', tonumber(v.u) or 0, v.d or '', v.s or '' }
	end
	return out
end)
