/**
 * `--param name=value` on the command line, turned into a value of the parameter's type.
 */
import { ValidationError } from "../errors.js";
import type { Parameter } from "../dsl/parameters.js";

/** commander's collector for a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parseParameters(pairs: readonly string[], declared: readonly Parameter[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ValidationError(`--param ${pair} is not name=value`, { hint: "for example --param epochs=20" });
    const name = pair.slice(0, eq);
    const text = pair.slice(eq + 1);
    const parameter = declared.find((p) => p.name === name);
    // An unknown name is reported by start(), which lists the pipeline's parameters.
    values[name] = parameter ? typed(parameter, text) : text;
  }
  return values;
}

function typed(parameter: Parameter, text: string): unknown {
  const bad = (what: string): ValidationError =>
    new ValidationError(`--param ${parameter.name}=${text}: parameter "${parameter.name}" is ${parameter.type} and needs ${what}`, {
      hint: `for example --param ${parameter.name}=${parameter.defaultValue ?? (parameter.type === "Boolean" ? "true" : "1")}`,
    });
  switch (parameter.type) {
    case "String":
      return text;
    case "Integer":
      if (!/^[+-]?\d+$/.test(text.trim())) throw bad("a whole number");
      return Number(text);
    case "Float":
      if (text.trim() === "" || !Number.isFinite(Number(text))) throw bad("a number");
      return Number(text);
    case "Boolean":
      if (text !== "true" && text !== "false") throw bad("true or false");
      return text === "true";
  }
}

export function parsePositiveInteger(text: string, option: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new ValidationError(`${option} ${text} is not a whole number of at least 1`, { hint: `for example ${option} 2` });
  }
  return Number(text);
}
