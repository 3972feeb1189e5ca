#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive streams: its peak memory does not grow with the message size.
. "${0%/*}/lib.sh"

[ -n "${MF_SANITIZED:-}" ] && skip_all "sanitizers change memory use"
mkspool
printf '[Receiver]\nMaxSize = 1G\n' >mf.conf

# peak_rss_kib MIB CRLF: peak RSS (KiB) of mf-receive fed MIB MiB of lines,
# read from its own /proc status (VmHWM) after it has read all but the end:
# getrusage() of a child would count the parent's memory it forked from.
peak_rss_kib() {
	python3 - "$1" "$2" <<'PY'
import subprocess, sys
mib, eol = int(sys.argv[1]), (b"\r\n" if sys.argv[2] == "crlf" else b"\n")
line = b"x" * 70 + eol
p = subprocess.Popen(["mf-receive", "-S", "spool", "-c", "mf.conf",
                      "-f", "a@example.org", "--", "b@example.net"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
block = b"Subject: big\n\n" + line * (65536 // len(line))
sent = 0
while sent < mib << 20:
    p.stdin.write(block)
    sent += len(block)
p.stdin.flush()
hwm = [l for l in open("/proc/%d/status" % p.pid) if l.startswith("VmHWM:")]
p.stdin.close()
out = p.stdout.read()
if p.wait() != 0:
    sys.exit("mf-receive failed")
print(int(hwm[0].split()[1]))
PY
}

test_expect_success 'a 1 MiB message' '
	small=$(peak_rss_kib 1 lf) && echo "$small" >small && test_diag "peak RSS 1 MiB: $small KiB"
'

test_expect_success 'a 100 MiB CRLF message: peak RSS under 8 MiB and within 1 MiB of the small one' '
	big=$(peak_rss_kib 100 crlf) && small=$(cat small) &&
	test_diag "peak RSS 100 MiB: $big KiB" &&
	[ "$big" -lt 8192 ] && [ "$big" -lt $((small + 1024)) ]
'

test_expect_success 'the big message was stored whole, as LF' '
	big=$(ls -S spool/in/new/*/message | head -n 1) &&
	[ "$(stat -c %s "$big")" -gt $((100 * 1024 * 1024 * 70 / 72)) ] &&
	! head -c 1000000 "$big" | grep -q "$(printf "\r")"
'

test_done
