/**
 * Pagination as SageMaker's List operations do it: at most MaxResults items, and a NextToken to ask
 * for the rest. The token is opaque to clients; here it is the offset of the next item, tagged with
 * the operation so that a token from one list is refused by another.
 */
import { validation } from "./api-error.js";

/** SageMaker's default page size for the pipeline lists. */
const DEFAULT_MAX_RESULTS = 50;

export function page<T>(items: readonly T[], list: string, maxResults: number | undefined, nextToken: string | undefined): { items: T[]; NextToken?: string } {
  const start = nextToken === undefined ? 0 : offsetOf(nextToken, list);
  const end = start + (maxResults ?? DEFAULT_MAX_RESULTS);
  return { items: items.slice(start, end), ...(end < items.length ? { NextToken: tokenFor(list, end) } : {}) };
}

function tokenFor(list: string, offset: number): string {
  return Buffer.from(JSON.stringify({ list, offset })).toString("base64url");
}

function offsetOf(token: string, list: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { list?: unknown; offset?: unknown };
    if (parsed.list === list && typeof parsed.offset === "number" && Number.isInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // Not a token serve made: refused below.
  }
  throw validation(`Invalid pagination token: NextToken "${token}" was not returned by ${list}; leave it out to start from the first page`);
}
