// The program for stacks/Pulumi.cloudvm.yaml under Pulumi's mocks (one file per stack: Pulumi's
// runtime state is per process, and each test file runs in its own).
import { defineStackTests } from "./stack-assertions.js";

defineStackTests("cloudvm");
