-- wrk script for bench/ingest.py: signed Shopify `orders/paid` deliveries, each with a unique
-- X-Shopify-Event-Id (run id, thread id, counter); every Nth request re-sends the thread's
-- previous delivery as an exact duplicate. Counts the answers and prints one JSON line.
--
--   wrk -t1 -c16 -d10s -s bench/wrk_shopify.lua URL -- RUN BODY_FILE SHOP HMAC DUP_EVERY

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   run, body_file, shop, hmac, dup_every = args[1], args[2], args[3], args[4], tonumber(args[5])
   local f = assert(io.open(body_file, "rb"))
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["User-Agent"] = "Shopify-Captain-Hook"
   wrk.headers["X-Shopify-Topic"] = "orders/paid"
   wrk.headers["X-Shopify-Shop-Domain"] = shop
   wrk.headers["X-Shopify-Hmac-Sha256"] = hmac
   wrk.headers["X-Shopify-API-Version"] = "2026-01"
   wrk.headers["X-Shopify-Triggered-At"] = "2026-11-20T12:00:00.000000Z"
   prefix = run .. "-" .. tid .. "-"
   sent, last_id, dups_sent = 0, 0, 0
   stored, duplicate, other_ok, non200 = 0, 0, 0, 0
end

function request()
   sent = sent + 1
   local id
   if dup_every > 0 and last_id > 0 and sent % dup_every == 0 then
      id = last_id -- an exact duplicate (a platform retry), possibly still in flight
      dups_sent = dups_sent + 1
   else
      last_id = last_id + 1
      id = last_id
   end
   local event_id = prefix .. id
   wrk.headers["X-Shopify-Event-Id"] = event_id
   wrk.headers["X-Shopify-Webhook-Id"] = "wh-" .. event_id
   return wrk.format()
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
   elseif body:find('"stored"', 1, true) then
      stored = stored + 1
   elseif body:find('"duplicate"', 1, true) then
      duplicate = duplicate + 1
   else
      other_ok = other_ok + 1
   end
end

function done(summary, latency, requests)
   local per_thread = {}
   for _, t in ipairs(threads) do
      table.insert(per_thread, string.format(
         '{"tid":%d,"sent":%d,"last_id":%d,"dups_sent":%d,"stored":%d,"duplicate":%d,' ..
         '"other_ok":%d,"non200":%d}',
         t:get("tid"), t:get("sent"), t:get("last_id"), t:get("dups_sent"), t:get("stored"),
         t:get("duplicate"), t:get("other_ok"), t:get("non200")))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
      '"threads":[%s]}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean,
      table.concat(per_thread, ",")))
end
