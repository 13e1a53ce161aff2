-- wrk script: play a list of URLs and count every answer by status.
--
-- Environment:
--   URLS       the list, one request a line: `path` or `class<TAB>path` (path with its query)
--   THREADS    wrk's thread count, so each thread starts at its own place in the list
--   TOTAL_KEY  optional: count answers by status, and the 200 answers whose body carries
--              `"KEY": <number>` (an exact total), next to the number of 200 answers
--
-- Without TOTAL_KEY the script defines no `response()`, so wrk reads each body without handing
-- it to Lua. With one, wrk copies every body into a Lua string: for 63 MB CSV downloads that
-- copy is slower than the server (39 MB/s against 708 MB/s at 64 connections here), ties up
-- wrk's threads and turns into timeouts and read errors of its own. Without it the statuses
-- come from the server's access log; wrk's `errors.status` still counts non-2xx/3xx answers.
--
-- Each thread walks the list in order from its own offset, wrapping around. `done()` sums the
-- per-thread counts (wrk runs each thread in its own Lua state: `setup(thread)` keeps a handle on
-- each, `thread:get()` copies its tables back) and prints one line `RESULT {json}`.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   paths = {}
   for line in io.lines(os.getenv("URLS")) do
      local path = line:match("\t(.*)$") or line
      if path ~= "" then
         paths[#paths + 1] = path
      end
   end
   local count = tonumber(os.getenv("THREADS") or "1")
   position = math.floor(id * #paths / count)
   statuses = {}
   answered, exact = 0, 0
   local key = os.getenv("TOTAL_KEY")
   if key and key ~= "" then
      pattern = '"' .. key .. '":%s*%d'
   end
end

function request()
   position = position % #paths + 1
   return wrk.format("GET", paths[position])
end

if (os.getenv("TOTAL_KEY") or "") ~= "" then
   function response(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
      if pattern and status == 200 then
         answered = answered + 1
         if body:find(pattern) then
            exact = exact + 1
         end
      end
   end
end

function done(summary, latency, requests)
   local counts, answers, totals = {}, 0, 0
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + n
      end
      answers = answers + thread:get("answered")
      totals = totals + thread:get("exact")
   end
   local parts = {}
   for status, n in pairs(counts) do
      parts[#parts + 1] = string.format('"%d": %d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'RESULT {"statuses": {%s}, "requests": %d, "duration_us": %d, "bytes": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, '
         .. '"p50_us": %d, "p99_us": %d, "max_us": %d, "answered": %d, "exact": %d}\n',
      table.concat(parts, ", "), summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency.max, answers, totals))
end
