#!/usr/bin/env node
// The `stepbox` command: runs the compiled command line (npm run build writes dist/).
import { access } from "node:fs/promises";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
try {
  await access(main);
} catch {
  process.stderr.write(`error: stepbox is not built (${main.pathname} is missing)\nhint: run npm run build in ${new URL("..", import.meta.url).pathname}\n`);
  process.exit(2);
}
const { main: run } = await import(main.href);
// Exit at once: a finished command must not wait on idle sockets to the Docker engine.
process.exit(await run(process.argv));
