# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# Pulumi's Python language host, which runs Python programs (examples/python), at the CLI's version
# (recipes/pulumi.sh), with the two scripts upstream ships beside it: pulumi-language-python-exec
# (the shim the host runs programs through) and pulumi-resource-pulumi-python (the launcher of
# Python component providers). Sources as for pulumi-language-nodejs (recipes/pulumi-language-nodejs.sh):
# upstream's release archive, else the module proxy, else the pinned tag of a local clone.
tool_version=3.248.0
tool_modules=(
  "github.com/pulumi/pulumi/pkg/v3@v${tool_version}=pkg"
  "github.com/pulumi/pulumi/sdk/v3@v${tool_version}=sdk"
  "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3@v${tool_version}=sdk/python/cmd/pulumi-language-python"
)
tool_git_repo_env=VHIVE_UPSTREAM_GIT_PULUMI
tool_git_repo_default=/work/.mirror/pulumi+pulumi/repo
tool_git_tag=v${tool_version}
tool_git_commit=a88168d865b7fd428e5a929cc54aeceaf72d203f
tool_git_paths=(sdk pkg)
# The Node SDK's bundled TypeScript compiler (JavaScript; a partial clone may lack its blob).
tool_git_skip='^sdk/nodejs/vendor/'
tool_build_dir=sdk/python/cmd/pulumi-language-python
tool_packages=("pulumi-language-python=.")
tool_ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${tool_version}"
tool_tags="osusergo grpcnotrace"
tool_expected_minutes=6
tool_release_url="https://get.pulumi.com/releases/sdk/pulumi-v${tool_version}-linux-x64.tar.gz"
tool_release_sums_url="https://get.pulumi.com/releases/sdk/pulumi-${tool_version}-checksums.txt"
tool_release_strip=1
tool_release_members=(pulumi/pulumi-language-python pulumi/pulumi-language-python-exec pulumi/pulumi-resource-pulumi-python)

tool_after_build() {
  install -m 0755 "$work/sdk/python/cmd/pulumi-language-python-exec" "$work/sdk/python/dist/pulumi-resource-pulumi-python" "$out/bin/"
}
