import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withCommonOptions } from "../session.js";
import { type CloudExecutionView, openCloudSession, readCloudView, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";
import type { RunReport, StepLog } from "../../report/index.js";

interface ReportOptions extends CloudOptions {
  out?: string;
}

export function reportCommand(program: Command): void {
  withCloudOptions(
    withCommonOptions(
      program
        .command("report")
        .summary("write a self-contained HTML picture of an execution")
        .description(
          "Write one self-contained HTML file (it needs no network to open) that pictures an execution: its DAG coloured by status, durations and a timeline of what ran in parallel, " +
            "failure reasons, cache hits, and the end of each step's logs.",
        )
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN")
        .option("--out <file>", "where to write it (default: stepbox-report-<execution>.html in this folder)"),
    ),
  )
    .addHelpText("after", examples("stepbox report 4kq2 --out run.html"))
    .action(
      action(async (query: string, options: ReportOptions) => {
        // The report's renderer loads for this command only, not with every other one.
        const { loadRunReport, renderReportHtml, LOG_TAIL_BYTES } = await import("../../report/index.js");
        let report: RunReport;
        let id: string;
        if (wantsCloud(options, query)) {
          const cloud = openCloudSession(options, query);
          try {
            const view = await readCloudView(await resolveCloudExecution(cloud, options, query));
            id = view.execution.id;
            report = await cloudRunReport(view, LOG_TAIL_BYTES);
          } finally {
            cloud.close();
          }
        } else {
          const session = openSession(options);
          const resolved = await resolveExecution(session, query);
          id = resolved.id;
          report = await loadRunReport(session, resolved.pipelineName, id);
        }
        const html = renderReportHtml(report);
        const out = resolve(options.out ?? `stepbox-report-${id}.html`);
        await writeFile(out, html);
        // The file is what the command makes; the line only says where it went, as graph and result --out do.
        process.stderr.write(`wrote ${out}\n`);
        return EXIT.ok;
      }),
    );
}

/** A report of a cloud execution: its records from SageMaker, the end of each step's logs from CloudWatch Logs. */
async function cloudRunReport(view: CloudExecutionView, tailBytes: number): Promise<RunReport> {
  const steps = await Promise.all(
    view.record.StepNames.map(async (name) => {
      const record = view.steps.get(name);
      return { name, ...(record ? { record } : {}), logs: record?.Metadata.TrainingJob ? await logTails(view, name, tailBytes) : [] };
    }),
  );
  return { execution: view.record, definition: view.definition, definitionChanged: false, steps, generatedAt: new Date().toISOString() };
}

/** The last `limit` bytes of each of the step's streams, from its first whole line; never more held than twice that. */
async function logTails(view: CloudExecutionView, step: string, limit: number): Promise<StepLog[]> {
  const streams = new Map<string, { lines: string[]; held: number; bytes: number }>();
  for await (const event of view.execution.stepLogs(step)) {
    let tail = streams.get(event.stream);
    if (!tail) streams.set(event.stream, (tail = { lines: [], held: 0, bytes: 0 }));
    const size = Buffer.byteLength(event.message) + 1;
    tail.lines.push(event.message);
    tail.held += size;
    tail.bytes += size;
    while (tail.held > limit && tail.lines.length > 1) tail.held -= Buffer.byteLength(tail.lines.shift()!) + 1;
  }
  return [...streams].map(([stream, tail]) => ({
    stream,
    text: tail.lines.map((l) => `${l}\n`).join(""),
    bytes: tail.bytes,
    truncated: tail.held < tail.bytes,
  }));
}
