/**
 * AWS SDK modules and clients loaded on first use, so that a Lambda's cold start loads only what
 * its first requests need. The launcher decides and calls RunInstances with EC2 alone; S3, SNS
 * and CloudWatch report the outcome afterwards, and loading them first only delays the launch
 * (bench "launcher": SDK clients loaded before the first request).
 *
 * Pulumi's closure serializer writes a module the code captures as a `require` at the top of the
 * Lambda's file, run at load; a `require` inside a function stays there and runs when called.
 * Outside a Lambda (tests, CLIs) Node's module cache makes each call after the first free, and
 * the classes are the same ones an `import` gives (so aws-sdk-client-mock matches commands).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loading on first use is the point */

/** `@aws-sdk/client-s3`, required on first call. */
export const s3Sdk = (): typeof import("@aws-sdk/client-s3") => require("@aws-sdk/client-s3");

/** `@aws-sdk/client-sns`, required on first call. */
export const snsSdk = (): typeof import("@aws-sdk/client-sns") => require("@aws-sdk/client-sns");

/** `@aws-sdk/client-cloudwatch`, required on first call. */
export const cloudWatchSdk = (): typeof import("@aws-sdk/client-cloudwatch") =>
  require("@aws-sdk/client-cloudwatch");

/** A client's `send`, called on the client itself. */
type Send = (...args: never[]) => unknown;

/** A `send`-only client that calls `create` once, on its first `send`. */
export function lazyClient<C extends { send: Send }>(create: () => C): Pick<C, "send"> {
  let client: C | undefined;
  const send = (...args: never[]) => {
    client ??= create();
    return client.send(...args);
  };
  return { send } as Pick<C, "send">;
}
