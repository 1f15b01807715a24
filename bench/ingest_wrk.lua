-- wrk script for bench/ingest.py: each wrk thread cycles through its own share of pre-signed,
-- distinct Shopify deliveries (one per line: webhook id, HMAC, body, tab-separated).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads, start = args[1], tonumber(args[2]), tonumber(args[3] or "0")
  local me = wrk.thread:get("id")
  requests = {}
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == me then
      local id, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {
        ["Content-Type"] = "application/json",
        ["X-Shopify-Topic"] = "orders/paid",
        ["X-Shopify-Shop-Domain"] = "acme-gadgets-demo.myshopify.com",
        ["X-Shopify-Webhook-Id"] = id,
        ["X-Shopify-Hmac-Sha256"] = sig,
      }
      table.insert(requests, wrk.format("POST", "/webhooks/shopify", headers, body))
    end
    n = n + 1
  end
  -- Where in its share a run starts: the warm-up three quarters in, the run with workers half-way,
  -- so that each measured run's deliveries are still new.
  index = math.floor(#requests * start)
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end
