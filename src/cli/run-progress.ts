/**
 * What a person sees while an execution runs, drawn from the execution's events. On a terminal: a
 * table of the steps (status, attempt, duration, cache) redrawn in place, a step's row saying how far
 * its download or upload has got, with the steps' own lines above it. Otherwise: those lines, one
 * plain line each time a step changes state, and a line as a large transfer starts and another as it ends.
 */
import { type ExecutionEvent, type LogLineEvent, logSource } from "../engine/execution-events.js";
import type { TransferEvent } from "../engine/transfer-progress.js";
import { parseExecutionArn } from "../naming/sagemaker-arns.js";
import { type PipelineExecution, type PipelineExecutionDescription, type PipelineExecutionStep, stepView } from "../session/pipeline-execution.js";
import type { EngineLogListener } from "./engine-log.js";
import type { LiveArea } from "./live-area.js";
import { elapsed, firstLine, formatDuration, formatTable } from "./output.js";
import { executionEnded } from "../store/records.js";
import { displayStatus } from "../store/step-state.js";

const REDRAW_MS = 250;
const MiB = 1024 ** 2;
/** Off a terminal, smaller transfers (most steps' logs) pass without a line: they are over at once. */
const ANNOUNCED_TRANSFER_BYTES = MiB;

function mebibytes(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** "120.0/512.0 MiB"; without a total (an archive packed as it goes up), the bytes so far alone. */
function transferAmount(t: TransferEvent): string {
  return `${t.totalBytes !== undefined ? `${mebibytes(t.bytes)}/${mebibytes(t.totalBytes)}` : mebibytes(t.bytes)} MiB`;
}

/** "uploaded model.tar.gz: 48.0 MiB in 1.2 s (40.0 MiB/s)", or how far it got when it failed or was stopped. */
function transferEnd(t: TransferEvent): string {
  if (t.failed) return `${t.direction} of ${t.what} did not finish (${transferAmount(t)})`;
  const ms = t.durationMs ?? 0;
  return `${t.direction}ed ${t.what}: ${mebibytes(t.bytes)} MiB in ${formatDuration(ms)} (${mebibytes((t.bytes / Math.max(ms, 1)) * 1000)} MiB/s)`;
}

/** How the step's result was had without running it: a cache hit, or taken from the execution retried. */
export function cacheColumn(step: PipelineExecutionStep | undefined): string {
  if (step?.CacheHitResult) return "hit";
  if (step?.SelectiveExecutionResult) return "reused";
  if (step?.CacheMissReason) return "miss";
  return "";
}

export function stateLine(step: PipelineExecutionStep): string {
  const took = elapsed(step.StartTime, step.EndTime);
  switch (step.StepStatus) {
    case "Succeeded":
      if (step.CacheHitResult)
        return `${step.StepName}: Succeeded (cache hit from execution ${parseExecutionArn(step.CacheHitResult.SourcePipelineExecutionArn).executionId})`;
      if (step.SelectiveExecutionResult)
        return `${step.StepName}: Succeeded (reused from execution ${parseExecutionArn(step.SelectiveExecutionResult.SourcePipelineExecutionArn).executionId})`;
      return `${step.StepName}: Succeeded in ${took}`;
    case "Failed":
    case "Stopped":
      return `${step.StepName}: ${step.StepStatus} after ${took}${step.FailureReason ? `: ${firstLine(step.FailureReason, 200)}` : ""}`;
    default:
      return `${step.StepName}: ${step.StepStatus} (attempt ${step.AttemptCount})`;
  }
}

export class RunProgress implements EngineLogListener {
  readonly #area: LiveArea;
  #image: { what: string; since: number } | undefined;
  #table: string[] = [];
  #ticker: NodeJS.Timeout | undefined;
  /** Each step's transfer under way (a step moves one thing at a time), and whether a line announced it. */
  readonly #transfers = new Map<string, { latest: TransferEvent; announced: boolean }>();

  constructor(area: LiveArea) {
    this.#area = area;
  }

  message(line: string, stream: "stdout" | "stderr"): void {
    this.#area.print(line, stream);
  }

  /** While an image builds, a terminal shows how long it has taken so far. */
  imageActivity(what: string | undefined): void {
    this.#image = what === undefined ? undefined : { what, since: Date.now() };
    if (!this.#area.live) return;
    if (this.#image && !this.#ticker) {
      this.#ticker = setInterval(() => this.#draw(), 1000);
      this.#ticker.unref();
    } else if (!this.#image && this.#ticker) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
    this.#draw();
  }

  /**
   * A terminal's table shows the transfer on the step's row at its next redraw. Otherwise a large one
   * gets a line as it starts (or as it grows past 1 MiB, when its size is not known) and as it ends.
   */
  transfer(event: TransferEvent): void {
    const known = this.#transfers.get(event.step);
    const announced = known?.announced === true || (!this.#area.live && Math.max(event.bytes, event.totalBytes ?? 0) >= ANNOUNCED_TRANSFER_BYTES);
    if (announced && known?.announced !== true) {
      this.#area.print(`${event.step}: ${event.direction}ing ${event.what}${event.totalBytes !== undefined ? ` (${mebibytes(event.totalBytes)} MiB)` : ""}`);
    }
    if (event.phase !== "ended") {
      this.#transfers.set(event.step, { latest: event, announced });
      return;
    }
    this.#transfers.delete(event.step);
    if (announced) this.#area.print(`${event.step}: ${transferEnd(event)}`);
  }

  stepLine(event: LogLineEvent): void {
    this.#area.print(`[${logSource(event)}] ${event.line}`, event.stream);
  }

  /**
   * Shows the execution's progress from its events (taken as it started, so that nothing is missed)
   * until it ends, and returns how it ended.
   */
  async follow(execution: PipelineExecution, events: AsyncIterable<ExecutionEvent>, stepNames: readonly string[]): Promise<PipelineExecutionDescription> {
    this.imageActivity(undefined);
    const steps = new Map<string, PipelineExecutionStep>();
    let description = await execution.describe();
    const redraw = (): void => {
      this.#table = this.#tableLines(execution, description, stepNames, steps);
      this.#draw();
    };
    // Between events a terminal's table still moves: durations and transfers tick.
    const ticker = this.#area.live ? setInterval(redraw, REDRAW_MS) : undefined;
    try {
      for await (const event of events) {
        if (event.type === "execution") {
          description = { ...description, PipelineExecutionStatus: event.status };
          if (!this.#area.live && event.status === "Stopping") this.#area.print(`execution ${execution.id}: Stopping`);
        }
        this.#show(event, steps);
        if (this.#area.live && (event.type === "step" || event.type === "execution")) redraw();
      }
    } finally {
      clearInterval(ticker);
    }
    // The end as the store has it, with its time and reason.
    description = await execution.wait();
    if (this.#area.live) redraw();
    this.#area.close();
    return description;
  }

  #show(event: ExecutionEvent, steps: Map<string, PipelineExecutionStep>): void {
    switch (event.type) {
      case "step": {
        const step = stepView(event.record);
        steps.set(event.step, step);
        if (!this.#area.live) this.#area.print(stateLine(step));
        return;
      }
      case "transfer":
        this.transfer(event);
        return;
      case "log":
        this.stepLine(event);
        return;
      case "execution":
      case "attempt":
        // The execution's state is drawn by follow(); a retry shows as the step's next attempt.
        return;
    }
  }

  #tableLines(
    execution: PipelineExecution,
    description: PipelineExecutionDescription,
    stepNames: readonly string[],
    byName: ReadonlyMap<string, PipelineExecutionStep>,
  ): string[] {
    const ended = executionEnded(description.PipelineExecutionStatus) ? description.LastModifiedTime : undefined;
    const rows = stepNames.map((name) => {
      const step = byName.get(name);
      const moving = this.#transfers.get(name)?.latest;
      const status = `${displayStatus(step, false)}${moving ? `, ${moving.direction}ing ${moving.what} ${transferAmount(moving)}` : ""}`;
      return [name, status, step ? String(step.AttemptCount) : "", step ? elapsed(step.StartTime, step.EndTime) : "", cacheColumn(step)];
    });
    return [
      `${execution.pipelineName} ${execution.id}  ${description.PipelineExecutionStatus}  ${elapsed(description.CreationTime, ended)}`,
      ...formatTable(["STEP", "STATUS", "ATTEMPT", "DURATION", "CACHE"], rows).map((l) => `  ${l}`),
    ];
  }

  #draw(): void {
    const image = this.#image ? [`${this.#image.what}... ${formatDuration(Date.now() - this.#image.since)}`] : [];
    this.#area.update([...image, ...this.#table]);
  }
}
