-- Unique nanosecond timestamps for wrk scripts, as strings (Lua numbers cannot hold 19 digits):
-- each thread counts requests; sample i of request n of thread t gets
-- (base + t * 20000 + n / 1e6) seconds and ((n % 1e6) * 1000 + i) nanoseconds.
local next_thread = 0
local base = os.time() - 2 * 86400

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

counter = 0

function next_request()
  counter = counter + 1
  local seconds = base + (tonumber(thread_index) or 0) * 20000 + math.floor(counter / 1000000)
  return tostring(seconds), (counter % 1000000) * 1000
end

function ts(seconds, fraction, i)
  return seconds .. string.format("%09d", fraction + i)
end
