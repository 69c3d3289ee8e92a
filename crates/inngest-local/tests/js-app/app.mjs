// A small app written with the official Inngest JS SDK, used by the inngest-local tests to prove
// the engine against a client nobody in this repository wrote. `tests/it/rust_app.rs` has the same
// functions written with this workspace's Rust SDK, and every end-to-end case runs against both:
// keep the two apps in step (`e2e::js_and_rust_apps_register_equivalent_functions` compares them).
//
// Environment:
//   PORT               port to listen on (127.0.0.1)
//   INNGEST_BASE_URL   the engine's URL (events, /fn/register, /v0)
//   INNGEST_DEV        "1" for dev mode; "0" plus INNGEST_SIGNING_KEY / INNGEST_EVENT_KEY for cloud mode
//   WITH_CRON          "1" to also serve a cron-triggered function
import http from "node:http";
import { Inngest, NonRetriableError, RetryAfterError } from "inngest";
import { serve } from "inngest/node";

const inngest = new Inngest({ id: "js-app" });

// Executions per step, to prove what a replay re-runs.
const executions = {};
const count = (key) => {
  executions[key] = (executions[key] ?? 0) + 1;
  return executions[key];
};
// Steps of the concurrency test that have started, by event id.
const started = {};
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const waitUntil = async (check, limitMs) => {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("gave up waiting for another run's step to start");
    await pause(10);
  }
};

const serial = inngest.createFunction(
  { id: "serial", triggers: [{ event: "test/serial" }] },
  async ({ event, step }) => {
    const a = await step.run("a", () => event.data.start + 1);
    const b = await step.run("b", () => a * 2);
    const c = await step.run("c", () => `${b}!`);
    return { a, b, c };
  },
);

const flaky = inngest.createFunction(
  { id: "flaky", triggers: [{ event: "test/flaky" }] },
  async ({ step, attempt }) => {
    return await step.run("flaky-step", () => {
      if (attempt < 2) throw new Error(`transient failure on attempt ${attempt}`);
      return { succeededOnAttempt: attempt };
    });
  },
);

const nonRetriable = inngest.createFunction(
  { id: "non-retriable", triggers: [{ event: "test/non-retriable" }] },
  async ({ step }) => {
    await step.run("charge", () => {
      count("charge");
      throw new NonRetriableError("card declined");
    });
    return "unreachable";
  },
);

const retryAfter = inngest.createFunction(
  { id: "retry-after", triggers: [{ event: "test/retry-after" }] },
  async ({ step }) => {
    return await step.run("throttled", () => {
      if (count("throttled") === 1) throw new RetryAfterError("slow down", 90_000);
      return "ok";
    });
  },
);

const alwaysFails = inngest.createFunction(
  {
    id: "always-fails",
    retries: 2,
    triggers: [{ event: "test/always-fails" }],
    onFailure: async ({ event, error }) => ({
      failedFunction: event.data.function_id,
      message: error.message,
      originalEvent: event.data.event.name,
    }),
  },
  async ({ attempt }) => {
    throw new Error(`still broken (attempt ${attempt})`);
  },
);

const parallel = inngest.createFunction(
  { id: "parallel", triggers: [{ event: "test/parallel" }] },
  async ({ step }) => {
    const [x, y, z] = await Promise.all([
      step.run("p1", () => 1),
      step.run("p2", () => 2),
      step.run("p3", () => 3),
    ]);
    return await step.run("sum", () => x + y + z);
  },
);

const sleeper = inngest.createFunction(
  { id: "sleeper", triggers: [{ event: "test/sleep" }] },
  async ({ step }) => {
    await step.sleep("nap", "10m");
    return await step.run("after-nap", () => "awake");
  },
);

const waiter = inngest.createFunction(
  { id: "waiter", triggers: [{ event: "test/wait" }] },
  async ({ event, step }) => {
    const got = await step.waitForEvent("wait-approval", {
      event: "test/approved",
      timeout: event.data.timeout ?? "7d",
      if: "async.data.id == event.data.id",
    });
    return { approved: got ? got.data : null };
  },
);

const child = inngest.createFunction(
  { id: "child", retries: 0, triggers: [{ event: "test/child" }] },
  async ({ event }) => {
    if (event.data.n < 0) throw new NonRetriableError(`negative input ${event.data.n}`);
    return { doubled: event.data.n * 2 };
  },
);

const invoker = inngest.createFunction(
  { id: "invoker", triggers: [{ event: "test/invoke" }] },
  async ({ event, step }) => {
    try {
      const result = await step.invoke("call-child", { function: child, data: { n: event.data.n } });
      return { result };
    } catch (err) {
      return { caught: err.message, name: err.name };
    }
  },
);

const serialised = inngest.createFunction(
  {
    id: "serialised",
    concurrency: [{ limit: 1, key: "event.data.key" }],
    triggers: [{ event: "test/concurrency" }],
  },
  async ({ event, step }) => {
    return await step.run("work", async () => {
      started[event.data.id] = true;
      if (event.data.wait_for) await waitUntil(() => started[event.data.wait_for], 20_000);
      await pause(200);
      return event.data.id;
    });
  },
);

const cancellable = inngest.createFunction(
  {
    id: "cancellable",
    cancelOn: [{ event: "test/cancel", if: "async.data.id == event.data.id" }],
    triggers: [{ event: "test/cancellable" }],
  },
  async ({ step }) => {
    await step.sleep("long-nap", "1d");
    return await step.run("after-cancel", () => "should not run");
  },
);

const replayable = inngest.createFunction(
  { id: "replayable", triggers: [{ event: "test/replay" }] },
  async ({ step }) => {
    const s1 = await step.run("s1", () => `s1-run${count("s1")}`);
    const s2 = await step.run("s2", () => `s2-run${count("s2")}`);
    const s3 = await step.run("s3", () => `s3-run${count("s3")}`);
    return [s1, s2, s3];
  },
);

const emitter = inngest.createFunction(
  { id: "emitter", triggers: [{ event: "test/emit" }] },
  async ({ event, step }) => {
    return await step.sendEvent("emit", { name: "test/serial", data: { start: event.data.start } });
  },
);

const functions = [
  serial, flaky, nonRetriable, retryAfter, alwaysFails, parallel, sleeper, waiter, child,
  invoker, serialised, cancellable, replayable, emitter,
];

if (process.env.WITH_CRON === "1") {
  functions.push(
    inngest.createFunction(
      { id: "ticker", triggers: [{ cron: "* * * * *" }] },
      async ({ event, step }) => await step.run("tick", () => event.data.cron),
    ),
  );
}

const port = Number(process.env.PORT ?? 3000);
http.createServer(serve({ client: inngest, functions })).listen(port, "127.0.0.1", () => {
  console.log(`js-app listening on http://127.0.0.1:${port}/api/inngest`);
});
