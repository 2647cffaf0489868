import { StepboxError } from "../errors.js";
import { type Condition, ConditionComparison, ConditionIn, ConditionNot, ConditionOr } from "../dsl/conditions.js";
import { resolveValues, type ValueScope } from "./resolve-values.js";

function comparable(value: unknown): number | string | undefined {
  if (typeof value === "number" || typeof value === "string") return value;
  if (value instanceof Date) return value.getTime();
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

function describe(value: unknown): string {
  return value instanceof Date ? value.toISOString() : typeof value === "string" ? JSON.stringify(value) : String(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return Object.is(a, b) || (typeof a === "number" && typeof b === "number" && a === b);
}

/** Evaluates a condition of a ConditionStep with its operands resolved; mismatched types fail the step. */
export async function evaluateCondition(condition: Condition, scope: ValueScope): Promise<boolean> {
  if (condition instanceof ConditionComparison) {
    const [left, right] = (await resolveValues([condition.left, condition.right], scope)) as [unknown, unknown];
    if (condition.type === "Equals") {
      if (typeof left !== typeof right || left instanceof Date !== right instanceof Date) {
        throw new StepboxError(
          "INVALID_ARGUMENT",
          `Equals compares ${describe(left)} (${typeof left}) with ${describe(right)} (${typeof right}): their types differ`,
          {
            hint: "compare values of one type, as SageMaker requires",
          },
        );
      }
      return sameValue(left, right);
    }
    const l = comparable(left);
    const r = comparable(right);
    if (l === undefined || r === undefined || typeof l !== typeof r) {
      throw new StepboxError("INVALID_ARGUMENT", `${condition.type} cannot order ${describe(left)} and ${describe(right)}`, {
        hint: "compare two numbers, two strings or two dates",
      });
    }
    switch (condition.type) {
      case "GreaterThan":
        return l > r;
      case "GreaterThanOrEqualTo":
        return l >= r;
      case "LessThan":
        return l < r;
      case "LessThanOrEqualTo":
        return l <= r;
    }
  }
  if (condition instanceof ConditionIn) {
    const [value, ...candidates] = (await resolveValues([condition.value, ...condition.inValues], scope)) as unknown[];
    return candidates.some((candidate) => sameValue(value, candidate));
  }
  if (condition instanceof ConditionNot) return !(await evaluateCondition(condition.expression, scope));
  if (condition instanceof ConditionOr) {
    for (const c of condition.conditions) if (await evaluateCondition(c, scope)) return true;
    return false;
  }
  throw new StepboxError("INVALID_ARGUMENT", "a condition of an unknown kind cannot be evaluated");
}
