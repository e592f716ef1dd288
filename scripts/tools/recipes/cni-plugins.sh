# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# The CNI reference plugins at the stacks' default (components/config/artifacts.ts): those a pod
# network on a bridge needs (bridge, host-local, loopback, portmap) and the usual chained ones.
# Each plugin reports the version set here when called with CNI_COMMAND=VERSION.
tool_version=1.7.1
tool_modules=("github.com/containernetworking/plugins@v${tool_version}=plugins")
tool_build_dir=plugins
tool_packages=(
  "bridge=./plugins/main/bridge"
  "ptp=./plugins/main/ptp"
  "loopback=./plugins/main/loopback"
  "host-local=./plugins/ipam/host-local"
  "portmap=./plugins/meta/portmap"
  "firewall=./plugins/meta/firewall"
  "bandwidth=./plugins/meta/bandwidth"
  "tuning=./plugins/meta/tuning"
)
tool_ldflags="-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v${tool_version}"
tool_expected_minutes=1
tool_release_url="https://github.com/containernetworking/plugins/releases/download/v${tool_version}/cni-plugins-linux-amd64-v${tool_version}.tgz"
tool_release_sums_url="${tool_release_url}.sha256"
