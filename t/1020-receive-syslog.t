#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive logs to syslog, facility mail: read from a /dev/log of our own.
MF_TEST_ROOT=1 # a private mount namespace with our own /dev
. "${0%/*}/lib.sh"

[ "$(id -u)" = 0 ] && command -v unshare >/dev/null || skip_all "needs root and unshare"
unshare -m true 2>/dev/null || skip_all "mount namespaces not permitted here"
# Started as root, mf-receive becomes the spool's owner, then logs.
mkspool
printf 'Subject: logged\n\nx\n' >msg
printf '[General]\nLogLevel = info\n' >mf.conf

# syslog_of ARGS...: run mf-receive ARGS <msg in a private mount namespace
# whose /dev/log is a socket we read; print the datagrams, one per line.
syslog_of() {
	unshare -m sh -s -- "$@" <<'SH'
set -e
mkdir -p "$TRASH/olddev"
mount --bind /dev "$TRASH/olddev"
mount -t tmpfs -o size=1m tmpfs /dev
touch /dev/null && mount --bind "$TRASH/olddev/null" /dev/null
exec python3 - "$@" <<'PY'
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
rc = subprocess.call(["mf-receive"] + sys.argv[1:], stdin=open("msg", "rb"),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s.settimeout(0.2)
try:
    while True:
        print(s.recv(4096).decode(errors="replace"))
except socket.timeout:
    pass
print("exit=%d" % rc)
PY
SH
}
export TRASH

test_expect_success 'a received message is logged at mail.info with its id' '
	syslog_of -S spool -c mf.conf -f a@example.org -- b@example.net >log &&
	cat log &&
	grep -qx "exit=0" log &&
	id=$(ls spool/in/new) &&
	grep -Eq "^<22>.*mf-receive\[[0-9]+\]: $id: from=<a@example.org> nrcpt=1 size=[0-9]+" log
'

test_expect_success 'a failure is logged at mail.err with its status code' '
	syslog_of -S nosuch -c mf.conf -f a@example.org -- b@example.net >log &&
	cat log &&
	grep -qx "exit=75" log &&
	grep -Eq "^<19>.*mf-receive\[[0-9]+\]: spool nosuch: No such file or directory \(#4\.3\.0\)" log
'

test_expect_success 'Syslog = no keeps syslog quiet' '
	printf "[General]\nSyslog = no\n" >quiet.conf &&
	syslog_of -S spool -c quiet.conf -f a@example.org -- b@example.net >log &&
	[ "$(cat log)" = "exit=0" ]
'

test_done
