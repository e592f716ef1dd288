// The provider's resource type tokens, shared by the program side and the provider side.
export const HOST_COMMAND = "vhive:index:HostCommand";
export const LOCAL_COMMAND = "vhive:index:LocalCommand";
export const COPY_TO_HOST = "vhive:index:CopyToHost";
export const BOOTSTRAP_TOKEN = "vhive:index:BootstrapToken";
