// An independent MCP client (the official TypeScript SDK) doing one scripted rollout against
// `crosslab env serve`: connect with the rollout's bearer token, read the task prompt, list the
// tools, run the steps, submit. Prints one JSON line of what it saw; the evaluator grades the rollout.
//
// usage: node client.mjs URL TOKEN STEPS_JSON [ANSWER]
//   STEPS_JSON: [{"tool": "bash", "arguments": {"command": "ls"}}, ..., {"tool": "submit", "arguments": {"report": "..."}}]
//   ANSWER: what to say to each follow-up question the server asks after submit (it offers `answer`)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, stepsJson, answer = "No."] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "crosslab-node-test-client", version: "1.0.0" });
await client.connect(transport);
const task = await client.getPrompt({ name: "task" });
const { tools } = await client.listTools();
const results = [];
for (const step of JSON.parse(stepsJson)) {
  const result = await client.callTool({ name: step.tool, arguments: step.arguments });
  results.push({ tool: step.tool, isError: result.isError ?? false, text: result.content.map((c) => c.text).join("\n") });
}
const after = await client.listTools();
const followUps = [];
for (let tools = after.tools; tools.some((t) => t.name === "answer"); tools = (await client.listTools()).tools) {
  const question = await client.getPrompt({ name: "follow_up" });
  followUps.push(question.messages.map((m) => m.content.text).join("\n"));
  await client.callTool({ name: "answer", arguments: { text: answer } });
}
await transport.terminateSession();
await client.close();
console.log(JSON.stringify({
  protocol: transport.protocolVersion,
  task: task.messages.map((m) => m.content.text),
  tools: tools.map((t) => t.name),
  results,
  toolsAfter: after.tools.map((t) => t.name),
  followUps,
}));
