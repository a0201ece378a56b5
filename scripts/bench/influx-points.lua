-- wrk: write the same ECG data to InfluxDB 1.x as line protocol, POINTS per request (env).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
require("timestamps")
local per_request = tonumber(os.getenv("POINTS") or "1")
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"

function request()
  local seconds, fraction = next_request()
  local lines = {}
  for i = 0, per_request - 1 do
    lines[#lines + 1] = "ecg,sensor_id=ecg-1 lead_i=0.1234,lead_ii=-0.3141,heart_rate=71.5 " .. ts(seconds, fraction, i)
  end
  return wrk.format(nil, nil, nil, table.concat(lines, "\n"))
end
