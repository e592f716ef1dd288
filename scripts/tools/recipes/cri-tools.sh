# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# cri-tools: crictl and critest. Kubernetes is pinned at 1.35, but the Go module proxy here refuses
# sigs.k8s.io/cri-tools v1.35.0 (403 "not available") and serves v1.34.0 and v1.37.0; v1.34.0 is
# the nearest (cri-tools supports the Kubernetes minor it is named for and the next one).
# critest is a Go test binary (`go test -c` of ./cmd/critest), as upstream's Makefile builds it.
tool_version=1.34.0
tool_modules=("sigs.k8s.io/cri-tools@v${tool_version}=cri-tools")
tool_build_dir=cri-tools
tool_packages=("crictl=./cmd/crictl")
tool_ldflags="-X sigs.k8s.io/cri-tools/pkg/version.Version=${tool_version}"
tool_expected_minutes=4
tool_release_strip=0
tool_release_files=(
  "https://github.com/kubernetes-sigs/cri-tools/releases/download/v${tool_version}/crictl-v${tool_version}-linux-amd64.tar.gz https://github.com/kubernetes-sigs/cri-tools/releases/download/v${tool_version}/crictl-v${tool_version}-linux-amd64.tar.gz.sha256"
  "https://github.com/kubernetes-sigs/cri-tools/releases/download/v${tool_version}/critest-v${tool_version}-linux-amd64.tar.gz https://github.com/kubernetes-sigs/cri-tools/releases/download/v${tool_version}/critest-v${tool_version}-linux-amd64.tar.gz.sha256"
)

tool_after_build() {
  go test -c -trimpath -ldflags "-s -w $tool_ldflags" -o "$out/bin/critest" ./cmd/critest
}
