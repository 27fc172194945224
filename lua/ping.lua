-- ping.lua: the smallest script; proves the registry works and serves as
-- the reference call in benchmarks.
--
-- KEYS: none
-- ARGV: none
-- Returns: the Redis clock in milliseconds (integer).
return now_ms()
