/**
 * One typed stream of what happens in an execution: its state and its steps' states as they change,
 * retries, the engine's transfers and the steps' log lines. The run emits into an ExecutionEventHub;
 * the session's log sink, the command line's display and users' code subscribe to it.
 */
import { executionEnded, type ExecutionRecord, type ExecutionStatus, type StepRecord, type StepStatus } from "../store/records.js";
import type { TransferEvent } from "./transfer-progress.js";

/** The execution changed state; one whose status has ended (Succeeded, Failed, Stopped) is the last event. */
export interface ExecutionStateEvent {
  readonly type: "execution";
  readonly status: ExecutionStatus;
  readonly failureReason?: string;
  readonly at: Date;
}

/** A step changed state, or began another attempt. */
export interface StepStateEvent {
  readonly type: "step";
  readonly step: string;
  readonly status: StepStatus;
  readonly attempt: number;
  readonly failureReason?: string;
  readonly at: Date;
  /** The step's record as it was then (the shape ListPipelineExecutionSteps reads), for times and cache details. */
  readonly record: StepRecord;
}

/** An attempt of a step failed and its retry policy runs it again after a wait. */
export interface RetryEvent {
  readonly type: "attempt";
  readonly step: string;
  /** The attempt that failed; the next one is `attempt + 1`. */
  readonly attempt: number;
  readonly delaySeconds: number;
}

/** A step's input data coming down, or its logs, model or output going up to the store. */
export type TransferExecutionEvent = { readonly type: "transfer" } & TransferEvent;

/** A line a step's container printed. */
export interface LogLineEvent {
  readonly type: "log";
  readonly step: string;
  /** Set for a step that runs on several hosts: which one printed it (`algo-2`). */
  readonly host?: string;
  readonly stream: "stdout" | "stderr";
  readonly line: string;
}

/** Who printed a log line, as stepbox prefixes it: `train`, or `train/algo-2` on a step of several hosts. */
export function logSource(event: LogLineEvent): string {
  return event.host !== undefined ? `${event.step}/${event.host}` : event.step;
}

export type ExecutionEvent = ExecutionStateEvent | StepStateEvent | RetryEvent | TransferExecutionEvent | LogLineEvent;

export type ExecutionEventListener = (event: ExecutionEvent) => void;

/** State changes are kept for late subscribers; transfers and log lines are many, and pass once. */
function isStateChange(event: ExecutionEvent): boolean {
  return event.type === "execution" || event.type === "step" || event.type === "attempt";
}

function isEnd(event: ExecutionEvent): boolean {
  return event.type === "execution" && executionEnded(event.status);
}

/** One iterator's queue: events not yet read, and the reader waiting for the next. */
class EventQueue implements AsyncIterableIterator<ExecutionEvent> {
  readonly #events: ExecutionEvent[];
  readonly #detach: (queue: EventQueue) => void;
  #closed = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  constructor(replay: readonly ExecutionEvent[], detach: (queue: EventQueue) => void) {
    this.#events = [...replay];
    this.#detach = detach;
    if (replay.some(isEnd)) this.close();
  }

  push(event: ExecutionEvent): void {
    this.#events.push(event);
    if (isEnd(event)) this.close();
    this.#wakeReader();
  }

  /** No more events; what is buffered is still read, then the iterator ends (or throws `failure`). */
  close(failure?: { error: unknown }): void {
    this.#closed = true;
    this.#failure ??= failure;
    this.#detach(this);
    this.#wakeReader();
  }

  async next(): Promise<IteratorResult<ExecutionEvent>> {
    while (this.#events.length === 0 && !this.#closed) await new Promise<void>((resolve) => (this.#wake = resolve));
    const event = this.#events.shift();
    if (event !== undefined) return { value: event, done: false };
    if (this.#failure) throw this.#failure.error;
    return { value: undefined, done: true };
  }

  /** The reader left the loop early: stop buffering for it. */
  async return(): Promise<IteratorResult<ExecutionEvent>> {
    this.#events.length = 0;
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionEvent> {
    return this;
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * Where one execution's events go. Listeners hear each event as it is emitted; an iterator taken with
 * `iterate()` first replays the state changes so far (a run's first steps start before its caller can
 * subscribe), then buffers everything from the moment it was taken, and ends after the execution's
 * end event, or throws when the run failed without one.
 */
export class ExecutionEventHub {
  readonly #listeners = new Set<ExecutionEventListener>();
  readonly #queues = new Set<EventQueue>();
  readonly #states: ExecutionEvent[] = [];
  #over: { failure?: { error: unknown } } | undefined;

  emit(event: ExecutionEvent): void {
    // Nothing is told after the end: whoever saw the end has stopped listening.
    if (this.#over) return;
    if (isStateChange(event)) this.#states.push(event);
    if (isEnd(event)) this.#over = {};
    for (const queue of [...this.#queues]) queue.push(event);
    for (const listener of [...this.#listeners]) listener(event);
  }

  /** Calls `listener` with every event from now on; returns the function that stops it. */
  subscribe(listener: ExecutionEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends every iterator with `error`: the run stopped without an end event (the engine itself failed). */
  fail(error: unknown): void {
    if (this.#over) return;
    this.#over = { failure: { error } };
    for (const queue of [...this.#queues]) queue.close(this.#over.failure);
  }

  /** The state changes so far, then every event until the end; see the class. */
  iterate(): AsyncIterableIterator<ExecutionEvent> {
    const queue = new EventQueue(this.#states, (q) => this.#queues.delete(q));
    if (this.#over?.failure) queue.close(this.#over.failure);
    else if (!this.#over) this.#queues.add(queue);
    return queue;
  }
}

/**
 * Turns records into state events when what a reader cares about changed: a step's status or
 * attempt, the execution's status. Records are rewritten for other reasons (a training job's
 * metadata), which are no event.
 */
export class StateChanges {
  readonly #steps = new Map<string, string>();
  #execution: ExecutionStatus | undefined;

  step(record: StepRecord, at: Date): StepStateEvent | undefined {
    const signature = `${record.StepStatus}|${record.AttemptCount}`;
    if (this.#steps.get(record.StepName) === signature) return undefined;
    this.#steps.set(record.StepName, signature);
    return {
      type: "step",
      step: record.StepName,
      status: record.StepStatus,
      attempt: record.AttemptCount,
      ...(record.FailureReason !== undefined ? { failureReason: record.FailureReason } : {}),
      at,
      record,
    };
  }

  execution(record: ExecutionRecord, at: Date): ExecutionStateEvent | undefined {
    if (this.#execution === record.PipelineExecutionStatus) return undefined;
    this.#execution = record.PipelineExecutionStatus;
    return {
      type: "execution",
      status: record.PipelineExecutionStatus,
      ...(record.FailureReason !== undefined ? { failureReason: record.FailureReason } : {}),
      at,
    };
  }
}
