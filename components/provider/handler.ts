// One resource type of the provider: the Pulumi provider operations for it. Inputs arrive in
// Pulumi's wire form (secrets wrapped); handlers unwrap what they use and keep the rest as is.
import type * as provider from "@pulumi/pulumi/provider/index.js";

export type Props = Record<string, unknown>;

export interface ResourceHandler {
  check(urn: string, olds: Props, news: Props): Promise<provider.CheckResult>;
  diff(id: string, urn: string, olds: Props, news: Props): Promise<provider.DiffResult>;
  create(urn: string, inputs: Props): Promise<provider.CreateResult>;
  read?(id: string, urn: string, props: Props): Promise<provider.ReadResult>;
  update(id: string, urn: string, olds: Props, news: Props): Promise<provider.UpdateResult>;
  delete(id: string, urn: string, props: Props): Promise<void>;
}

/** The input keys whose change means the resource must do its work again. */
export function changedKeys(olds: Props, news: Props, keys: readonly string[]): string[] {
  return keys.filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
}
