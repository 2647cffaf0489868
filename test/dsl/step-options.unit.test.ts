import { describe, expect, it } from "vitest";
import { step, ValidationError } from "stepbox";

const noop = function noop(): number {
  return 1;
};

describe("step() options", () => {
  it("refuses an environment variable whose name is not a variable name, before any pipeline exists", () => {
    for (const name of ["A=B", "1ST", "WITH SPACE", ""]) {
      let thrown: unknown;
      try {
        step(noop, { environmentVariables: { [name]: "x" } });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).code, name).toBe("INVALID_STEP_OPTION");
      expect((thrown as Error).message, name).toContain(`environmentVariables has the name ${JSON.stringify(name)}, which is not a variable name`);
    }
    expect(() => step(noop, { environmentVariables: { _OK_1: "x", lower_case: "y" } })).not.toThrow();
  });
});
