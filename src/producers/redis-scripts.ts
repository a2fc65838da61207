/**
 * Lua scripts of the Redis producer state store: one per operation, each checking and updating one
 * (producer id, partition) key atomically. They implement exactly the rules of sequence-state.ts
 * (reserve, commit, abort, resolve) on the same stored JSON; the store test suite runs the same
 * cases, and a randomized comparison, against both.
 *
 * KEYS[1] = the state key, KEYS[2] = the partition's set of producer ids with pending
 * reservations (same hash slot: both carry the partition key as hash tag).
 * Replies are arrays of strings.
 */

const PRELUDE = `
local MAX_SEQ = 2147483647
local RETAIN = 5
local MAX_PENDING = 64

local function load(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  local s = cjson.decode(raw)
  if type(s.e) ~= 'table' then s.e = {} end
  return s
end

local function has_pending(entries)
  for _, e in ipairs(entries) do
    if e.i then return true end
  end
  return false
end

local function save(s, pid, ttl)
  if #s.e == 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], cjson.encode(s), 'PX', ttl)
  end
  if has_pending(s.e) then
    redis.call('SADD', KEYS[2], pid)
    redis.call('PEXPIRE', KEYS[2], ttl)
  else
    redis.call('SREM', KEYS[2], pid)
  end
end

local function pending_ref(e)
  return {e.i, e.w, tostring(e.t), tostring(e.p), tostring(e.f), tostring(e.l)}
end

local function committed_epoch(entries)
  local epoch = -1
  for _, e in ipairs(entries) do
    if not e.i and e.p > epoch then epoch = e.p end
  end
  return epoch
end

local function trim(entries)
  local epoch = committed_epoch(entries)
  local keep = RETAIN
  local kept = {}
  for k = #entries, 1, -1 do
    local e = entries[k]
    local drop = false
    if not e.i then
      if e.p < epoch or keep == 0 then drop = true else keep = keep - 1 end
    end
    if not drop then table.insert(kept, 1, e) end
  end
  return kept
end

-- Records a written batch: 'committed' | 'already-committed' | 'late' | 'stale'.
local function do_commit(pid, id, epoch, first, last, base, ttl)
  local s = load(KEYS[1])
  local entries = s and s.e or {}
  for _, e in ipairs(entries) do
    if e.i == id then
      e.i = nil
      e.w = nil
      e.t = nil
      e.b = base
      s.e = trim(entries)
      save(s, pid, ttl)
      return 'committed'
    end
  end
  for _, e in ipairs(entries) do
    if not e.i and e.p == epoch and e.f == first and e.l == last then return 'already-committed' end
  end
  if epoch < committed_epoch(entries) then return 'stale' end
  if not s then s = {n = 0, e = {}} end
  table.insert(s.e, {o = s.n, p = epoch, f = first, l = last, b = base})
  s.n = s.n + 1
  s.e = trim(s.e)
  save(s, pid, ttl)
  return 'late'
end
`;

/**
 * ARGV: pid, epoch, firstSeq, lastSeq, id, owner, nowMs, ttlMs.
 * Reply: {'accept'} | {'accept', <predecessor ref>} | {'duplicate', baseOffset} |
 * {'in-flight', <pending ref>} | {'reject', reason, currentEpoch, lastSeq};
 * a ref is id, owner, createdAtMs, epoch, firstSeq, lastSeq.
 */
export const RESERVE_LUA = `${PRELUDE}
local pid = ARGV[1]
local epoch = tonumber(ARGV[2])
local first = tonumber(ARGV[3])
local last = tonumber(ARGV[4])
local id = ARGV[5]
local s = load(KEYS[1])
local entries = s and s.e or {}
for k, e in ipairs(entries) do
  if e.i == id then
    local before = entries[k - 1]
    if before and before.i then
      local reply = {'accept'}
      for _, v in ipairs(pending_ref(before)) do table.insert(reply, v) end
      return reply
    end
    return {'accept'}
  end
end
local n = #entries
if n == 0 then
  if first ~= 0 then return {'reject', 'unknown-producer', '-1', '-1'} end
else
  for _, e in ipairs(entries) do
    if e.p == epoch and e.f == first and e.l == last then
      if e.i then
        local reply = {'in-flight'}
        for _, v in ipairs(pending_ref(e)) do table.insert(reply, v) end
        return reply
      end
      return {'duplicate', e.b}
    end
  end
  local newest = entries[n]
  local reason = nil
  if epoch < newest.p then
    reason = 'stale-epoch'
  elseif epoch > newest.p then
    if first ~= 0 then reason = 'new-epoch-sequence' end
  elseif not (first == newest.l + 1 or (first == 0 and newest.l == MAX_SEQ)) then
    reason = 'out-of-order'
  end
  if not reason then
    local pending = 0
    for _, e in ipairs(entries) do
      if e.i then pending = pending + 1 end
    end
    if pending >= MAX_PENDING then reason = 'too-many-pending' end
  end
  if reason then return {'reject', reason, tostring(newest.p), tostring(newest.l)} end
end
local predecessor = nil
if n > 0 and entries[n].i then predecessor = entries[n] end
if not s then s = {n = 0, e = {}} end
table.insert(s.e, {o = s.n, p = epoch, f = first, l = last, i = id, w = ARGV[6], t = tonumber(ARGV[7])})
s.n = s.n + 1
save(s, pid, ARGV[8])
local reply = {'accept'}
if predecessor then
  for _, v in ipairs(pending_ref(predecessor)) do table.insert(reply, v) end
end
return reply
`;

/** ARGV: pid, id, epoch, firstSeq, lastSeq, baseOffset, ttlMs. Reply: the commit outcome. */
export const COMMIT_LUA = `${PRELUDE}
return do_commit(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7])
`;

/** ARGV: pid, id, ttlMs. Reply: {'found', cancelled ids...} | {'not-found'}. */
export const ABORT_LUA = `${PRELUDE}
local pid = ARGV[1]
local id = ARGV[2]
local s = load(KEYS[1])
if not s then return {'not-found'} end
local target = nil
for _, e in ipairs(s.e) do
  if e.i == id then target = e end
end
if not target then return {'not-found'} end
local reply = {'found'}
local kept = {}
for _, e in ipairs(s.e) do
  if e == target then
    -- removed
  elseif e.i and e.o > target.o and e.p == target.p then
    table.insert(reply, e.i)
  else
    table.insert(kept, e)
  end
end
s.e = kept
save(s, pid, ARGV[3])
return reply
`;

/**
 * ARGV: pid, id, epoch, firstSeq, lastSeq, found ('1' | '0'), baseOffset, ttlMs.
 * Reply: a commit outcome when found, else 'removed' | 'not-pending'.
 */
export const RESOLVE_LUA = `${PRELUDE}
local pid = ARGV[1]
local id = ARGV[2]
if ARGV[6] == '1' then
  return do_commit(pid, id, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[7], ARGV[8])
end
local s = load(KEYS[1])
if not s then return 'not-pending' end
local kept = {}
local found = false
for _, e in ipairs(s.e) do
  if e.i == id then found = true else table.insert(kept, e) end
end
if not found then return 'not-pending' end
s.e = kept
save(s, pid, ARGV[8])
return 'removed'
`;
