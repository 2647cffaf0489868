/** The step the overhead benchmark runs: it does nothing, so what is measured is stepbox itself. */
import { step } from "stepbox";

export const trivial = step(function trivial(n: number): number {
  return n;
});
