-- wrk script: POST the JSON file named by the BODY environment variable to the target URL.
-- Used for the load figures in docs/benchmarks.md; see examples/load_server.rs. wrk itself
-- reports any answer outside 2xx ("Non-2xx or 3xx responses"); the runs below had none.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(os.getenv("BODY"), "rb"), "set BODY to a call body file")
wrk.body = file:read("*a")
file:close()
