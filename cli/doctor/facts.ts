// What doctor learns about a host in one SSH round trip: a small script printing key=value
// lines (read-only, sudo only as `sudo -n true`), and its parser.
export const FACTS_SCRIPT = `export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"
echo "time=$(date +%s.%N)"
if [ "$(id -u)" -eq 0 ]; then echo "sudo=root"; elif sudo -n true 2>/dev/null; then echo "sudo=yes"; else echo "sudo=no"; fi
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_name=$PRETTY_NAME"; fi
echo "arch=$(uname -m)"
echo "kvm=$([ -c /dev/kvm ] && echo yes || echo no)"
echo "virt_flag=$(grep -Eow -m1 'vmx|svm' /proc/cpuinfo | head -n1)"
echo "in_container=$(systemd-detect-virt --container 2>/dev/null || echo none)"
src="$(findmnt -no SOURCE / 2>/dev/null | head -n1)"
echo "root_source=$src"
dev="$(lsblk -ndo PKNAME "$src" 2>/dev/null | head -n1)"
[ -n "$dev" ] || dev="$(basename "$src")"
echo "root_rotational=$(cat "/sys/block/$dev/queue/rotational" 2>/dev/null || echo unknown)"
echo "disk_free_bytes=$(df -B1 --output=avail / 2>/dev/null | tail -n1 | tr -d ' ')"
echo "swap_kb=$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)"
for f in /usr/local/bin/firecracker /usr/local/bin/jailer /var/lib/vhive/firecracker/vmlinux; do
  echo "file:$f=$([ -e "$f" ] && echo yes || echo no)"
done
echo "firecracker_version=$(/usr/local/bin/firecracker --version 2>/dev/null | head -n1)"
`;

export type Facts = Readonly<Record<string, string>>;

export function parseFacts(stdout: string): Facts {
  const facts: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) facts[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return facts;
}
