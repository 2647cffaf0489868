import { pino, type Logger } from "pino";

export type { Logger };

/**
 * The engine's logger: JSON lines on stderr, level from STEPBOX_LOG_LEVEL (default "warn", so a run
 * prints only its steps' own output unless asked). Secrets are redacted wherever they appear.
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  return pino(
    {
      name: "stepbox",
      level: env.STEPBOX_LOG_LEVEL ?? "warn",
      redact: { paths: ["secret"], censor: "[redacted]" },
    },
    pino.destination(2),
  );
}
