"""Lua scripts for the steps that must see and change a stream in one atomic step.

Each touches only its one stream key, so it runs unchanged on Redis Cluster. Reading a stream's
groups and then trimming it (or listing a consumer's entries and then moving them) from the
client would race with other consumers; a script cannot.
"""

from __future__ import annotations

from typing import Any, cast

import redis
from redis.commands.core import Script

_HELPERS = """
local function fields(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
local function parse_id(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
"""

# KEYS[1]: a stream. ARGV: group, retention ms, then the ids to acknowledge. Acknowledges
# them, then drops the entries that every consumer group has acknowledged and that are older
# than the retention: for each group, those below its lowest pending id, or up to its
# last-delivered id when nothing is pending. A stream no group reads is left alone (a group
# created later must still see it). Returns the number acknowledged.
ACK_AND_TRIM = (
    _HELPERS
    + """
local key, group, retention = KEYS[1], ARGV[1], tonumber(ARGV[2])
local acked = 0
for i = 3, #ARGV, 1000 do
  acked = acked + redis.call('XACK', key, group, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('EXISTS', key) == 0 then return acked end
local groups = redis.call('XINFO', 'GROUPS', key)
if #groups == 0 then return acked end
local floor_ms, floor_seq = nil, nil
local function lower(ms, seq)
  if floor_ms == nil or ms < floor_ms or (ms == floor_ms and seq < floor_seq) then
    floor_ms, floor_seq = ms, seq
  end
end
if retention > 0 then
  local now = redis.call('TIME')
  lower(tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention, 0)
end
for _, flat in ipairs(groups) do
  local g = fields(flat)
  if g['pending'] > 0 then
    lower(parse_id(redis.call('XPENDING', key, g['name'])[2]))
  else
    local ms, seq = parse_id(g['last-delivered-id'])
    lower(ms, seq + 1)
  end
end
if floor_ms > 0 then
  redis.call('XTRIM', key, 'MINID', string.format('%.0f-%.0f', floor_ms, floor_seq))
end
return acked
"""
)

# KEYS[1]: a stream. ARGV: group, consumer, target consumer, idle ms, page size.
# Moves up to a page of the consumer's pending entries to the target consumer, marked idle for
# so long that the next XAUTOCLAIM of any consumer takes them (their delivery counts are kept).
# Once the consumer holds nothing it is deleted. Returns how many entries moved.
HAND_BACK = """
local key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
local pending = redis.call('XPENDING', key, group, '-', '+', ARGV[5], consumer)
if #pending > 0 then
  local args = {'XCLAIM', key, group, ARGV[3], '0'}
  for _, entry in ipairs(pending) do args[#args + 1] = entry[1] end
  args[#args + 1] = 'IDLE'
  args[#args + 1] = ARGV[4]
  args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
if #pending < tonumber(ARGV[5]) then
  redis.call('XGROUP', 'DELCONSUMER', key, group, consumer)
end
return #pending
"""

# KEYS[1]: a stream. ARGV: group, consumer, then entry ids. Restarts the idle time (the lease)
# of each entry still pending for that consumer, without counting a delivery; an entry another
# consumer claimed meanwhile stays there. Returns how many were renewed.
RENEW = """
local key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local renewed = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', key, group, ARGV[i], ARGV[i], 1, consumer)
  if #pending > 0 then
    redis.call('XCLAIM', key, group, consumer, 0, ARGV[i], 'JUSTID')
    renewed = renewed + 1
  end
end
return renewed
"""

# KEYS[1]: a stream. ARGV: group, idle ms. Deletes the group's consumers that hold no entry
# and have been idle that long (closed or crashed processes); a live consumer that happens to
# be removed is re-created by its next read, and one holding entries is never touched.
FORGET_IDLE_CONSUMERS = (
    _HELPERS
    + """
local removed = 0
for _, flat in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local c = fields(flat)
  if c['pending'] == 0 and c['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], c['name'])
    removed = removed + 1
  end
end
return removed
"""
)

# KEYS[1]: a stream key. Creates it, empty, when missing; refuses a key of another type.
CREATE_STREAM = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  redis.call('XADD', KEYS[1], 'MAXLEN', '0', '*', 'created', '1')
  return 1
end
if kind ~= 'stream' then
  return redis.error_reply('WRONGTYPE key ' .. KEYS[1] .. ' holds a ' .. kind .. ', not a stream')
end
return 0
"""


class Scripts:
    """The scripts registered on one client (redis-py loads each on first use, by SHA)."""

    def __init__(self, client: redis.Redis) -> None:
        self.ack_and_trim: Script = client.register_script(ACK_AND_TRIM)
        self.hand_back: Script = client.register_script(HAND_BACK)
        self.renew: Script = client.register_script(RENEW)
        self.forget_idle_consumers: Script = client.register_script(FORGET_IDLE_CONSUMERS)
        self.create_stream: Script = client.register_script(CREATE_STREAM)


def run(script: Script, keys: list[str], args: list[Any]) -> int:
    """Run ``script`` for its integer reply."""
    return cast(int, script(keys=keys, args=args))
