import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withCommonOptions, type CommonOptions } from "../session.js";

interface ReportOptions extends CommonOptions {
  out?: string;
}

export function reportCommand(program: Command): void {
  withCommonOptions(
    program
      .command("report")
      .summary("write a self-contained HTML picture of an execution")
      .description(
        "Write one self-contained HTML file (it needs no network to open) that pictures an execution: its DAG coloured by status, durations and a timeline of what ran in parallel, " +
          "failure reasons, cache hits, and the end of each step's logs.",
      )
      .argument("<execution>", "the execution id, or a unique prefix of it")
      .option("--out <file>", "where to write it (default: stepbox-report-<execution>.html in this folder)"),
  )
    .addHelpText("after", examples("stepbox report 4kq2 --out run.html"))
    .action(
      action(async (query: string, options: ReportOptions) => {
        const session = openSession(options);
        const { pipelineName, id } = await resolveExecution(session, query);
        // The report's renderer loads for this command only, not with every other one.
        const { loadRunReport, renderReportHtml } = await import("../../report/index.js");
        const html = renderReportHtml(await loadRunReport(session, pipelineName, id));
        const out = resolve(options.out ?? `stepbox-report-${id}.html`);
        await writeFile(out, html);
        // The file is what the command makes; the line only says where it went, as graph and result --out do.
        process.stderr.write(`wrote ${out}\n`);
        return EXIT.ok;
      }),
    );
}
