#!/usr/bin/env bash
set -euo pipefail
if [ -f /etc/systemd/system/kubelet.service.d/20-openyurt.conf ]; then
  rm -f /etc/systemd/system/kubelet.service.d/20-openyurt.conf
  systemctl daemon-reload
  systemctl restart kubelet
fi
rm -f /etc/kubernetes/manifests/yurthub.yaml /var/lib/openyurt/kubelet.conf
rm -rf /var/lib/yurthub
