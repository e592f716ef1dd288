// The project's Pulumi provider: the resources the provisioner creates on hosts, dispatched by
// type. Pulumi starts it as the plugin `pulumi-resource-vhive` (bin/), named in Pulumi.yaml.
import type * as provider from "@pulumi/pulumi/provider/index.js";
import { bootstrapToken } from "./bootstrap-token.js";
import { copyToHost } from "./copy-to-host.js";
import type { ResourceHandler } from "./handler.js";
import { hostCommand } from "./host-command.js";
import { localCommand } from "./local-command.js";
import { BOOTSTRAP_TOKEN, COPY_TO_HOST, HOST_COMMAND, LOCAL_COMMAND } from "./tokens.js";
import { resourceType } from "./urn.js";

export const PROVIDER_VERSION = "0.1.0";

const HANDLERS: ReadonlyMap<string, ResourceHandler> = new Map([
  [HOST_COMMAND, hostCommand],
  [LOCAL_COMMAND, localCommand],
  [COPY_TO_HOST, copyToHost],
  [BOOTSTRAP_TOKEN, bootstrapToken],
]);

function handlerFor(urn: string): ResourceHandler {
  const handler = HANDLERS.get(resourceType(urn));
  if (!handler) throw new Error(`the vhive provider has no resource type ${resourceType(urn)}`);
  return handler;
}

export const vhiveProvider: provider.Provider = {
  version: PROVIDER_VERSION,
  check: (urn, olds, news) => handlerFor(urn).check(urn, olds, news),
  diff: (id, urn, olds, news) => handlerFor(urn).diff(id, urn, olds, news),
  create: (urn, inputs) => handlerFor(urn).create(urn, inputs),
  read: async (id, urn, props) => {
    const handler = handlerFor(urn);
    return handler.read ? handler.read(id, urn, props) : { id, props };
  },
  update: (id, urn, olds, news) => handlerFor(urn).update(id, urn, olds, news),
  delete: (id, urn, props) => handlerFor(urn).delete(id, urn, props),
};
