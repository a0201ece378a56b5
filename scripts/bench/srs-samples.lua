-- wrk: POST ECG samples to SRS ingest, SAMPLES per request (env, default 1), each unique:
-- deduplicated by (sensor, ts), or with IDS=1 each with a client id as well (its own key).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
require("timestamps")
local per_request = tonumber(os.getenv("SAMPLES") or "1")
local with_ids = os.getenv("IDS") == "1"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  local seconds, fraction = next_request()
  local parts = {}
  for i = 0, per_request - 1 do
    local stamp = ts(seconds, fraction, i)
    local id = with_ids and (',"id":"' .. stamp .. '"') or ""
    parts[#parts + 1] = '{"sensor_id":"ecg-1","ts":' .. stamp .. id .. ',"values":{"lead_i":0.1234,"lead_ii":-0.3141,"heart_rate":71.5}}'
  end
  return wrk.format(nil, nil, nil, "[" .. table.concat(parts, ",") .. "]")
end
