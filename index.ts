// Pulumi entry point for `pulumi up` with the Node.js language host: the program is one function
// (components/program/program.ts), whose result becomes the stack outputs.
import { vhiveProgram } from "./components/program/program.js";

export default vhiveProgram;
