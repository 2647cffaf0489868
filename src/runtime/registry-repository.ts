/**
 * A container registry's repository as `stepbox image push` takes it, `host[:port]/path[:tag]`, read
 * and checked before anything is built; and whether its host is Amazon ECR's, which needs a login
 * from the ECR API. Docker's own reference grammar, less what a push cannot use.
 */
import { ValidationError } from "../errors.js";

/** A repository in a registry, named with its host. */
export interface RegistryRepository {
  /** `host[:port]`: `123456789012.dkr.ecr.us-east-1.amazonaws.com`, `127.0.0.1:5000`. */
  readonly host: string;
  /** The repository's path in the registry: `stepbox`, `team/stepbox`. */
  readonly path: string;
  /** `host/path`: what a pushed reference starts with. */
  readonly name: string;
  /** The tag the URI named (`...:v1`), when it named one. */
  readonly tag: string | undefined;
}

/** The account and region of an Amazon ECR registry, read from its host. */
export interface EcrRegistry {
  readonly accountId: string;
  readonly region: string;
}

const EXAMPLE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox, or 127.0.0.1:5000/stepbox for a local registry";

/** One label of a host name. */
const LABEL = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
/** A host name or an IPv6 address in brackets, and an optional port. */
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::\\d{1,5})?$`);
/** One component of a repository's path, as Docker's reference grammar has it. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` */
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

const TAG_HINT = "a tag is 1 to 128 letters, digits, _, . and -, not starting with . or -";

function invalid(uri: string, problem: string, hint: string): ValidationError {
  return new ValidationError(`the repository ${JSON.stringify(uri)} ${problem}`, { hint });
}

/**
 * Reads `host[:port]/path[:tag]`. The host is required (a first part with a dot or a port, or
 * `localhost`): a bare `stepbox` would mean Docker Hub, which takes no push without a login.
 */
export function parseRepositoryUri(uri: string): RegistryRepository {
  if (typeof uri !== "string" || uri.trim() === "") throw invalid(String(uri), "is empty", `give the repository to push to, e.g. ${EXAMPLE}`);
  if (/\s/.test(uri)) throw invalid(uri, "contains white space", `give it as host/path, e.g. ${EXAMPLE}`);
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(uri);
  if (scheme) {
    throw invalid(uri, `starts with ${scheme[0]}`, `leave the scheme out: ${uri.slice(scheme[0].length)}`);
  }
  if (uri.includes("@")) {
    throw invalid(uri, "names a digest", `give the repository alone (${uri.slice(0, uri.indexOf("@"))}): the push prints the digest it made`);
  }
  const slash = uri.indexOf("/");
  const host = slash < 0 ? "" : uri.slice(0, slash);
  if (slash < 0 || !(host.includes(".") || host.includes(":") || host === "localhost")) {
    throw invalid(uri, "names no registry host", `put the registry's host first, e.g. ${EXAMPLE}`);
  }
  if (!HOST.test(host)) throw invalid(uri, `has a host, ${JSON.stringify(host)}, that is not a host name or address with an optional port`, `e.g. ${EXAMPLE}`);
  const rest = uri.slice(slash + 1);
  const colon = rest.lastIndexOf(":");
  const path = colon < 0 ? rest : rest.slice(0, colon);
  const tag = colon < 0 ? undefined : rest.slice(colon + 1);
  if (tag !== undefined && !TAG.test(tag)) throw invalid(uri, `has a tag, ${JSON.stringify(tag)}, that Docker does not accept`, TAG_HINT);
  const components = path.split("/");
  const wrong = components.find((c) => !PATH_COMPONENT.test(c));
  if (wrong !== undefined) {
    throw invalid(
      uri,
      wrong === "" ? "has an empty path component" : `has a path component, ${JSON.stringify(wrong)}, that Docker does not accept`,
      path.toLowerCase() !== path
        ? `repository paths are lower case: ${host}/${path.toLowerCase()}`
        : "each part of the path is lower-case letters and digits, separated by ., _, __ or -; parts are joined by /",
    );
  }
  if (host.length + 1 + path.length > 255) throw invalid(uri, "is longer than the 255 characters Docker allows for a name", "give a shorter repository");
  return { host, path, name: `${host}/${path}`, tag };
}

/** A tag to push under, checked: `what` names where it came from (`--tag`). */
export function checkImageTag(tag: string, what: string): string {
  if (!TAG.test(tag)) throw new ValidationError(`${what} ${JSON.stringify(tag)} is not a tag Docker accepts`, { hint: TAG_HINT });
  return tag;
}

/**
 * The tag a push asks for: `tag` (checked), else the repository's own; undefined leaves it to the
 * pusher (the content hash). Both given must agree.
 */
export function pushTag(repository: RegistryRepository, tag: string | undefined): string | undefined {
  if (tag === undefined) return repository.tag;
  checkImageTag(tag, "the tag");
  if (repository.tag !== undefined && repository.tag !== tag) {
    throw new ValidationError(`the repository ${repository.name}:${repository.tag} names the tag ${repository.tag}, and the tag ${tag} was asked for too`, {
      hint: `give the tag once: in the repository URI (${repository.name}:${tag}) or as the tag option (--tag ${tag})`,
    });
  }
  return tag;
}

/** The ECR registry a host is, when it is one: its account and region come from the name. */
export function ecrRegistry(host: string): EcrRegistry | undefined {
  const match = ECR_HOST.exec(host.toLowerCase());
  return match ? { accountId: match[1]!, region: match[2]! } : undefined;
}

/** The credentials a registry takes for a push, as the Docker engine's X-Registry-Auth carries them. */
export interface RegistryLogin {
  readonly username: string;
  readonly password: string;
  /** The registry they are for: `https://123456789012.dkr.ecr.us-east-1.amazonaws.com`. */
  readonly serveraddress: string;
}
