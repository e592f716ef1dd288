#!/usr/bin/env bash
set -euo pipefail
changed=0
# as_root CMD…: the SSH user may be an ordinary user with passwordless sudo (as in the
# host steps' helpers); each command is elevated on its own, so nothing secret reaches argv.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n -- "$@"; fi; }
# install_file PATH MODE < content: replaces PATH only when the content differs.
install_file() {
  local path="$1" mode="$2" tmp
  # Hidden temp name: kubelet ignores dot files in its static pod directory.
  tmp="$(as_root mktemp "$(dirname "$path")/.$(basename "$path").XXXXXX")"
  as_root chmod "$mode" "$tmp"
  as_root tee "$tmp" >/dev/null
  if as_root test -f "$path" && as_root cmp -s "$tmp" "$path"; then as_root rm -f "$tmp"; else as_root mv -f "$tmp" "$path"; changed=1; fi
}
as_root install -d -m 0755 /var/lib/yurthub /var/lib/openyurt /etc/kubernetes/manifests /etc/systemd/system/kubelet.service.d
install_file /var/lib/yurthub/bootstrap-hub.conf 0600 <<'VHIVE_BOOTSTRAP_EOF'
apiVersion: v1
kind: Config
clusters:
  - name: cluster
    cluster:
      server: https://192.0.2.10:6443
      certificate-authority: /etc/kubernetes/pki/ca.crt
users:
  - name: token-bootstrap-client
    user:
      token: abcdef.0123456789abcdef
contexts:
  - name: bootstrap
    context:
      cluster: cluster
      user: token-bootstrap-client
current-context: bootstrap
VHIVE_BOOTSTRAP_EOF
install_file /etc/kubernetes/manifests/yurthub.yaml 0644 <<'VHIVE_POD_EOF'
apiVersion: v1
kind: Pod
metadata:
  name: yurt-hub
  namespace: kube-system
  labels:
    k8s-app: yurt-hub
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  priority: 2000001000
  volumes:
    - name: hub-dir
      hostPath:
        path: /var/lib/yurthub
        type: DirectoryOrCreate
    - name: kubernetes
      hostPath:
        path: /etc/kubernetes
        type: Directory
  containers:
    - name: yurt-hub
      image: openyurt/yurthub:v1.7.0
      imagePullPolicy: IfNotPresent
      command:
        - yurthub
        - --v=2
        - --bind-address=127.0.0.1
        - --server-addr=https://192.0.2.10:6443
        - --node-name=$(NODE_NAME)
        - --bootstrap-file=/var/lib/yurthub/bootstrap-hub.conf
        - --working-mode=cloud
        - --namespace=kube-system
        - --nodepool-name=cloud
      env:
        - name: NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
      volumeMounts:
        - name: hub-dir
          mountPath: /var/lib/yurthub
        - name: kubernetes
          mountPath: /etc/kubernetes
      livenessProbe:
        httpGet:
          host: 127.0.0.1
          path: /v1/healthz
          port: 10267
        initialDelaySeconds: 120
        periodSeconds: 10
        failureThreshold: 3
      resources:
        requests:
          cpu: 150m
          memory: 150Mi
        limits:
          memory: 300Mi
      securityContext:
        capabilities:
          add:
            - NET_ADMIN
            - NET_RAW
VHIVE_POD_EOF
# yurthub must serve before kubelet is pointed at it, or the node drops off the cluster.
for _ in $(seq 1 90); do
  if curl -fsS --max-time 2 http://127.0.0.1:10267/v1/healthz >/dev/null 2>&1; then break; fi
  sleep 2
done
curl -fsS --max-time 2 http://127.0.0.1:10267/v1/healthz >/dev/null || { echo 'yurthub did not become healthy' >&2; exit 1; }
install_file /var/lib/openyurt/kubelet.conf 0600 <<'VHIVE_KUBELET_EOF'
apiVersion: v1
kind: Config
clusters:
  - name: yurthub
    cluster:
      server: http://127.0.0.1:10261
contexts:
  - name: yurthub
    context:
      cluster: yurthub
      namespace: default
      user: default-auth
current-context: yurthub
VHIVE_KUBELET_EOF
install_file /etc/systemd/system/kubelet.service.d/20-openyurt.conf 0644 <<'VHIVE_DROPIN_EOF'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/var/lib/openyurt/kubelet.conf"
VHIVE_DROPIN_EOF
if [ "$changed" -eq 1 ]; then
  as_root systemctl daemon-reload
  as_root systemctl restart kubelet
fi
