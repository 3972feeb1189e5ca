#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send on a real full file system (a 1 MiB tmpfs in a private mount
# namespace, so root only): it does not connect while it has no room to
# write down what it delivered, so four queue runs send nothing.  The tools
# run as nobody (setpriv), as they would after dropping root.
MF_TEST_ROOT=1
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace and tmpfs)"
unshare -m true 2>/dev/null || skip_all "no mount namespaces here"
command -v setpriv >/dev/null || skip_all "setpriv not installed"
need_sink
start_sink plain

chmod 0711 "$TRASH"
mkdir mnt res && chmod 0777 res
printf 'Subject: full\n\nbody\n' >msg && chmod 0644 msg
printf '[General]\nSyslog = no\nMinFreeSpace = 0\n[Sender]\nAddress = inet:%s@127.0.0.1\nSendingIntervals = 0s, 0s, 0s, 0s, 0s, 0s\n' \
	"$SINK_PORT_plain" >mf.conf && chmod 0644 mf.conf
echo "rcpt later@example.net 451 4.3.0 try later" >plain.rules
rcpts() { cat plain/*.env 2>/dev/null | grep -cx "RCPT TO:<$1>" || true; }

cat >tmpfs-run.sh <<'EOF2'
set -u
mnt=$1 res=$2
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
mount -t tmpfs -o size=1m,mode=0755 tmpfs "$mnt" || exit 99
mkdir "$mnt/spool" && chown 65534:65534 "$mnt/spool" && chmod 0700 "$mnt/spool"
asnobody mf-inject -S "$mnt/spool" -c mf.conf -Q out -f a@example.org -m msg -- \
	now@example.net later@example.net >"$res/inject.out" 2>"$res/inject.err" || exit 98
dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
df -k "$mnt" >"$res/df"
for i in 1 2 3 4; do
	asnobody mf-send -S "$mnt/spool" -c mf.conf -q -v 2>>"$res/send.err"
	echo "run $i: $?" >>"$res/send.err"
done
ls "$mnt/spool/out/new" | wc -l >"$res/left"
umount "$mnt"
EOF2

test_expect_success 'one entry (one recipient takes it, one defers), then the disk fills up' '
	unshare -m sh tmpfs-run.sh "$TRASH/mnt" "$TRASH/res"; echo "rc $?"; cat res/df res/send.err &&
	test -s res/inject.out
'
test_expect_success 'four queue runs on the full disk sent nothing' '
	[ $(rcpts now@example.net) = 0 ] && [ $(rcpts later@example.net) = 0 ]
'
test_expect_success '... each ended with 75: no room to record the outcome (#4.3.1)' '
	[ $(grep -c "^run [1-4]: 75$" res/send.err) = 4 ] &&
	grep -q "not delivered, no room to record the outcome: .* (#4\.3\.1)" res/send.err
'
test_expect_success '... the entry still waits in out/' '
	[ "$(cat res/left)" = 1 ]
'
test_done
