/**
 * The guest's /init: a busybox shell script. It mounts the pseudo file
 * systems, loads the modules shipped in the initramfs, brings lo up, tells the
 * host what kernel this is on the control port, then serves probes: one
 * respawning loop per virtio-serial port, and a control loop that resets a
 * port (kills its probe) when the host asks. Each fresh probe of port N gets
 * an empty scratch directory (guestScratchDir: unix socket paths of the
 * session). A probe normally outlives its session: the host resets it with
 * `reset DIR`, which empties that directory, and leases the port again; only
 * an unfit probe is killed here and started afresh.
 *
 * Control port lines, guest -> host: `uname-r R`, `uname-v V`, `sysctl k = v`,
 * `ipv6lo 0|1`, `module NAME ok|failed`, `tool NAME ok|missing`, `ready`,
 * `reset N` (ack), `exited N PID` (port N's probe PID ended, whatever ended
 * it; a fresh one follows), `exec ID RC bOUT bERR` (a finished exec; OUT and ERR are
 * base64 after a literal `b`, so an empty one is just `b`).
 * Host -> guest: `reset N`, `exec ID bSCRIPT bINPUT` (runs SCRIPT <INPUT in a
 * subshell in the background, so several sessions build their namespaces at
 * once; SCRIPT and INPUT are printf %b text: see guestEscape), `poweroff`.
 *
 * virtio_console semantics this relies on: a write blocks while no host end
 * is connected, a read returns 0 (EOF) once the host end disconnects, and a
 * port can be open only once at a time (hence `<>` plus `>&0`).
 */

export const CONTROL_PORT = 'sockspec.ctl'
export const probePortName = (i: number): string => `sockspec.p${i}`
/** Shaped like a local mkdtemp dir (sockspec-XXXXXX) so traces normalise the same on every host. */
export const guestScratchDir = (i: number): string => `/tmp/sockspec-vm${String(i).padStart(4, '0')}`

/**
 * Pure: text as one word the guest shell's `set -- $arg` keeps whole and
 * `printf %b` turns back into the bytes: blanks, glob characters, the
 * backslash and anything not printable ASCII become \0ooo escapes. Decoding
 * needs no program in the guest (printf is a shell builtin there), and
 * typical ip/nft text grows less than base64 did.
 */
export function guestEscape(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text)) {
    const c = String.fromCharCode(byte)
    out += byte > 0x20 && byte < 0x7f && !'\\*?[]'.includes(c) ? c : `\\0${byte.toString(8).padStart(3, '0')}`
  }
  return out
}

export function initScript(probePorts: number): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp /run
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo "sockspec-guest: init on $(uname -r)"
loaded=""
for m in $(cat /lib/modules/load-order 2>/dev/null); do
  f=/lib/modules/$m
  case $m in *.xz) xzcat "$f" > /tmp/mod.ko && f=/tmp/mod.ko ;; esac
  if insmod "$f" 2>/dev/console; then loaded="$loaded $m:ok"; else loaded="$loaded $m:failed"; fi
  rm -f /tmp/mod.ko
done
ip link set lo up
hostname sockspec-guest

want=${probePorts + 1}
n=0
while [ "$(cat /sys/class/virtio-ports/*/name 2>/dev/null | grep -c '^sockspec\\.')" -lt $want ] && [ $n -lt 500 ]; do usleep 20000; n=$((n + 1)); done
# names read once (one cat per port, not one per port and lookup: many ports under emulation took seconds)
scan() { for d in /sys/class/virtio-ports/*; do echo "$(cat $d/name) /dev/\${d##*/}"; done > /run/ports; }
port() { while read -r name dev; do [ "$name" = "$1" ] && echo $dev; done < /run/ports; }
scan
n=0
while [ ! -c "$(port ${CONTROL_PORT})" ] && [ $n -lt 250 ]; do usleep 20000; scan; n=$((n + 1)); done
ctl=$(port ${CONTROL_PORT})
if [ -z "$ctl" ]; then echo "sockspec-guest: no control port"; poweroff -f; fi

exec 3<>"$ctl"
serve() {
  while true; do
    rm -rf "$3" && mkdir -p "$3"
    /bin/sockspec-probe <>"$2" >&0 2>/tmp/err.$1 &
    p=$!
    echo $p > /run/probe.$1
    wait $p
    rc=$?
    rm -f /run/probe.$1
    # the probe that said hello with this pid is gone: the host may lease the port without a reset
    echo "exited $1 $p" >&3
    if [ $rc -ne 0 ]; then
      { sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g' -e 's/[^ -~]/?/g' -e 's/^/{"guest-stderr":"/' -e 's/$/"}/' /tmp/err.$1; echo "{\\"guest-exit\\":$rc}"; } <>"$2" >&0
    fi
  done
}
i=0
while [ $i -lt ${probePorts} ]; do
  dev=$(port sockspec.p$i)
  [ -n "$dev" ] && serve $i "$dev" /tmp/sockspec-vm$(printf %04d $i) &
  i=$((i + 1))
done

{
  echo "uname-r $(uname -r)"
  echo "uname-v $(uname -v)"
  sysctl -a 2>/dev/null | grep '^net\\.' | sed 's/^/sysctl /'
  if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then echo "ipv6lo 1"; else echo "ipv6lo 0"; fi
  for m in $loaded; do echo "module \${m%:*} \${m##*:}"; done
  if /usr/sbin/ip -V >/dev/null 2>&1; then echo "tool ip ok"; else echo "tool ip missing"; fi
  if /usr/sbin/nft -v >/dev/null 2>&1; then echo "tool nft ok"; else echo "tool nft missing"; fi
  echo ready
} >&3
while read -r cmd arg <&3; do
  case "$cmd" in
    reset)
      # builtins only, and no wait for the probe to die: this loop serves every port, and a killed probe
      # can read nothing more (its port's unread input goes with it; what it wrote before hello is dropped)
      p=
      [ -f /run/probe.$arg ] && read -r p < /run/probe.$arg
      [ -n "$p" ] && kill -9 $p 2>/dev/null
      echo "reset $arg" >&3
      ;;
    exec)
      # no program runs here but the command itself (and base64 for output that is not empty): under
      # emulation each exec of busybox cost ~12 ms, and the old decode/encode pipeline six of them per command
      (
        set -- $arg
        x=/tmp/exec.$(($1 % 256))
        printf '%b' "\${2#b}" > $x.sh
        printf '%b' "\${3#b}" > $x.in
        . $x.sh < $x.in > $x.out 2> $x.err
        rc=$?
        o=b
        e=b
        [ -s $x.out ] && o=b$(base64 -w 0 $x.out)
        [ -s $x.err ] && e=b$(base64 -w 0 $x.err)
        echo "exec $1 $rc $o $e" >&3
      ) &
      ;;
    poweroff) break ;;
  esac
done
echo "sockspec-guest: powering off"
poweroff -f
`
}
