// A host bootstrap is a list of named steps; each has a create script (idempotent, ends with the
// `vhive-step <name>: changed|unchanged` line) and a delete script that undoes it.

export interface Step {
  /** Short kebab-case name; resources are named `<host>-<name>`. */
  readonly name: string;
  readonly create: string;
  readonly delete: string;
}
