# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# kubelet, kubeadm and kubectl at the stacks' default Kubernetes (components/config/artifacts.ts).
# k8s.io/kubernetes replaces its staging modules (k8s.io/api, …) by ./staging/src/k8s.io/<name>, which
# its module zip leaves out (they are modules of their own); they are laid out there from the
# published k8s.io/* modules of the same release (v0.35.3 for v1.35.3). Its replaces of
# k8s.io/sample-cli-plugin and k8s.io/sample-controller name modules nothing requires (the proxy
# refuses both at v0.35.3), so they are left out. Version strings as upstream's hack/lib/version.sh
# sets them: the tag's commit (from the proxy's record of v1.35.3) and its date as the build date.
tool_version=1.35.3
staging_version=0.${tool_version#1.}
kubernetes_minor=${staging_version#0.}
kubernetes_minor=${kubernetes_minor%%.*}
tool_modules=(
  "k8s.io/kubernetes@v${tool_version}=kubernetes"
  "k8s.io/api@v${staging_version}=kubernetes/staging/src/k8s.io/api"
  "k8s.io/apiextensions-apiserver@v${staging_version}=kubernetes/staging/src/k8s.io/apiextensions-apiserver"
  "k8s.io/apimachinery@v${staging_version}=kubernetes/staging/src/k8s.io/apimachinery"
  "k8s.io/apiserver@v${staging_version}=kubernetes/staging/src/k8s.io/apiserver"
  "k8s.io/cli-runtime@v${staging_version}=kubernetes/staging/src/k8s.io/cli-runtime"
  "k8s.io/client-go@v${staging_version}=kubernetes/staging/src/k8s.io/client-go"
  "k8s.io/cloud-provider@v${staging_version}=kubernetes/staging/src/k8s.io/cloud-provider"
  "k8s.io/cluster-bootstrap@v${staging_version}=kubernetes/staging/src/k8s.io/cluster-bootstrap"
  "k8s.io/code-generator@v${staging_version}=kubernetes/staging/src/k8s.io/code-generator"
  "k8s.io/component-base@v${staging_version}=kubernetes/staging/src/k8s.io/component-base"
  "k8s.io/component-helpers@v${staging_version}=kubernetes/staging/src/k8s.io/component-helpers"
  "k8s.io/controller-manager@v${staging_version}=kubernetes/staging/src/k8s.io/controller-manager"
  "k8s.io/cri-api@v${staging_version}=kubernetes/staging/src/k8s.io/cri-api"
  "k8s.io/cri-client@v${staging_version}=kubernetes/staging/src/k8s.io/cri-client"
  "k8s.io/csi-translation-lib@v${staging_version}=kubernetes/staging/src/k8s.io/csi-translation-lib"
  "k8s.io/dynamic-resource-allocation@v${staging_version}=kubernetes/staging/src/k8s.io/dynamic-resource-allocation"
  "k8s.io/endpointslice@v${staging_version}=kubernetes/staging/src/k8s.io/endpointslice"
  "k8s.io/externaljwt@v${staging_version}=kubernetes/staging/src/k8s.io/externaljwt"
  "k8s.io/kms@v${staging_version}=kubernetes/staging/src/k8s.io/kms"
  "k8s.io/kube-aggregator@v${staging_version}=kubernetes/staging/src/k8s.io/kube-aggregator"
  "k8s.io/kube-controller-manager@v${staging_version}=kubernetes/staging/src/k8s.io/kube-controller-manager"
  "k8s.io/kube-proxy@v${staging_version}=kubernetes/staging/src/k8s.io/kube-proxy"
  "k8s.io/kube-scheduler@v${staging_version}=kubernetes/staging/src/k8s.io/kube-scheduler"
  "k8s.io/kubectl@v${staging_version}=kubernetes/staging/src/k8s.io/kubectl"
  "k8s.io/kubelet@v${staging_version}=kubernetes/staging/src/k8s.io/kubelet"
  "k8s.io/metrics@v${staging_version}=kubernetes/staging/src/k8s.io/metrics"
  "k8s.io/mount-utils@v${staging_version}=kubernetes/staging/src/k8s.io/mount-utils"
  "k8s.io/pod-security-admission@v${staging_version}=kubernetes/staging/src/k8s.io/pod-security-admission"
  "k8s.io/sample-apiserver@v${staging_version}=kubernetes/staging/src/k8s.io/sample-apiserver"
)
tool_build_dir=kubernetes
tool_packages=(
  "kubelet=./cmd/kubelet"
  "kubeadm=./cmd/kubeadm"
  "kubectl=./cmd/kubectl"
)
kubernetes_version_flags() {
  local key value
  for key in gitVersion=v${tool_version} gitMajor=1 gitMinor=${kubernetes_minor} gitCommit=6c1cd99aef09161ddb07b8ade6c9564e9b9bfe27 \
    gitTreeState=clean buildDate=2026-03-18T18:30:07Z; do
    value=${key#*=}
    key=${key%%=*}
    printf -- '-X k8s.io/client-go/pkg/version.%s=%s -X k8s.io/component-base/version.%s=%s ' "$key" "$value" "$key" "$value"
  done
}
tool_ldflags=$(kubernetes_version_flags)
tool_expected_minutes=12
tool_release_files=()
for binary in kubelet kubeadm kubectl; do
  tool_release_files+=("https://dl.k8s.io/release/v${tool_version}/bin/linux/amd64/${binary} https://dl.k8s.io/release/v${tool_version}/bin/linux/amd64/${binary}.sha256")
done
