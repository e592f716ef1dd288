# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# The Pulumi CLI (the engine), at the version of @pulumi/pulumi in package-lock.json.
# Its module replaces the sdk module by ../sdk, so both are laid out side by side. The sdk
# module also carries the launcher of Node dynamic providers, which the CLI's release ships too.
tool_version=3.248.0
tool_modules=(
  "github.com/pulumi/pulumi/pkg/v3@v${tool_version}=pkg"
  "github.com/pulumi/pulumi/sdk/v3@v${tool_version}=sdk"
)
tool_build_dir=pkg
tool_packages=("pulumi=./cmd/pulumi")
tool_ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${tool_version}"
tool_expected_minutes=8
tool_release_url="https://get.pulumi.com/releases/sdk/pulumi-v${tool_version}-linux-x64.tar.gz"
tool_release_sums_url="https://get.pulumi.com/releases/sdk/pulumi-${tool_version}-checksums.txt"
# The release tarball unpacks to pulumi/<binaries>.
tool_release_strip=1

tool_after_build() {
  install -m 0755 "$work/sdk/nodejs/dist/pulumi-resource-pulumi-nodejs" "$out/bin/"
}
