import { inspect } from "node:util";
import { ValidationError } from "../errors.js";

export type ComparisonType = "Equals" | "GreaterThan" | "GreaterThanOrEqualTo" | "LessThan" | "LessThanOrEqualTo";

/**
 * A condition of a ConditionStep. Operands may be literals, parameters, execution variables, Joins
 * and DelayedReturns (with `.get()` paths); the engine resolves them when the condition step runs.
 */
export abstract class Condition {
  /** Every operand, for finding the steps the condition depends on. */
  abstract operands(): unknown[];
  /** The same condition over operands passed through `replace`: how a pipeline points it at its own steps. */
  abstract mapOperands(replace: (operand: unknown) => unknown): Condition;
}

/** `left <op> right`. */
export abstract class ConditionComparison extends Condition {
  abstract readonly type: ComparisonType;
  readonly left: unknown;
  readonly right: unknown;

  constructor(options: { left: unknown; right: unknown }) {
    super();
    if (!options || !("left" in options) || !("right" in options)) {
      throw new ValidationError(`${new.target.name} takes { left, right }, got ${inspect(options)}`, {
        hint: `new ${new.target.name}({ left: report.get("accuracy"), right: 0.9 })`,
      });
    }
    this.left = options.left;
    this.right = options.right;
  }

  operands(): unknown[] {
    return [this.left, this.right];
  }

  mapOperands(replace: (operand: unknown) => unknown): ConditionComparison {
    const Comparison = this.constructor as new (options: { left: unknown; right: unknown }) => ConditionComparison;
    return new Comparison({ left: replace(this.left), right: replace(this.right) });
  }
}

export class ConditionEquals extends ConditionComparison {
  readonly type = "Equals" as const;
}
export class ConditionGreaterThan extends ConditionComparison {
  readonly type = "GreaterThan" as const;
}
export class ConditionGreaterThanOrEqualTo extends ConditionComparison {
  readonly type = "GreaterThanOrEqualTo" as const;
}
export class ConditionLessThan extends ConditionComparison {
  readonly type = "LessThan" as const;
}
export class ConditionLessThanOrEqualTo extends ConditionComparison {
  readonly type = "LessThanOrEqualTo" as const;
}

/** Whether `value` is one of `inValues`. */
export class ConditionIn extends Condition {
  readonly value: unknown;
  readonly inValues: readonly unknown[];

  constructor(options: { value: unknown; inValues: readonly unknown[] }) {
    super();
    if (!options || !Array.isArray(options.inValues)) {
      throw new ValidationError(`ConditionIn takes { value, inValues: [...] }, got ${inspect(options)}`, {
        hint: 'new ConditionIn({ value: region, inValues: ["eu-west-1", "us-east-1"] })',
      });
    }
    this.value = options.value;
    this.inValues = [...options.inValues];
  }

  operands(): unknown[] {
    return [this.value, ...this.inValues];
  }

  mapOperands(replace: (operand: unknown) => unknown): ConditionIn {
    return new ConditionIn({ value: replace(this.value), inValues: this.inValues.map(replace) });
  }
}

export class ConditionNot extends Condition {
  readonly expression: Condition;

  constructor(options: { expression: Condition }) {
    super();
    if (!(options?.expression instanceof Condition)) {
      throw new ValidationError(`ConditionNot takes { expression: <a condition> }, got ${inspect(options)}`);
    }
    this.expression = options.expression;
  }

  operands(): unknown[] {
    return this.expression.operands();
  }

  mapOperands(replace: (operand: unknown) => unknown): ConditionNot {
    return new ConditionNot({ expression: this.expression.mapOperands(replace) });
  }
}

/** Holds when at least one of its conditions holds. */
export class ConditionOr extends Condition {
  readonly conditions: readonly Condition[];

  constructor(options: { conditions: readonly Condition[] }) {
    super();
    if (!Array.isArray(options?.conditions) || options.conditions.length === 0 || !options.conditions.every((c) => c instanceof Condition)) {
      throw new ValidationError(`ConditionOr takes { conditions: [<at least one condition>] }, got ${inspect(options)}`);
    }
    this.conditions = [...options.conditions];
  }

  operands(): unknown[] {
    return this.conditions.flatMap((c) => c.operands());
  }

  mapOperands(replace: (operand: unknown) => unknown): ConditionOr {
    return new ConditionOr({ conditions: this.conditions.map((c) => c.mapOperands(replace)) });
  }
}
