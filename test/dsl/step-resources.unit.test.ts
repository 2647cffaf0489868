import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { getStep, step } from "stepbox";
import { FunctionStep } from "../../src/dsl/function-step.js";
import { stepResources } from "../../src/engine/step-resources.js";

const onGpu = step(
  function onGpu() {
    return 1;
  },
  { instanceType: "ml.g4dn.xlarge" },
);
const onCpu = step(
  function onCpu() {
    return 1;
  },
  { instanceType: "ml.m5.large", local: { memoryGiB: 2 } },
);

function resourcesOf(output: ReturnType<typeof onGpu>): ReturnType<typeof stepResources> {
  const s = getStep(output);
  if (!(s instanceof FunctionStep)) throw new Error("not a function step");
  return stepResources({ name: s.name, instanceType: s.options.instanceType ?? "ml.m5.large", ...(s.options.local ? { local: s.options.local } : {}) });
}

describe("a step's resources", () => {
  it("are its instance type's, with a warning where the machine gives less than the cloud would", () => {
    const gpu = resourcesOf(onGpu());
    expect(gpu).toMatchObject({ instanceType: "ml.g4dn.xlarge", cpus: Math.min(4, availableParallelism()), memoryGiB: 16, belowInstanceType: undefined });
    expect(gpu.withoutGpu).toMatch(/ml\.g4dn\.xlarge, which has 1 GPU\(s\); stepbox gives its containers none/);

    const cpu = resourcesOf(onCpu());
    expect(cpu).toMatchObject({ instanceType: "ml.m5.large", memoryGiB: 2, withoutGpu: undefined });
    expect(cpu.belowInstanceType).toMatch(/less than ml\.m5\.large's 2 vCPU and 8 GiB/);
  });
});
