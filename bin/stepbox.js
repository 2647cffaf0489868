#!/usr/bin/env node
// The `stepbox` command: runs the compiled command line, dist/ (built by npm run build, and by npm pack).
import { access } from "node:fs/promises";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
try {
  await access(main);
} catch {
  const root = new URL("..", import.meta.url);
  // The sources ship only in a checkout of the repository: there, building is the fix; an installed package is broken.
  const isCheckout = await access(new URL("src/cli/main.ts", root)).then(
    () => true,
    () => false,
  );
  process.stderr.write(
    isCheckout
      ? `error: stepbox is not built (${main.pathname} is missing)\nhint: run npm run build in ${root.pathname}\n`
      : `error: the installed stepbox package is incomplete (${main.pathname} is missing)\nhint: reinstall it: npm install stepbox\n`,
  );
  process.exit(2);
}
const { main: run } = await import(main.href);
// Exit at once: a finished command must not wait on idle sockets to the Docker engine.
process.exit(await run(process.argv));
