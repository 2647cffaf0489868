import { ValidationError } from "../errors.js";
import { assertValidKey } from "../store/keys.js";

/**
 * How the S3 URIs of a definition map to the keys of the artifact store. A definition names where
 * things are by `s3://` URI under its root (the root of a local folder store is a fixed bucket name,
 * `s3://stepbox-local`; an S3 store's root is its own URI); `<root>/<key>` is the store's `<key>`.
 */
export class StoreUris {
  readonly root: string;

  constructor(root: string) {
    this.root = root.replace(/\/+$/, "");
  }

  /** Whether the URI names something in the store. */
  holds(uri: string): boolean {
    return uri.startsWith(`${this.root}/`);
  }

  /** The store key of a URI under the root; `what` names it in the error when it is elsewhere. */
  key(uri: string, what: string): string {
    if (!this.holds(uri)) {
      throw new ValidationError(`${what} is ${uri}, outside the artifact store (${this.root}/)`, {
        code: "INVALID_DEFINITION",
        hint: `the local engine reads and writes step payloads and results only in its store: use a URI under ${this.root}/`,
      });
    }
    const key = uri.slice(this.root.length + 1).replace(/\/+$/, "");
    assertValidKey(key);
    return key;
  }

  uri(key: string): string {
    return `${this.root}/${key}`;
  }
}
