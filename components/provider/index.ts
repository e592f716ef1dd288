export {
  BootstrapToken,
  CopyToHost,
  HostCommand,
  LocalCommand,
  type ConnectionArgs,
  type CopyToHostArgs,
  type HostCommandArgs,
  type LocalCommandArgs,
} from "./resources.js";
