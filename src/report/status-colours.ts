/** How a status looks, the same in Mermaid, DOT, SVG and the HTML report. */
export interface StatusColours {
  readonly fill: string;
  readonly stroke: string;
  readonly text: string;
}

/** Every step status a table shows (src/store/step-state.ts DisplayStatus). */
const COLOURS: Readonly<Record<string, StatusColours>> = {
  Succeeded: { fill: "#dcfce7", stroke: "#16a34a", text: "#14532d" },
  Failed: { fill: "#fee2e2", stroke: "#dc2626", text: "#7f1d1d" },
  Executing: { fill: "#dbeafe", stroke: "#2563eb", text: "#1e3a8a" },
  Starting: { fill: "#e0f2fe", stroke: "#0284c7", text: "#0c4a6e" },
  Stopping: { fill: "#fef3c7", stroke: "#d97706", text: "#78350f" },
  Stopped: { fill: "#ffedd5", stroke: "#ea580c", text: "#7c2d12" },
  Pending: { fill: "#f8fafc", stroke: "#94a3b8", text: "#475569" },
  NotRun: { fill: "#f3f4f6", stroke: "#9ca3af", text: "#4b5563" },
};

/** A step drawn without a status (a pipeline that has not run). */
export const NO_STATUS: StatusColours = { fill: "#ffffff", stroke: "#64748b", text: "#0f172a" };

/** The colours of a status; an unknown status (from a newer stepbox, say) is drawn neutral. */
export function statusColours(status: string | undefined): StatusColours {
  if (status === undefined) return NO_STATUS;
  return Object.hasOwn(COLOURS, status) ? COLOURS[status]! : COLOURS.NotRun!;
}

/** A status as the report writes it. */
export function statusText(status: string): string {
  return status === "NotRun" ? "not run" : status === "Pending" ? "pending" : status;
}

/** The statuses that have their own colours, in the order a legend lists them. */
export const KNOWN_STATUSES: readonly string[] = Object.keys(COLOURS);
