// A client of the official MCP TypeScript SDK, driving one rshell MCP server (tests/mcp/test_node_clients.py).
// Usage: node client.mjs SCENARIO_JSON  — prints one JSON document of what it saw.
// The SDK itself validates each tool's structuredContent against its outputSchema (Ajv), so any
// mismatch shows up as a thrown error in "results".
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const scenario = JSON.parse(process.argv[2]);
const sdkPackage = join(dirname(fileURLToPath(import.meta.url)), "node_modules/@modelcontextprotocol/sdk/package.json");
const report = { sdkVersion: JSON.parse(readFileSync(sdkPackage, "utf8")).version, results: [] };

const transport = new StdioClientTransport({ command: scenario.command[0], args: scenario.command.slice(1), stderr: "pipe" });
let stderr = "";
transport.stderr?.on("data", (chunk) => (stderr += chunk.toString()));
const client = new Client({ name: "rshell-tests-ts", version: "1.0.0" }, { capabilities: {} });
const logged = [];
const protocolErrors = []; // a server message the SDK's own schemas reject lands here
client.onerror = (error) => protocolErrors.push(String(error.message ?? error));
let listChanged = 0;
client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => logged.push(notification.params));
client.setNotificationHandler(ToolListChangedNotificationSchema, () => (listChanged += 1));

function failure(error) {
  return { code: error.code ?? null, message: String(error.message ?? error) };
}

await client.connect(transport);
report.server = client.getServerVersion();
report.capabilities = client.getServerCapabilities();
const listed = await client.listTools();
report.tools = listed.tools.map((tool) => tool.name);

for (const [name, args] of scenario.calls ?? []) {
  try {
    const result = await client.callTool({ name, arguments: args });
    report.results.push({ name, isError: result.isError ?? false, structuredContent: result.structuredContent });
  } catch (error) {
    report.results.push({ name, thrown: failure(error) });
  }
}

if (scenario.follow) {
  // cancel a follow once its first lines have arrived, then check that the session still answers
  const controller = new AbortController();
  const progress = [];
  logged.length = 0; // only what the follow sends
  const firstLines = new Promise((resolve) => {
    const check = setInterval(() => {
      if (logged.length > 0) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  const call = client
    .callTool({ name: "logs", arguments: { container: scenario.follow, follow: true, seconds: 60 } }, undefined, {
      signal: controller.signal,
      onprogress: (value) => progress.push(value),
    })
    .then(() => ({ cancelled: false }), (error) => ({ cancelled: true, error: failure(error) }));
  await firstLines;
  controller.abort("enough");
  const outcome = await call;
  await client.ping();
  report.follow = { ...outcome, logged, progress, pingAfterCancel: true };
}

if (scenario.waitForListChange) {
  const deadline = Date.now() + 30000;
  while (listChanged === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  report.listChanged = listChanged;
}

await client.close();
report.stderr = stderr;
report.protocolErrors = protocolErrors;
process.stdout.write(JSON.stringify(report));
