import { randomInt } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type Docker from "dockerode";
import type { JobPlan } from "../step-runtime.js";
import { engineError } from "./docker-engine.js";
import { LABEL, managedLabels } from "./labels.js";

/**
 * The private network of a multi-host step, with a fixed address per host. Docker's own DNS drops a
 * container's name once it exits, and on an internal network it forwards every unknown name to
 * resolvers it cannot reach (a lookup then takes 10 s to fail). SageMaker's hosts resolve each other
 * for the whole life of the job and unknown names fail at once. So every host's name is written into
 * each container's /etc/hosts, and an internal network's containers get a resolver that answers
 * nothing (the loopback address, where nothing listens: a refusal, not a timeout).
 */
export interface HostNetwork {
  readonly network: Docker.Network;
  /** Each host's address, algo-1 first. */
  readonly addresses: ReadonlyMap<string, string>;
  /** For an internal network, the host file mounted at /etc/resolv.conf. */
  readonly resolvConf: string | undefined;
}

/** 198.18.0.0/15 is reserved for benchmarking networks (RFC 2544): it is rarely a LAN's range. */
const RANGE_START = ((198 << 24) | (18 << 16)) >>> 0;
const RANGE_SIZE = 2 ** 17;
/** Tries at another random subnet when Docker says one overlaps a network it already has. */
const SUBNET_TRIES = 8;

/** A resolver that refuses every query at once: nothing listens on the container's own loopback. */
const REFUSING_RESOLVER = "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n";

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** A random block of the range, aligned and large enough for the network, the gateway and every host. */
function randomSubnet(hosts: readonly string[]): { subnet: string; gateway: string; addresses: Map<string, string> } {
  let size = 8;
  while (size < hosts.length + 3) size *= 2;
  const start = RANGE_START + randomInt(RANGE_SIZE / size) * size;
  return {
    subnet: `${dotted(start)}/${32 - Math.log2(size)}`,
    gateway: dotted(start + 1),
    addresses: new Map(hosts.map((host, i) => [host, dotted(start + 2 + i)])),
  };
}

const overlaps = (error: unknown): boolean => /overlap/i.test(String((error as { json?: { message?: string } })?.json?.message ?? (error as Error)?.message));

/** Creates the step's network (internal unless the step asked for a network), and its resolver file in `workDir`. */
export async function createHostNetwork(docker: Docker, plan: JobPlan, hosts: readonly string[], workDir: string): Promise<HostNetwork> {
  const resolvConf = plan.network ? undefined : join(workDir, "resolv.conf");
  if (resolvConf) await writeFile(resolvConf, REFUSING_RESOLVER, { mode: 0o644 });
  for (let attempt = 1; ; attempt++) {
    const { subnet, gateway, addresses } = randomSubnet(hosts);
    try {
      const network = await docker.createNetwork({
        Name: `stepbox-${plan.executionId}-${plan.stepName}`.slice(0, 120),
        Driver: "bridge",
        Internal: !plan.network,
        IPAM: { Driver: "default", Config: [{ Subnet: subnet, Gateway: gateway }] },
        Labels: managedLabels({ [LABEL.execution]: plan.executionId, [LABEL.step]: plan.stepName, [LABEL.owner]: plan.owner }),
      });
      return { network, addresses, resolvConf };
    } catch (error) {
      if (overlaps(error) && attempt < SUBNET_TRIES) continue;
      throw engineError(`to create the network of step "${plan.stepName}" (subnet ${subnet})`, error);
    }
  }
}

/** How a host's container joins the network: its fixed address, every host's name, and the resolver. */
export function hostNetworkOptions(
  net: HostNetwork,
  host: string,
): { extraHosts: string[]; binds: string[]; endpoints: Docker.ContainerCreateOptions["NetworkingConfig"] } {
  return {
    extraHosts: [...net.addresses].map(([name, address]) => `${name}:${address}`),
    binds: net.resolvConf ? [`${net.resolvConf}:/etc/resolv.conf:ro`] : [],
    endpoints: {
      EndpointsConfig: { [net.network.id]: { Aliases: [host], IPAMConfig: { IPv4Address: net.addresses.get(host)! } } },
    },
  };
}
