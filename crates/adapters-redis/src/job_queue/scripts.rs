//! The Lua scripts behind [`super::RedisJobQueue`]: every move of a job between the queues
//! happens inside one script, so Redis runs it atomically and a job is never in two places
//! (or in none) at once, whatever the number of workers and instances.
//!
//! Keys may vanish under `allkeys-lru`; every script treats a missing key as empty.

use redis::Script;

/// The job's priority read from its JSON text (0 when the text is not an envelope, so a
/// broken job still moves and is dead-lettered when taken).
const PRIORITY_FN: &str = r"
local function priority(raw)
  local ok, job = pcall(cjson.decode, raw)
  if ok and type(job) == 'table' and type(job.priority) == 'number' then
    return job.priority
  end
  return 0
end
";

/// Whether `worker` may settle `raw`. KEYS[1] = processing, KEYS[2] = lease owners,
/// KEYS[3] = ready. A worker whose lease was returned by the reaper (and perhaps handed to
/// another worker, who may have finished it) may not. The owners hash keeps a sentinel
/// field `''`, so a missing hash means it was evicted: then the job counts as ours unless
/// it is back in `ready`, so that eviction never loses a job.
const OWNED_FN: &str = r"
local function owned(raw, worker)
  local owner = redis.call('HGET', KEYS[2], raw)
  if owner then
    return owner == worker
  end
  if redis.call('ZSCORE', KEYS[1], raw) then
    return true
  end
  if redis.call('HEXISTS', KEYS[2], '') == 1 then
    return false
  end
  return not redis.call('ZSCORE', KEYS[3], raw)
end
local function release(raw)
  redis.call('ZREM', KEYS[1], raw)
  redis.call('HDEL', KEYS[2], raw)
end
";

/// KEYS: ready, processing, owners. ARGV: lease expiry (epoch s), worker id.
/// Pops the lowest-scored ready job into the processing set (and sets the owners hash's
/// sentinel field `''`); nil when none.
const TAKE: &str = r"
local popped = redis.call('ZPOPMIN', KEYS[1])
if #popped == 0 then
  return false
end
local raw = popped[1]
redis.call('ZADD', KEYS[2], ARGV[1], raw)
redis.call('HSET', KEYS[3], raw, ARGV[2], '', '1')
return raw
";

/// KEYS: processing, owners, ready. ARGV: raw, worker. 1 when released, 0 when the lease
/// belongs to someone else now.
const ACK: &str = r"
if not owned(ARGV[1], ARGV[2]) then
  return 0
end
release(ARGV[1])
return 1
";

/// KEYS: processing, owners, ready, delayed. ARGV: raw, worker, new raw, process_at.
const RETRY: &str = r"
if not owned(ARGV[1], ARGV[2]) then
  return 0
end
release(ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
return 1
";

/// KEYS: processing, owners, ready, dead letters. ARGV: raw, worker, new raw.
const DEAD: &str = r"
if not owned(ARGV[1], ARGV[2]) then
  return 0
end
release(ARGV[1])
redis.call('LPUSH', KEYS[4], ARGV[3])
return 1
";

/// KEYS: delayed, ready. ARGV: now (epoch s), limit. Moves due jobs (score <= now).
const PROMOTE: &str = r"
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('ZADD', KEYS[2], now - priority(raw), raw)
end
return #due
";

/// KEYS: processing, owners, ready. ARGV: now (epoch s), limit. Returns jobs whose lease
/// ended strictly before now to the ready queue.
const REAP: &str = r"
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(expired) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('HDEL', KEYS[2], raw)
  redis.call('ZADD', KEYS[3], now - priority(raw), raw)
end
return #expired
";

/// KEYS: dead letters, ready. ARGV: score, dead raw, new raw. Moves only if the dead
/// entry is still there, so concurrent requeues move it once.
const REQUEUE_DEAD: &str = r"
if redis.call('LREM', KEYS[1], 1, ARGV[2]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
return 1
";

/// The compiled scripts (hashed once; invoked with `EVALSHA`, falling back to `EVAL`).
#[derive(Debug, Clone)]
pub(super) struct Scripts {
    pub take: Script,
    pub ack: Script,
    pub retry: Script,
    pub dead: Script,
    pub promote: Script,
    pub reap: Script,
    pub requeue_dead: Script,
}

impl Scripts {
    pub fn new() -> Self {
        let settle = |body: &str| Script::new(&format!("{OWNED_FN}{body}"));
        let moving = |body: &str| Script::new(&format!("{PRIORITY_FN}{body}"));
        Self {
            take: Script::new(TAKE),
            ack: settle(ACK),
            retry: settle(RETRY),
            dead: settle(DEAD),
            promote: moving(PROMOTE),
            reap: moving(REAP),
            requeue_dead: Script::new(REQUEUE_DEAD),
        }
    }
}
