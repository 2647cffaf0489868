import type { Command } from "commander";
import { NotFoundError } from "../../errors.js";
import type { LocalPipelineSession } from "../../session/local-pipeline-session.js";
import { reconcileDeadOwners, type ReconciledExecution } from "../../session/reconciling-records.js";
import { sweepStoreTempFiles } from "../../session/store-temp-sweep.js";
import { layout } from "../../store/layout.js";
import { recordShapes } from "../../store/record-shapes.js";
import { DamagedRecordError, executionEnded, readRecord, type ExecutionRecord } from "../../store/records.js";
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

function warnSkipped(damaged: DamagedRecordError): void {
  process.stderr.write(`warning: skipped ${damaged.detail}\n`);
}

/**
 * Ended executions last changed before the cutoff; running ones are never collected, whatever their
 * age, and damaged ones are left with a warning: gc removes only what it can tell has ended.
 */
async function collect(session: LocalPipelineSession, cutoff: number): Promise<Collected> {
  const removed: Found[] = [];
  const running: Found[] = [];
  for (const pipeline of await session.records.listPipelines()) {
    for (const record of await session.records.readExecutions(pipeline, warnSkipped)) {
      const found = { pipeline, id: record.PipelineExecutionId, record };
      if (!executionEnded(record.PipelineExecutionStatus)) running.push(found);
      else if (Date.parse(record.LastModifiedTime) < cutoff) removed.push(found);
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
        const entry = await readRecord<{ SourcePipelineExecutionId: string }>(session.store, key, "step-cache entry", recordShapes.cacheEntry);
        if (gone.has(`${pipeline}/${entry.SourcePipelineExecutionId}`)) stale.push(key);
      } catch (error) {
        if (error instanceof DamagedRecordError) warnSkipped(error);
        else if (!(error instanceof NotFoundError)) throw error;
      }
    }
  }
  return stale;
}

/** Removes the temp files of writes that killed processes left; one that cannot go is a warning, not a failed gc. */
async function removeTempFiles(session: LocalPipelineSession): Promise<number> {
  const sweep = await sweepStoreTempFiles(session.store);
  for (const left of sweep.failed) process.stderr.write(`warning: could not remove ${left.path}: ${String(left.error)}\n`);
  return sweep.removed.length;
}

export function gcCommand(program: Command): void {
  withJsonOption(
    program
      .command("gc")
      .summary("remove old executions from the store")
      .description(
        "Remove executions that ended longer ago than a duration, with everything they stored (records, payloads, archives, logs) and the step-cache entries that point at them. " +
          "An execution still running is never removed. " +
          "First, executions whose stepbox process on this machine is gone are recorded as Failed, and the temp files of writes that a killed process left are removed.",
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
        // Only a gc that changes the store writes what readers derive; a dry run changes nothing.
        const ended: ReconciledExecution[] = options.dryRun ? [] : await reconcileDeadOwners(session.store);
        const tempFiles = options.dryRun ? 0 : await removeTempFiles(session);
        const { removed, running } = await collect(session, now - olderThanMs);
        const cacheEntries = await staleCacheEntries(session, removed);
        if (!options.dryRun) {
          for (const r of removed) await session.store.deletePrefix(layout.executionRoot(r.pipeline, r.id));
          for (const key of cacheEntries) await session.store.deletePrefix(key);
        }
        if (options.json) {
          const ids = (found: readonly Found[]): Array<{ PipelineName: string; PipelineExecutionId: string; PipelineExecutionStatus: string }> =>
            found.map((r) => ({ PipelineName: r.pipeline, PipelineExecutionId: r.id, PipelineExecutionStatus: r.record.PipelineExecutionStatus }));
          process.stdout.write(
            `${toJson({
              DryRun: options.dryRun === true,
              EndedOrphans: ended.map((e) => ({ PipelineName: e.pipeline, PipelineExecutionId: e.execution, Owner: e.owner })),
              Removed: ids(removed),
              KeptRunning: ids(running),
              RemovedCacheEntries: cacheEntries.length,
              RemovedTempFiles: tempFiles,
            })}\n`,
          );
          return EXIT.ok;
        }
        const verb = options.dryRun ? "would remove" : "removed";
        writeLines(
          process.stdout,
          ended.map((e) => `ended ${e.pipeline}/${e.execution} as Failed: its stepbox process (${e.owner}) is gone`),
        );
        if (tempFiles > 0) process.stdout.write(`removed ${tempFiles} temp file(s) that killed writes left\n`);
        writeLines(
          process.stdout,
          removed.map(
            (r) =>
              `${verb} ${r.pipeline}/${r.id} (${r.record.PipelineExecutionStatus}, ended ${formatDuration(now - Date.parse(r.record.LastModifiedTime))} ago)`,
          ),
        );
        writeLines(
          process.stdout,
          running.map((r) => `kept ${r.pipeline}/${r.id}: it is ${r.record.PipelineExecutionStatus}`),
        );
        process.stdout.write(
          `${verb} ${removed.length} execution(s)${cacheEntries.length > 0 ? ` and ${cacheEntries.length} step-cache entr${cacheEntries.length === 1 ? "y" : "ies"}` : ""} from ${session.store.uri}\n`,
        );
        return EXIT.ok;
      }),
    );
}
