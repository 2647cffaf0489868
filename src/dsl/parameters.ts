import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import { PIPELINE_VALUE, type PipelineValue } from "./pipeline-value.js";

export type ParameterType = "String" | "Integer" | "Float" | "Boolean";

type ParameterValueType<K extends ParameterType> = K extends "String" ? string : K extends "Boolean" ? boolean : number;

export interface ParameterOptions<T> {
  /** Letters, digits, `-` and `_`. */
  name: string;
  /** Used when `start()` is given no value for it. */
  defaultValue?: T;
}

const PARAMETER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$/;

/**
 * A pipeline parameter: its value is given to `start({ parameters })` and reaches step functions,
 * conditions and fail messages as a real JS value of its type.
 */
export abstract class Parameter<K extends ParameterType = ParameterType> implements PipelineValue<ParameterValueType<K>> {
  declare readonly [PIPELINE_VALUE]: { readonly type?: ParameterValueType<K>; readonly kind: "Parameter" };
  abstract readonly type: K;
  readonly name: string;
  readonly defaultValue: ParameterValueType<K> | undefined;

  constructor(options: ParameterOptions<ParameterValueType<K>>) {
    if (!options || typeof options.name !== "string" || !PARAMETER_NAME.test(options.name)) {
      throw new ValidationError(`${new.target.name}: ${inspect(options?.name)} is not a valid parameter name`, {
        hint: 'use letters, digits, "-" and "_", e.g. new ParameterInteger({ name: "epochs", defaultValue: 10 })',
      });
    }
    this.name = options.name;
    this.defaultValue = options.defaultValue;
    Object.defineProperty(this, PIPELINE_VALUE, { value: { kind: "Parameter" }, enumerable: false });
  }

  /** The definition's reference to it. */
  get expr(): { Get: string } {
    return { Get: `Parameters.${this.name}` };
  }

  /** Why a value does not fit this parameter, or undefined when it does. */
  abstract problem(value: unknown): string | undefined;

  /** The definition JSON entry, as SageMaker writes it. */
  toDefinition(): Record<string, unknown> {
    return { Name: this.name, Type: this.type, ...(this.defaultValue !== undefined ? { DefaultValue: this.defaultValue } : {}) };
  }

  /** The value as the API's ListPipelineParameters shows it: a string. */
  static asString(value: unknown): string {
    return typeof value === "string" ? value : String(value);
  }

  [inspect.custom](): string {
    return `${this.constructor.name}(${this.name})`;
  }
}

export class ParameterString extends Parameter<"String"> {
  readonly type = "String" as const;
  readonly enumValues: readonly string[] | undefined;

  constructor(options: ParameterOptions<string> & { enumValues?: readonly string[] }) {
    super(options);
    this.enumValues = options.enumValues;
    const problem = options.defaultValue === undefined ? undefined : this.problem(options.defaultValue);
    if (problem) throw new ValidationError(`ParameterString "${this.name}": its defaultValue ${problem}`);
  }

  problem(value: unknown): string | undefined {
    if (typeof value !== "string") return `must be a string, got ${inspect(value)}`;
    if (value === "") return "must not be empty (SageMaker refuses empty strings)";
    if (this.enumValues && !this.enumValues.includes(value))
      return `must be one of ${this.enumValues.map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(value)}`;
    return undefined;
  }

  override toDefinition(): Record<string, unknown> {
    return { ...super.toDefinition(), ...(this.enumValues ? { EnumValues: this.enumValues } : {}) };
  }
}

export class ParameterInteger extends Parameter<"Integer"> {
  readonly type = "Integer" as const;

  constructor(options: ParameterOptions<number>) {
    super(options);
    const problem = options.defaultValue === undefined ? undefined : this.problem(options.defaultValue);
    if (problem) throw new ValidationError(`ParameterInteger "${this.name}": its defaultValue ${problem}`);
  }

  problem(value: unknown): string | undefined {
    return typeof value === "number" && Number.isSafeInteger(value) ? undefined : `must be an integer, got ${inspect(value)}`;
  }
}

export class ParameterFloat extends Parameter<"Float"> {
  readonly type = "Float" as const;

  constructor(options: ParameterOptions<number>) {
    super(options);
    const problem = options.defaultValue === undefined ? undefined : this.problem(options.defaultValue);
    if (problem) throw new ValidationError(`ParameterFloat "${this.name}": its defaultValue ${problem}`);
  }

  problem(value: unknown): string | undefined {
    return typeof value === "number" && Number.isFinite(value) ? undefined : `must be a finite number, got ${inspect(value)}`;
  }
}

export class ParameterBoolean extends Parameter<"Boolean"> {
  readonly type = "Boolean" as const;

  constructor(options: ParameterOptions<boolean>) {
    super(options);
    const problem = options.defaultValue === undefined ? undefined : this.problem(options.defaultValue);
    if (problem) throw new ValidationError(`ParameterBoolean "${this.name}": its defaultValue ${problem}`);
  }

  problem(value: unknown): string | undefined {
    return typeof value === "boolean" ? undefined : `must be true or false, got ${inspect(value)}`;
  }
}

export function isParameter(value: unknown): value is Parameter {
  return value instanceof Parameter;
}

/** A parameter as a definition's `Parameters` list declares it, as the class that checks its values. */
export function parameterFromDefinition(entry: {
  readonly Name: string;
  readonly Type: ParameterType;
  readonly DefaultValue?: string | number | boolean;
  readonly EnumValues?: readonly (string | number)[];
}): Parameter {
  const options = { name: entry.Name, ...(entry.DefaultValue !== undefined ? { defaultValue: entry.DefaultValue as never } : {}) };
  switch (entry.Type) {
    case "String":
      return new ParameterString({ ...options, ...(entry.EnumValues ? { enumValues: entry.EnumValues.map(String) } : {}) });
    case "Integer":
      return new ParameterInteger(options);
    case "Float":
      return new ParameterFloat(options);
    case "Boolean":
      return new ParameterBoolean(options);
  }
}
