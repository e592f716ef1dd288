// The provider's resources as the program declares them (the provider side is in provider.ts).
import * as pulumi from "@pulumi/pulumi";
import { BOOTSTRAP_TOKEN, COPY_TO_HOST, HOST_COMMAND, LOCAL_COMMAND } from "./tokens.js";

/** How the provider reaches a host over SSH. */
export interface ConnectionArgs {
  readonly host: pulumi.Input<string>;
  readonly port?: pulumi.Input<number>;
  readonly user: pulumi.Input<string>;
  /** Key text; keep it a secret. Without it the ssh-agent at agentSocketPath is asked. */
  readonly privateKey?: pulumi.Input<string>;
  readonly agentSocketPath?: pulumi.Input<string>;
  /** "ssh-ed25519 AAAA…": any other host key is refused. */
  readonly hostKey?: pulumi.Input<string>;
  /** Dial attempts while a host does not answer (it may be booting). */
  readonly dialAttempts?: pulumi.Input<number>;
  readonly perDialTimeoutS?: pulumi.Input<number>;
}

export interface HostCommandArgs {
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** The host's name in the stack, for messages. */
  readonly hostName?: pulumi.Input<string>;
  /** Idempotent script: run at creation and again whenever it or the triggers change. */
  readonly create: pulumi.Input<string>;
  /** Undoes create, at destroy. */
  readonly delete?: pulumi.Input<string>;
  /** Exits 0 while what create made is still in place; run at refresh to find drift. */
  readonly check?: pulumi.Input<string>;
  readonly triggers?: pulumi.Input<unknown[]>;
  /** stdout carries credentials: kept secret. */
  readonly secretStdout?: pulumi.Input<boolean>;
  readonly timeoutS?: pulumi.Input<number>;
}

export class HostCommand extends pulumi.CustomResource {
  declare readonly stdout: pulumi.Output<string>;
  declare readonly converged: pulumi.Output<boolean>;

  constructor(name: string, args: HostCommandArgs, opts?: pulumi.CustomResourceOptions) {
    super(HOST_COMMAND, name, { ...args, stdout: undefined, converged: undefined }, opts);
  }
}

export interface LocalCommandArgs {
  readonly create: pulumi.Input<string>;
  readonly delete?: pulumi.Input<string>;
  readonly triggers?: pulumi.Input<unknown[]>;
  readonly secretStdout?: pulumi.Input<boolean>;
}

export class LocalCommand extends pulumi.CustomResource {
  declare readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: LocalCommandArgs, opts?: pulumi.CustomResourceOptions) {
    super(LOCAL_COMMAND, name, { ...args, stdout: undefined }, opts);
  }
}

export interface CopyToHostArgs {
  readonly connection: pulumi.Input<ConnectionArgs>;
  readonly hostName?: pulumi.Input<string>;
  /** A path on the machine running Pulumi. */
  readonly source: pulumi.Input<string>;
  readonly remotePath: pulumi.Input<string>;
  readonly triggers?: pulumi.Input<unknown[]>;
}

export class CopyToHost extends pulumi.CustomResource {
  constructor(name: string, args: CopyToHostArgs, opts?: pulumi.CustomResourceOptions) {
    super(COPY_TO_HOST, name, { ...args }, opts);
  }
}

export class BootstrapToken extends pulumi.CustomResource {
  declare readonly token: pulumi.Output<string>;

  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(BOOTSTRAP_TOKEN, name, { token: undefined }, { ...opts, additionalSecretOutputs: ["token"] });
  }
}
