// Reference app for the golden conformance check: the function catalogue of
// ../README.md written with the official Inngest JS SDK, served at
// /api/inngest with the SDK's plain Node http adapter.
//
// Environment (everything else is fixed so recordings are deterministic):
//   CONFORMANCE_PORT   port to listen on (default 3939), always on 127.0.0.1
//   CONFORMANCE_MODE   "dev" (default) or "cloud"
//   CONFORMANCE_BASE_URL  Inngest API/event origin the SDK is configured with
//                      (default http://127.0.0.1:9 – nothing listens there; no
//                      scenario makes the SDK call out)
// In cloud mode the signing key is the digest §3.6 Vector A key and the
// fallback key is the Vector B key (see ../README.md).

import http from "node:http";
import { Inngest, NonRetriableError, RetryAfterError } from "inngest";
import { serve } from "inngest/node";

export const PRIMARY_SIGNING_KEY =
  "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
export const FALLBACK_SIGNING_KEY =
  "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";

const port = Number.parseInt(process.env.CONFORMANCE_PORT ?? "3939", 10);
const mode = process.env.CONFORMANCE_MODE ?? "dev";
const baseUrl = process.env.CONFORMANCE_BASE_URL ?? "http://127.0.0.1:9";

if (mode !== "dev" && mode !== "cloud") {
  console.error(`CONFORMANCE_MODE must be "dev" or "cloud", got ${JSON.stringify(mode)}`);
  process.exit(2);
}
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`CONFORMANCE_PORT must be a TCP port, got ${JSON.stringify(process.env.CONFORMANCE_PORT)}`);
  process.exit(2);
}

// Variables the SDK would otherwise pick up from the caller's shell and that
// would make recordings depend on the machine.
for (const key of Object.keys(process.env)) {
  if (key.startsWith("INNGEST_")) delete process.env[key];
}

const inngest = new Inngest({
  id: "conformance",
  isDev: mode === "dev",
  baseUrl,
  ...(mode === "cloud"
    ? { signingKey: PRIMARY_SIGNING_KEY, signingKeyFallback: FALLBACK_SIGNING_KEY }
    : {}),
});

const on = (id) => ({ id, triggers: [{ event: `conformance/${id}` }] });

const serialSteps = inngest.createFunction(on("serial-steps"), async ({ step }) => {
  const first = await step.run("first-step", () => "A");
  const second = await step.run("second-step", () => ({ n: 2 }));
  return { first, second };
});

const stepNonRetriable = inngest.createFunction(on("step-non-retriable"), async ({ step }) => {
  await step.run("explode", () => {
    throw new NonRetriableError("nope");
  });
  return "unreachable";
});

const stepTransient = inngest.createFunction(on("step-transient"), async ({ step }) => {
  await step.run("flaky", () => {
    throw new Error("HMRC 503");
  });
  return "unreachable";
});

const stepRetryAfter = inngest.createFunction(on("step-retry-after"), async ({ step }) => {
  await step.run("throttled", () => {
    throw new RetryAfterError("throttled", 30000);
  });
  return "unreachable";
});

const parallelSteps = inngest.createFunction(on("parallel-steps"), async ({ step }) => {
  const [a, b] = await Promise.all([step.run("a", () => 1), step.run("b", () => 2)]);
  return a + b;
});

const sleep = inngest.createFunction(on("sleep"), async ({ step }) => {
  await step.sleep("nap", "1h");
  return await step.run("after-nap", () => "awake");
});

const waitForEvent = inngest.createFunction(on("wait-for-event"), async ({ step }) => {
  const event = await step.waitForEvent("wait-approval", {
    event: "conformance/approved",
    timeout: "1h",
    if: "async.data.id == event.data.id",
  });
  return { approved: event !== null, by: event?.data?.by ?? null };
});

const invokeChild = inngest.createFunction(on("invoke-child"), async ({ event }) => {
  return { doubled: event.data.x * 2 };
});

const invoke = inngest.createFunction(on("invoke"), async ({ step }) => {
  const result = await step.invoke("call-child", { function: invokeChild, data: { x: 1 } });
  return { child: result };
});

const catchStepError = inngest.createFunction(on("catch-step-error"), async ({ step }) => {
  try {
    await step.run("fails", () => {
      throw new Error("boom");
    });
    return { caught: null, name: null };
  } catch (err) {
    return { caught: err.message, name: err.name };
  }
});

const uncaughtStepError = inngest.createFunction(on("uncaught-step-error"), async ({ step }) => {
  await step.run("fails", () => {
    throw new Error("boom");
  });
  return "unreachable";
});

const repeatedIds = inngest.createFunction(on("repeated-ids"), async ({ step }) => {
  const out = [];
  for (let i = 0; i < 3; i++) {
    out.push(await step.run("repeat", () => i));
  }
  return out;
});

const fnNonRetriable = inngest.createFunction(on("fn-non-retriable"), async () => {
  throw new NonRetriableError("fatal");
});

const fnError = inngest.createFunction(on("fn-error"), async () => {
  throw new Error("plain failure");
});

const returnsNothing = inngest.createFunction(on("returns-nothing"), async ({ step }) => {
  await step.run("only-step", () => "done");
  return undefined;
});

const functions = [
  serialSteps,
  stepNonRetriable,
  stepTransient,
  stepRetryAfter,
  parallelSteps,
  sleep,
  waitForEvent,
  invoke,
  invokeChild,
  catchStepError,
  uncaughtStepError,
  repeatedIds,
  fnNonRetriable,
  fnError,
  returnsNothing,
];

const handler = serve({ client: inngest, functions });

const server = http.createServer((req, res) => {
  const path = (req.url ?? "").split("?")[0];
  if (path === "/api/inngest") {
    return handler(req, res);
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ message: "not found" }));
});

server.listen(port, "127.0.0.1", () => {
  console.log(`conformance JS app (${mode} mode) on http://127.0.0.1:${port}/api/inngest`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
