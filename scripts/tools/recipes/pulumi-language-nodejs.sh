# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# Pulumi's Node.js language host, which `pulumi up`/`preview` start to run a Node program and which
# runs a Node component package for `pulumi package add`; at the CLI's version (recipes/pulumi.sh).
# Upstream ships it in the CLI's release archive. Its module replaces the sdk and pkg modules by
# ../../.. and ../../../../pkg, so they are laid out where those paths land; where the module proxy
# does not serve it (it refuses this module here), the pinned tag of a local clone of upstream's
# repository is built instead: VHIVE_UPSTREAM_GIT_PULUMI, by default this workplace's mirror.
tool_version=3.248.0
tool_modules=(
  "github.com/pulumi/pulumi/pkg/v3@v${tool_version}=pkg"
  "github.com/pulumi/pulumi/sdk/v3@v${tool_version}=sdk"
  "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@v${tool_version}=sdk/nodejs/cmd/pulumi-language-nodejs"
)
tool_git_repo_env=VHIVE_UPSTREAM_GIT_PULUMI
tool_git_repo_default=/work/.mirror/pulumi+pulumi/repo
tool_git_tag=v${tool_version}
tool_git_commit=a88168d865b7fd428e5a929cc54aeceaf72d203f
tool_git_paths=(sdk pkg)
# The Node SDK's bundled TypeScript compiler (JavaScript; a partial clone may lack its blob).
tool_git_skip='^sdk/nodejs/vendor/'
tool_build_dir=sdk/nodejs/cmd/pulumi-language-nodejs
tool_packages=("pulumi-language-nodejs=.")
# As upstream's release build (.goreleaser.yml) sets them.
tool_ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${tool_version}"
tool_tags="osusergo grpcnotrace"
tool_expected_minutes=6
tool_release_url="https://get.pulumi.com/releases/sdk/pulumi-v${tool_version}-linux-x64.tar.gz"
tool_release_sums_url="https://get.pulumi.com/releases/sdk/pulumi-${tool_version}-checksums.txt"
tool_release_strip=1
tool_release_members=(pulumi/pulumi-language-nodejs)
