#!/usr/bin/env bash
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n -- "$@"; fi; }
if as_root test -f /etc/systemd/system/kubelet.service.d/20-openyurt.conf; then
  as_root rm -f /etc/systemd/system/kubelet.service.d/20-openyurt.conf
  as_root systemctl daemon-reload
  as_root systemctl restart kubelet
fi
as_root rm -f /etc/kubernetes/manifests/yurthub.yaml /var/lib/openyurt/kubelet.conf /var/lib/yurthub/bootstrap-hub.conf
as_root rm -rf /var/lib/yurthub /var/lib/openyurt
