#!/usr/bin/env bash
# A private sshd on 127.0.0.1 with all its state in one directory, for the ssh executor's tests
# and for trying `volbatch run --executor ssh` on one machine (no systemd, no change to the
# system's own sshd or keys).
#   scripts/sshd.sh start DIR   creates (once) a host key and a user key (DIR/id_ed25519) in DIR,
#                               starts sshd on a free high port, waits until it accepts, prints
#                               the port (also written to DIR/port)
#   scripts/sshd.sh stop DIR    stops it by the PID in DIR/sshd.pid (never by name)
# SSHD_PORT pins the port; otherwise a free one in 20000-60999 is chosen.
# Then: ssh -p PORT -i DIR/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no \
#           -o UserKnownHostsFile=/dev/null root@127.0.0.1
set -euo pipefail
usage="usage: sshd.sh start|stop DIR"
cmd="${1:?$usage}"
D="$(mkdir -p "${2:?$usage}" && cd "$2" && pwd)"

stop() {
  if [ -f "$D/sshd.pid" ]; then
    pid="$(cat "$D/sshd.pid")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$D/sshd.pid"
  fi
}

# True if something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "$usage" >&2; exit 2; }

stop
[ -f "$D/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C volbatch-sshd-host \
  -f "$D/ssh_host_ed25519_key"
[ -f "$D/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C volbatch-sshd-user -f "$D/id_ed25519"
cp "$D/id_ed25519.pub" "$D/authorized_keys"
chmod 600 "$D/ssh_host_ed25519_key" "$D/id_ed25519"
# Privilege separation directory; sshd refuses to start without it.
mkdir -p /run/sshd
chmod 755 /run/sshd

# Without PAM, sshd refuses an account whose password is locked ("!" in /etc/shadow).
if [ -r /etc/shadow ] && awk -F: -v u="$(id -un)" '$1 == u && $2 ~ /^!/ { f = 1 } END { exit !f }' \
    /etc/shadow; then
  echo "sshd.sh: warning: the account $(id -un) is locked; sshd (UsePAM no) will refuse it" \
    "(unlock it with: usermod -p '*' $(id -un))" >&2
fi

for attempt in $(seq 20); do
  port="${SSHD_PORT:-$((20000 + (RANDOM * 32768 + RANDOM) % 41000))}"
  if listening "$port"; then
    [ -z "${SSHD_PORT:-}" ] || { echo "sshd.sh: port $port is in use" >&2; exit 1; }
    continue
  fi
  cat > "$D/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $D/ssh_host_ed25519_key
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile $D/sshd.pid
PrintMotd no
PrintLastLog no
UseDNS no
# Many workers may connect at once; the default (10:30:100) drops some of them at random.
MaxStartups 100
# A client that vanished is noticed within ~15 s: its pty closes and its worker gets SIGHUP.
ClientAliveInterval 5
ClientAliveCountMax 3
LogLevel INFO
CONF
  rm -f "$D/sshd.pid"
  /usr/sbin/sshd -f "$D/sshd_config" -E "$D/sshd.log"
  # sshd daemonizes, then binds: wait until it accepts, or until it gave up (port taken).
  for _ in $(seq 100); do
    if listening "$port" && [ -s "$D/sshd.pid" ]; then
      echo "$port" > "$D/port"
      echo "$port"
      exit 0
    fi
    if tail -n 5 "$D/sshd.log" 2>/dev/null | grep -q "Cannot bind any address"; then break; fi
    sleep 0.05
  done
  stop
  [ -z "${SSHD_PORT:-}" ] || break
done
echo "sshd.sh: sshd did not start (see $D/sshd.log)" >&2
tail -n 5 "$D/sshd.log" >&2 || true
exit 1
