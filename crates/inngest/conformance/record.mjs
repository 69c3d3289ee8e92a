#!/usr/bin/env node
// Golden conformance recorder for Inngest serve endpoints.
//
// Replays the hand-written call/introspection/sync request sequences of
// ./scenarios/*.json against a serve endpoint (any URL), signs each request at
// send time, and either writes one fixture per scenario into
// ../tests/fixtures/conformance/<scenario>.json (record mode, the default) or
// compares the answers with those fixtures after normalisation (--compare).
//
// Only Node.js built-ins are used. See ./README.md for the scenario and fixture
// formats and for the normalisation rules.
//
//   node record.mjs [--dev-url URL] [--cloud-url URL] [--only a,b] [--compare]
//                   [--scenarios DIR] [--fixtures DIR]
//                   [--signing-key KEY] [--fallback-key KEY] [--verbose]

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Digest §3.6 Vector A key: the primary signing key of the conformance apps. */
export const PRIMARY_SIGNING_KEY =
  "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
/** Digest §3.6 Vector B key: the fallback signing key of the conformance apps. */
export const FALLBACK_SIGNING_KEY =
  "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";
/** A well-formed key that neither app knows: used by `sign: "bad"`. */
export const UNKNOWN_SIGNING_KEY =
  "signkey-test-0000000000000000000000000000000000000000000000000000000000000000";

/** Seconds a signature timestamp is moved by `sign: "expired"` / `"future"`. */
const SKEW_SECONDS = 600;
/** Freshness window used when checking response signatures (digest §3.3). */
const WINDOW_SECONDS = 300;

export const SIGN_MODES = ["none", "primary", "fallback", "bad", "expired", "future"];
/**
 * "full": status, headers and normalised body are compared (the default).
 * "status-headers": the body is SDK-generated diagnostic text (e.g. "function
 * not found"); only status, headers and body_kind are compared.
 */
export const COMPARE_MODES = ["full", "status-headers"];

/** Response headers kept in fixtures with their value. */
const VALUE_HEADERS = [
  "content-type",
  "retry-after",
  "x-inngest-expected-server-kind",
  "x-inngest-no-retry",
  "x-inngest-req-version",
  "x-inngest-sdk-handled",
  "x-inngest-sync-kind",
];
/** Response headers kept in fixtures as "present" only (their value names the SDK). */
const PRESENCE_HEADERS = ["user-agent", "x-inngest-framework", "x-inngest-sdk"];
/** Response header whose signature is checked and stored as "valid"/"invalid". */
const SIGNATURE_HEADER = "x-inngest-signature";

// ---------------------------------------------------------------------------
// JSON helpers

/** Recursively sorts object keys (arrays keep their order). */
export function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

/**
 * Compact JSON with sorted keys. For the values used in scenarios (strings,
 * integers, booleans, null) this is exactly RFC 8785 (JCS), the form in which
 * the Inngest server sends call bodies (digest §3.1).
 */
export function canonicalJson(value) {
  return JSON.stringify(sortKeys(value));
}

/** Pretty, deterministic JSON used for fixture files. */
export function prettyJson(value) {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

// ---------------------------------------------------------------------------
// Signatures (digest §3)

/** HMAC-SHA256 over body bytes + decimal timestamp, key = prefix-stripped hex text. */
export function signature(body, key, timestamp) {
  const hmacKey = key.replace(/^signkey-\w+-/, "");
  return crypto
    .createHmac("sha256", Buffer.from(hmacKey, "utf8"))
    .update(Buffer.concat([Buffer.from(body, "utf8"), Buffer.from(String(timestamp), "utf8")]))
    .digest("hex");
}

function signatureHeader(body, key, timestamp) {
  return `t=${timestamp}&s=${signature(body, key, timestamp)}`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/** Key the target must have used to sign its response to a request of this sign mode. */
function expectedResponseKey(sign, keys) {
  if (sign === "fallback") return keys.fallback;
  if (sign === "primary") return keys.primary;
  return null;
}

/**
 * "valid" when the response header is `t=<fresh>&s=<hmac of the exact
 * response body bytes>` with the key that validated the request (or, for a
 * request that validated nothing, with either known key); else "invalid".
 */
function checkResponseSignature(header, bodyText, sign, keys) {
  const params = new URLSearchParams(header);
  const t = params.get("t");
  const s = params.get("s");
  if (!t || !s || !/^\d+$/.test(t)) return "invalid";
  if (Math.abs(nowSeconds() - Number(t)) > WINDOW_SECONDS) return "invalid";
  const expectedKey = expectedResponseKey(sign, keys);
  const candidates = expectedKey ? [expectedKey] : [keys.primary, keys.fallback];
  for (const key of candidates) {
    const mac = signature(bodyText, key, t);
    if (mac.length === s.length && crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(s))) {
      return "valid";
    }
  }
  return "invalid";
}

// ---------------------------------------------------------------------------
// Scenarios

function loadScenarios(dir, only) {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  const scenarios = [];
  for (const file of files) {
    const full = path.join(dir, file);
    let scenario;
    try {
      scenario = JSON.parse(fs.readFileSync(full, "utf8"));
    } catch (err) {
      throw new Error(`${full}: not valid JSON (${err.message})`);
    }
    const stem = file.replace(/\.json$/, "");
    validateScenario(scenario, stem, full);
    if (only && !only.has(stem)) continue;
    scenarios.push(scenario);
  }
  if (only) {
    for (const name of only) {
      if (!scenarios.some((s) => s.name === name)) {
        throw new Error(`--only names an unknown scenario: ${name}`);
      }
    }
  }
  return scenarios;
}

function validateScenario(s, stem, file) {
  const fail = (msg) => {
    throw new Error(`${file}: ${msg}`);
  };
  if (s.name !== stem) fail(`"name" must equal the file name stem "${stem}"`);
  if (typeof s.description !== "string" || !s.description) fail(`"description" is required`);
  if (s.mode !== "dev" && s.mode !== "cloud") fail(`"mode" must be "dev" or "cloud"`);
  if (!Array.isArray(s.requests) || s.requests.length === 0) fail(`"requests" must be a non-empty array`);
  const labels = new Set();
  s.requests.forEach((r, i) => {
    const where = `requests[${i}]`;
    if (typeof r.label !== "string" || !r.label) fail(`${where}.label is required`);
    if (labels.has(r.label)) fail(`${where}.label "${r.label}" is used twice`);
    labels.add(r.label);
    if (!["GET", "POST", "PUT"].includes(r.method)) fail(`${where}.method must be GET, POST or PUT`);
    if (!SIGN_MODES.includes(r.sign)) fail(`${where}.sign must be one of ${SIGN_MODES.join(", ")}`);
    if (r.query !== undefined && (typeof r.query !== "object" || r.query === null)) {
      fail(`${where}.query must be an object of strings`);
    }
    for (const v of Object.values(r.query ?? {})) {
      if (typeof v !== "string") fail(`${where}.query values must be strings`);
    }
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (k !== k.toLowerCase()) fail(`${where}.headers names must be lower-case (${k})`);
      if (k === SIGNATURE_HEADER) fail(`${where}.headers must not carry a signature; use "sign"`);
      if (typeof v !== "string") fail(`${where}.headers values must be strings`);
    }
    if (r.method === "GET" && r.body !== undefined) fail(`${where}: a GET has no body`);
    if (r.compare !== undefined && !COMPARE_MODES.includes(r.compare)) {
      fail(`${where}.compare must be one of ${COMPARE_MODES.join(", ")}`);
    }
    if (r.compare === "status-headers" && typeof r.note !== "string") {
      fail(`${where}: "compare": "status-headers" needs a "note" saying why the body is not compared`);
    }
  });
}

// ---------------------------------------------------------------------------
// Sending and recording

function buildUrl(base, query) {
  const url = new URL(base);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  return url.toString();
}

async function send(baseUrl, req, keys) {
  const bodyText = req.body === undefined ? "" : canonicalJson(req.body);
  const headers = { ...(req.headers ?? {}) };
  if (req.body !== undefined && headers["content-type"] === undefined) {
    headers["content-type"] = "application/json";
  }
  const now = nowSeconds();
  switch (req.sign) {
    case "none":
      break;
    case "primary":
      headers[SIGNATURE_HEADER] = signatureHeader(bodyText, keys.primary, now);
      break;
    case "fallback":
      headers[SIGNATURE_HEADER] = signatureHeader(bodyText, keys.fallback, now);
      break;
    case "bad":
      headers[SIGNATURE_HEADER] = signatureHeader(bodyText, UNKNOWN_SIGNING_KEY, now);
      break;
    case "expired":
      headers[SIGNATURE_HEADER] = signatureHeader(bodyText, keys.primary, now - SKEW_SECONDS);
      break;
    case "future":
      headers[SIGNATURE_HEADER] = signatureHeader(bodyText, keys.primary, now + SKEW_SECONDS);
      break;
    default:
      throw new Error(`unknown sign mode ${req.sign}`);
  }
  const url = buildUrl(baseUrl, req.query);
  let res;
  try {
    res = await fetch(url, {
      method: req.method,
      headers,
      body: req.method === "GET" ? undefined : bodyText,
      redirect: "manual",
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`${req.method} ${url} failed: ${err.cause?.message ?? err.message}`);
  }
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** Replaces values that change from run to run (digest: timing, stack traces). */
export function stabilise(value) {
  if (Array.isArray(value)) return value.map(stabilise);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "timing") out[k] = "<timing>";
      else if (k === "stack" && typeof v === "string" && v !== "") out[k] = "<stack>";
      else out[k] = stabilise(v);
    }
    return out;
  }
  return value;
}

function recordResponse(raw, sign, keys) {
  const headers = {};
  for (const name of VALUE_HEADERS) {
    const v = raw.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  for (const name of PRESENCE_HEADERS) {
    if (raw.headers.get(name) !== null) headers[name] = "present";
  }
  const sig = raw.headers.get(SIGNATURE_HEADER);
  if (sig !== null) headers[SIGNATURE_HEADER] = checkResponseSignature(sig, raw.text, sign, keys);

  const out = { status: raw.status, headers };
  if (raw.text === "") {
    out.body_kind = "empty";
  } else {
    try {
      out.body = stabilise(JSON.parse(raw.text));
      out.body_kind = "json";
    } catch {
      out.body_kind = "text";
      out.body_text = raw.text;
    }
  }
  return out;
}

async function runScenario(scenario, urls, keys) {
  const base = urls[scenario.mode];
  const exchanges = [];
  let recordedWith = null;
  for (const req of scenario.requests) {
    const raw = await send(base, req, keys);
    recordedWith ??= raw.headers.get("x-inngest-sdk");
    const request = { label: req.label, method: req.method, sign: req.sign };
    if (req.note !== undefined) request.note = req.note;
    if (req.compare !== undefined) request.compare = req.compare;
    if (req.query !== undefined) request.query = req.query;
    if (req.headers !== undefined) request.headers = req.headers;
    if (req.body !== undefined) request.body = req.body;
    exchanges.push({ label: req.label, request, response: recordResponse(raw, req.sign, keys) });
  }
  return {
    scenario: scenario.name,
    description: scenario.description,
    mode: scenario.mode,
    recorded_with: recordedWith,
    exchanges,
  };
}

// ---------------------------------------------------------------------------
// Normalisation for comparing another SDK's answers (README "Normalisation").
// Every rule here is listed, with its reason, in README.md; keep them in step.

/** N1: keys dropped wherever they occur in a response body. */
const VOLATILE_KEYS = new Set(["timing", "stack", "__serialized"]);
/** N6: keys naming the implementation, dropped from introspection / in-band sync bodies. */
const IDENTITY_KEYS = [
  "extra",
  "featureObservations",
  "framework",
  "has_signing_key_fallback",
  "sdk",
  "sdk_author",
  "sdk_language",
  "sdk_version",
];
/** N7: keys whose value is a hash in an implementation-chosen format: compared by presence. */
const HASH_KEYS = ["event_key_hash", "signing_key_fallback_hash", "signing_key_hash"];
const ERROR_OPS = new Set(["StepError", "StepFailed"]);

function dropVolatile(value) {
  if (Array.isArray(value)) return value.map(dropVolatile);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (!VOLATILE_KEYS.has(k)) out[k] = dropVolatile(v);
    }
    return out;
  }
  return value;
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** N3: an error object reduced to what every SDK must agree on. */
function errorCore(err) {
  if (!isPlainObject(err)) return err;
  return { message: err.message, name: err.name };
}

/** N4: one op of a 206 array. */
function normaliseOp(op) {
  const o = { ...op };
  if (o.opts === undefined) o.opts = {};
  if (ERROR_OPS.has(o.op)) {
    delete o.data;
    if ("error" in o) o.error = errorCore(o.error);
  } else if (o.op !== "StepRun" && o.data === null) {
    delete o.data;
  }
  if (isPlainObject(o.opts)) {
    const opts = { ...o.opts };
    if (o.op === "Sleep" && opts.duration === o.name) delete opts.duration;
    if (o.op === "WaitForEvent" && opts.event === o.name) delete opts.event;
    o.opts = opts;
  }
  return o;
}

/** N6/N7: introspection bodies (also the `inspection` of an in-band sync). */
function normaliseIntrospection(body) {
  const out = { ...body };
  for (const k of IDENTITY_KEYS) delete out[k];
  if (out.authentication_succeeded === null) delete out.authentication_succeeded;
  if (out.platform === null) delete out.platform;
  for (const k of HASH_KEYS) {
    if (typeof out[k] === "string") out[k] = "<hash>";
  }
  if (isPlainObject(out.capabilities)) {
    out.capabilities =
      "trust_probe" in out.capabilities ? { trust_probe: out.capabilities.trust_probe } : {};
  }
  return out;
}

function isIntrospection(body) {
  return isPlainObject(body) && typeof body.schema_version === "string" && "function_count" in body;
}

function isInBandSync(body) {
  return isPlainObject(body) && Array.isArray(body.functions) && isPlainObject(body.inspection);
}

function isOpArray(body) {
  return Array.isArray(body) && body.length > 0 && body.every((op) => isPlainObject(op) && typeof op.op === "string");
}

function normaliseBody(body, status) {
  const b = dropVolatile(body);
  if (status === 206 && isOpArray(b)) return b.map(normaliseOp);
  if (isIntrospection(b)) return normaliseIntrospection(b);
  if (isInBandSync(b)) {
    const out = normaliseIntrospection(b);
    out.inspection = normaliseIntrospection(b.inspection);
    out.functions = [...b.functions].sort((x, y) => String(x.id).localeCompare(String(y.id)));
    return out;
  }
  if (status >= 400 && isPlainObject(b) && typeof b.name === "string" && typeof b.message === "string") {
    return errorCore(b);
  }
  return b;
}

/** The comparable view of one recorded response (`compare` from the request). */
export function normaliseResponse(res, compare = "full") {
  const headers = { ...res.headers };
  // N2: media type only.
  if (typeof headers["content-type"] === "string") {
    headers["content-type"] = headers["content-type"].split(";")[0].trim().toLowerCase();
  }
  // N5: on a 5xx an absent x-inngest-no-retry means "retry", exactly like "false".
  if (res.status >= 500 && headers["x-inngest-no-retry"] === undefined) {
    headers["x-inngest-no-retry"] = "false";
  }
  const out = { status: res.status, headers, body_kind: res.body_kind };
  if (compare === "status-headers") return out;
  if (res.body_kind === "json") out.body = normaliseBody(res.body, res.status);
  if (res.body_kind === "text") out.body_text = res.body_text;
  return out;
}

function diff(expected, actual, where, out) {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      out.push(`${where}: array length ${expected.length} expected, got ${actual.length}`);
    }
    const n = Math.min(expected.length, actual.length);
    for (let i = 0; i < n; i++) diff(expected[i], actual[i], `${where}[${i}]`, out);
    return;
  }
  if (isPlainObject(expected) && isPlainObject(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of [...keys].sort()) {
      if (!(k in actual)) out.push(`${where}.${k}: missing (expected ${JSON.stringify(expected[k])})`);
      else if (!(k in expected)) out.push(`${where}.${k}: unexpected ${JSON.stringify(actual[k])}`);
      else diff(expected[k], actual[k], `${where}.${k}`, out);
    }
    return;
  }
  if (JSON.stringify(expected) !== JSON.stringify(actual)) {
    out.push(`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** Differences between a fixture and a fresh recording, after normalisation. */
export function compareFixtures(expected, actual) {
  const out = [];
  const n = Math.max(expected.exchanges.length, actual.exchanges.length);
  for (let i = 0; i < n; i++) {
    const e = expected.exchanges[i];
    const a = actual.exchanges[i];
    if (!e || !a) {
      out.push(`exchange ${i}: present in only one of fixture/replay`);
      continue;
    }
    if (e.label !== a.label) out.push(`exchange ${i}: label "${e.label}" in the fixture, "${a.label}" replayed`);
    if (canonicalJson(e.request) !== canonicalJson(a.request)) {
      out.push(`${e.label}: the scenario's request differs from the fixture's (stale fixture: re-record)`);
    }
    const mode = e.request.compare ?? "full";
    diff(normaliseResponse(e.response, mode), normaliseResponse(a.response, mode), e.label, out);
  }
  return out;
}

// ---------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const opts = {
    devUrl: "http://127.0.0.1:39391/api/inngest",
    cloudUrl: "http://127.0.0.1:39392/api/inngest",
    scenarios: path.join(HERE, "scenarios"),
    fixtures: path.join(HERE, "..", "tests", "fixtures", "conformance"),
    only: null,
    compare: false,
    verbose: false,
    primary: PRIMARY_SIGNING_KEY,
    fallback: FALLBACK_SIGNING_KEY,
  };
  const takes = {
    "--dev-url": "devUrl",
    "--cloud-url": "cloudUrl",
    "--scenarios": "scenarios",
    "--fixtures": "fixtures",
    "--signing-key": "primary",
    "--fallback-key": "fallback",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--compare") opts.compare = true;
    else if (a === "--verbose") opts.verbose = true;
    else if (a === "--only") opts.only = new Set((argv[++i] ?? "").split(",").filter(Boolean));
    else if (takes[a]) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      opts[takes[a]] = v;
    } else if (a === "--help" || a === "-h") {
      console.log(
        "usage: node record.mjs [--dev-url URL] [--cloud-url URL] [--only a,b] [--compare]\n" +
          "                       [--scenarios DIR] [--fixtures DIR] [--signing-key KEY]\n" +
          "                       [--fallback-key KEY] [--verbose]",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  for (const [flag, key] of [
    ["--dev-url", "devUrl"],
    ["--cloud-url", "cloudUrl"],
  ]) {
    try {
      new URL(opts[key]);
    } catch {
      throw new Error(`${flag} is not a URL: ${opts[key]}`);
    }
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const urls = { dev: opts.devUrl, cloud: opts.cloudUrl };
  const keys = { primary: opts.primary, fallback: opts.fallback };
  const scenarios = loadScenarios(opts.scenarios, opts.only);
  if (!opts.compare) fs.mkdirSync(opts.fixtures, { recursive: true });

  let failed = 0;
  let passed = 0;
  for (const scenario of scenarios) {
    const recorded = await runScenario(scenario, urls, keys);
    const file = path.join(opts.fixtures, `${scenario.name}.json`);
    if (opts.verbose) console.log(prettyJson(recorded));
    if (!opts.compare) {
      fs.writeFileSync(file, prettyJson(recorded));
      console.log(`recorded ${scenario.name} (${recorded.exchanges.length} exchanges)`);
      continue;
    }
    if (!fs.existsSync(file)) {
      console.log(`FAIL ${scenario.name}: no fixture at ${file}`);
      failed++;
      continue;
    }
    const expected = JSON.parse(fs.readFileSync(file, "utf8"));
    const diffs = compareFixtures(expected, recorded);
    if (diffs.length === 0) {
      console.log(`ok   ${scenario.name}`);
      passed++;
    } else {
      console.log(`FAIL ${scenario.name}`);
      for (const d of diffs) console.log(`     ${d}`);
      failed++;
    }
  }
  if (opts.compare) {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`error: ${err.message}`);
    process.exit(2);
  });
}
