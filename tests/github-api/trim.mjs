// Trim GitHub's OpenAPI description to the operations flamegate sends, plus
// every component they reference, so Prism starts in seconds instead of ~20 s.
// Usage: node trim.mjs OUTPUT.json
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { createRequire } from "node:module";

// Keep in step with src/publish/github: every route flamegate calls.
const OPERATIONS = {
  "/user": ["get"],
  "/repos/{owner}/{repo}/issues/{issue_number}/comments": ["get", "post"],
  "/repos/{owner}/{repo}/issues/comments/{comment_id}": ["patch", "delete"],
  "/repos/{owner}/{repo}/pulls": ["get"],
  "/repos/{owner}/{repo}/pulls/{pull_number}": ["get"],
  "/repos/{owner}/{repo}/pulls/{pull_number}/reviews": ["get"],
  "/repos/{owner}/{repo}/collaborators/{username}/permission": ["get"],
  "/repos/{owner}/{repo}/check-runs": ["post"],
  "/repos/{owner}/{repo}/check-runs/{check_run_id}": ["patch"],
  "/repos/{owner}/{repo}/commits/{ref}/check-runs": ["get"],
};

const output = process.argv[2];
if (!output) {
  console.error("usage: node trim.mjs OUTPUT.json");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const source = require.resolve("@octokit/openapi/generated/api.github.com.json");
const spec = JSON.parse(readFileSync(source, "utf8"));

const paths = {};
for (const [path, methods] of Object.entries(OPERATIONS)) {
  const item = spec.paths[path];
  if (!item) throw new Error(`GitHub's description has no path ${path}`);
  paths[path] = {};
  for (const key of Object.keys(item)) {
    // Path-level parameters and the like stay; other operations go.
    if (!["get", "put", "post", "delete", "patch", "head", "options", "trace"].includes(key) || methods.includes(key)) {
      paths[path][key] = item[key];
    }
  }
  for (const method of methods) {
    if (!item[method]) throw new Error(`GitHub's description has no ${method.toUpperCase()} ${path}`);
  }
}

// GitHub's own examples for these responses break GitHub's own schema
// (`requested_teams[0]` has no `type`), and Prism refuses to serve an invalid
// example. Without the example Prism builds the response from the schema.
const INVALID_EXAMPLES = [
  ["/repos/{owner}/{repo}/pulls/{pull_number}", "get", "200"],
  ["/repos/{owner}/{repo}/pulls", "get", "200"],
];
for (const [path, method, status] of INVALID_EXAMPLES) {
  const content = paths[path][method].responses[status].content["application/json"];
  delete content.examples;
  delete content.example;
}

// Follow "$ref": "#/components/<kind>/<name>" transitively.
const components = {};
const pending = [paths];
const seen = new Set();
while (pending.length > 0) {
  const node = pending.pop();
  if (node === null || typeof node !== "object") continue;
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string" && value.startsWith("#/components/") && !seen.has(value)) {
      seen.add(value);
      const [, , kind, name] = value.split("/");
      const target = spec.components[kind]?.[name];
      if (target === undefined) throw new Error(`dangling reference ${value}`);
      (components[kind] ??= {})[name] = target;
      pending.push(target);
    } else if (typeof value === "object") {
      pending.push(value);
    }
  }
}

const trimmed = {
  openapi: spec.openapi,
  info: spec.info,
  servers: spec.servers,
  paths,
  components,
};
writeFileSync(`${output}.tmp`, JSON.stringify(trimmed));
renameSync(`${output}.tmp`, output);
console.log(`${output}: ${Object.keys(paths).length} paths, ${seen.size} components`);
