import type { Command } from "commander";
import { NotFoundError } from "../../errors.js";
import type { LocalPipelineSession } from "../../session/local-pipeline-session.js";
import { layout } from "../../store/layout.js";
import { executionEnded, type ExecutionRecord } from "../../store/records.js";
import { action, examples } from "../action.js";
import { parseDuration } from "../duration.js";
import { EXIT } from "../errors.js";
import { formatDuration, toJson, writeLines } from "../output.js";
import { openSession, withJsonOption, type ReadOptions } from "../session.js";

interface GcOptions extends ReadOptions {
  olderThan: string;
  dryRun?: boolean;
}

/** An execution by where it is stored, which is what gets removed, whatever its record says. */
interface Found {
  readonly pipeline: string;
  readonly id: string;
  readonly record: ExecutionRecord;
}

interface Collected {
  readonly removed: Found[];
  readonly running: Found[];
}

/** Ended executions last changed before the cutoff; running ones are never collected, whatever their age. */
async function collect(session: LocalPipelineSession, cutoff: number): Promise<Collected> {
  const removed: Found[] = [];
  const running: Found[] = [];
  for (const pipeline of await session.records.listPipelines()) {
    for (const id of await session.records.listExecutionIds(pipeline)) {
      const record = await session.records.readExecution(pipeline, id);
      if (!executionEnded(record.PipelineExecutionStatus)) running.push({ pipeline, id, record });
      else if (Date.parse(record.LastModifiedTime) < cutoff) removed.push({ pipeline, id, record });
    }
  }
  return { removed, running };
}

/** Step-cache entries that point at a removed execution: they could only miss now. */
async function staleCacheEntries(session: LocalPipelineSession, removed: readonly Found[]): Promise<string[]> {
  const gone = new Set(removed.map((r) => `${r.pipeline}/${r.id}`));
  const stale: string[] = [];
  for (const pipeline of new Set(removed.map((r) => r.pipeline))) {
    for (const key of await session.store.list(`${layout.pipelineRoot(pipeline)}/.cache`)) {
      try {
        const entry = JSON.parse((await session.store.get(key)).toString("utf8")) as { SourcePipelineExecutionId?: string };
        if (gone.has(`${pipeline}/${entry.SourcePipelineExecutionId}`)) stale.push(key);
      } catch (error) {
        if (!(error instanceof NotFoundError) && !(error instanceof SyntaxError)) throw error;
      }
    }
  }
  return stale;
}

export function gcCommand(program: Command): void {
  withJsonOption(
    program
      .command("gc")
      .summary("remove old executions from the store")
      .description(
        "Remove executions that ended longer ago than a duration, with everything they stored (records, payloads, archives, logs) and the step-cache entries that point at them. " +
          "An execution still running is never removed.",
      )
      .requiredOption("--older-than <duration>", "remove executions that ended before this long ago: 30s, 15m, 12h, 7d, 2w, or ISO-8601 (P7D)")
      .option("--dry-run", "only list what would be removed"),
  )
    .addHelpText("after", examples("stepbox gc --older-than 7d --dry-run", "stepbox gc --older-than 12h"))
    .action(
      action(async (options: GcOptions) => {
        const olderThanMs = parseDuration(options.olderThan, "--older-than");
        const session = openSession(options);
        const now = Date.now();
        const { removed, running } = await collect(session, now - olderThanMs);
        const cacheEntries = await staleCacheEntries(session, removed);
        if (!options.dryRun) {
          for (const r of removed) await session.store.deletePrefix(layout.executionRoot(r.pipeline, r.id));
          for (const key of cacheEntries) await session.store.deletePrefix(key);
        }
        if (options.json) {
          const ids = (found: readonly Found[]): Array<{ PipelineName: string; PipelineExecutionId: string; PipelineExecutionStatus: string }> =>
            found.map((r) => ({ PipelineName: r.pipeline, PipelineExecutionId: r.id, PipelineExecutionStatus: r.record.PipelineExecutionStatus }));
          process.stdout.write(`${toJson({ DryRun: options.dryRun === true, Removed: ids(removed), KeptRunning: ids(running), RemovedCacheEntries: cacheEntries.length })}\n`);
          return EXIT.ok;
        }
        const verb = options.dryRun ? "would remove" : "removed";
        writeLines(
          process.stdout,
          removed.map((r) => `${verb} ${r.pipeline}/${r.id} (${r.record.PipelineExecutionStatus}, ended ${formatDuration(now - Date.parse(r.record.LastModifiedTime))} ago)`),
        );
        writeLines(process.stdout, running.map((r) => `kept ${r.pipeline}/${r.id}: it is ${r.record.PipelineExecutionStatus}`));
        process.stdout.write(
          `${verb} ${removed.length} execution(s)${cacheEntries.length > 0 ? ` and ${cacheEntries.length} step-cache entr${cacheEntries.length === 1 ? "y" : "ies"}` : ""} from ${session.store.uri}\n`,
        );
        return EXIT.ok;
      }),
    );
}
