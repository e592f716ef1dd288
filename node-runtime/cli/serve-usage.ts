export const SERVE_USAGE = `node-runtime serve [options]
  --config FILE          YAML/JSON runtime config (flags override it)
  --sandbox KIND         default sandbox: gvisor | containerd | firecracker
  --sandboxes LIST       sandboxes to enable, comma-separated (default: the default one)
  --snapshot-mode MODE   off | vanilla | reap
  --socket PATH          gRPC API on a Unix socket (default /run/vhive-node/orchestrator.sock)
  --port N [--host H]    gRPC API on TCP instead
  --data-dir DIR         snapshots, instance state, working sets
  --disk-budget SIZE     snapshot disk budget, e.g. 20GiB
  --metrics-port N       Prometheus /metrics, /metrics.csv and /healthz over HTTP
  --cri-socket PATH      also serve the CRI front end for kubelet on this socket
  --cri-upstream PATH    containerd's CRI socket behind it (default: containerd's socket)
  --cri-relay-host ADDR  address function relays of hostNetwork pods listen on (127.0.0.1)
  --log-level LEVEL      pino level (info)`;

