import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Starts a child process that streams an object into a local store at `root` slowly (64 KiB chunks,
 * without end) and resolves once `inFlightChunks` chunks are in flight, so the caller can kill it
 * mid-write.
 */
export async function startSlowWriter(root: string, key: string, inFlightChunks: number): Promise<ChildProcess> {
  const storeModule = pathToFileURL(fileURLToPath(new URL("../../src/store/local-store.ts", import.meta.url))).href;
  const script = `
    import { Readable } from "node:stream";
    import { setTimeout as sleep } from "node:timers/promises";
    const { LocalFileStore } = await import(${JSON.stringify(storeModule)});
    const store = new LocalFileStore(${JSON.stringify(root)});
    const chunks = (async function* () {
      for (let i = 0; ; i++) {
        yield Buffer.alloc(64 * 1024, i);
        if (i === ${inFlightChunks}) process.send("in flight");
        await sleep(20);
      }
    })();
    await store.putStream(${JSON.stringify(key)}, Readable.from(chunks));
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`the writer exited early (${String(code)})`)));
  });
  return child;
}
