// A host bootstrap is a list of named steps; each has a create script (idempotent, ends with the
// `vhive-step <name>: changed|unchanged` line) and a delete script that undoes it.

export interface Step {
  /** Short kebab-case name; resources are named `<host>-<name>`. */
  readonly name: string;
  readonly create: string;
  readonly delete: string;
  /**
   * Names of the steps of the same host this one needs. Absent: the step listed before it.
   * Steps that need nothing of each other run at the same time, as Pulumi runs them.
   */
  readonly after?: readonly string[];
}
