-- wrk script for `npm run bench`: sends one fixed request and VERIFIES every response: status 200
-- and a body byte-identical to the expected body (the bench takes it from a checked probe).
-- Environment: BENCH_METHOD, BENCH_PATH, BENCH_BODY_FILE (optional), BENCH_CONTENT_TYPE,
-- BENCH_CLOSE=1 (one request per connection), BENCH_EXPECT_FILE.
-- done() prints one line: BENCH_RESULT {json}.

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/whoami"
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  wrk.body = slurp(body_file)
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end
if os.getenv("BENCH_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end

local expected = slurp(os.getenv("BENCH_EXPECT_FILE"))
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  bad_status = 0
  mismatches = 0
  sample = ""
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    if sample == "" then sample = "status " .. status .. ": " .. string.sub(body or "", 1, 160) end
  elseif body ~= expected then
    mismatches = mismatches + 1
    if sample == "" then sample = "body: " .. string.sub(body or "", 1, 160) end
  end
end

local function esc(s)
  return (string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end))
end

function done(summary, latency, requests)
  local r, b, m, s = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    b = b + t:get("bad_status")
    m = m + t:get("mismatches")
    if s == "" then s = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"durationUs":%d,"requests":%d,"bytes":%d,"responses":%d,"badStatus":%d,"mismatches":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"sample":"%s"}\n',
    summary.duration, summary.requests, summary.bytes, r, b, m,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, esc(s)))
end
