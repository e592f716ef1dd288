# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# Pulumi's Kubernetes provider, at the version of @pulumi/kubernetes in package-lock.json.
# The module proxy serves the provider module only as a pseudo-version: commit f47bc2d6f199 is
# the one upstream tagged v4.25.0 (checked against the repository's tags). The provider module
# replaces the sdk module by ../sdk; the schema it embeds is generated with the version first,
# as upstream's release build does.
tool_version=4.25.0
tool_modules=(
  "github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199=provider"
  "github.com/pulumi/pulumi-kubernetes/sdk/v4@v${tool_version}=sdk"
)
tool_build_dir=provider
tool_packages=("pulumi-resource-kubernetes=./cmd/pulumi-resource-kubernetes")
tool_ldflags="-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=v${tool_version}"
tool_expected_minutes=12
tool_release_url="https://get.pulumi.com/releases/plugins/pulumi-resource-kubernetes-v${tool_version}-linux-amd64.tar.gz"
tool_release_sums_url="https://github.com/pulumi/pulumi-kubernetes/releases/download/v${tool_version}/pulumi-kubernetes_${tool_version}_checksums.txt"
tool_release_strip=0

tool_before_build() {
  (cd cmd/pulumi-resource-kubernetes && VERSION="$tool_version" go run ./generate.go)
}
