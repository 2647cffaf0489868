/** How a Docker failure is told to callers: as data (`reason`), never in the message alone. */
import { afterEach, describe, expect, it } from "vitest";
import { ContainerEngineError } from "../../src/errors.js";
import { connectDocker, engineError } from "../../src/runtime/docker/docker-engine.js";

const dockerHost = process.env.DOCKER_HOST;
afterEach(() => {
  if (dockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = dockerHost;
});

describe("ContainerEngineError's reason", () => {
  it("is unreachable when no engine answers at all", async () => {
    process.env.DOCKER_HOST = "unix:///nonexistent/stepbox-test-docker.sock";
    const error = await connectDocker().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ContainerEngineError);
    expect((error as ContainerEngineError).reason).toBe("unreachable");
    expect((error as ContainerEngineError).message).toContain("stepbox-test-docker.sock does not answer");
  });

  it("is lost when the connection to the engine drops during a request", () => {
    const cause = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const error = engineError('to start the containers of step "train"', cause);
    expect(error.reason).toBe("lost");
    expect(error.cause).toBe(cause);
  });

  it("is refused when the engine answers a request with an error", () => {
    const cause = Object.assign(new Error("(HTTP code 500) server error"), { statusCode: 500, json: { message: "no space left on device" } });
    const error = engineError('to create the container of step "train" (algo-1)', cause);
    expect(error.reason).toBe("refused");
    expect(error.message).toContain("no space left on device");
  });
});
