// Entry point of the provider plugin process that Pulumi starts (see bin/pulumi-resource-vhive).
import * as provider from "@pulumi/pulumi/provider/index.js";
import { vhiveProvider } from "./provider.js";

await provider.main(vhiveProvider, process.argv.slice(2));
