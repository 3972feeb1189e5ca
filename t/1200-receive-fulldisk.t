#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive on a full disk, a failing fsync or rename, a read-only spool:
# always 75 with one "(#4.x.x)" diagnostic, and nothing left in new/ or tmp/.
#
# A real 1 MiB tmpfs (mounted in a private mount namespace: unshare -m, as
# root) gives the real ENOSPC and EROFS; the LD_PRELOAD shim t/fault.so (built
# by "make units") gives the faults no file system produces on demand.
# Run as root for the tmpfs; the tools then become the spools' owner, nobody.
MF_TEST_ROOT=1
. "${0%/*}/lib.sh"

FAULT=$T_DIR/fault.so
# The shim only reaches a dynamically linked tool.  mf-receive is linked
# static by default (RECEIVE_LDFLAGS in the Makefile): then the fault tests
# run its very objects, cmd/mf-receive.o and libmf.a, linked dynamically.
RECEIVE=$MF_BUILD/mf-receive
if [ ! -f "$FAULT" ]; then
	RECEIVE= why_no_shim="t/fault.so is not built (make units)"
elif ! ldd "$RECEIVE" >/dev/null 2>&1; then
	if ${CC:-cc} -o mf-receive-dyn "$MF_BUILD/cmd/mf-receive.o" "$MF_BUILD/libmf.a" \
		$(pkg-config --libs popt 2>/dev/null || echo -lpopt) 2>cc.err; then
		RECEIVE=$TRASH/mf-receive-dyn
		echo "# mf-receive is static: fault tests run its objects linked dynamically"
	else
		RECEIVE= why_no_shim="mf-receive is static and could not be relinked: $(head -n 1 cc.err)"
	fi
fi
printf '[General]\nSyslog = no\nMinFreeSpace = 0\n' >mf.conf
MF_CONFIG=$TRASH/mf.conf; export MF_CONFIG
DIAG='^mf-receive: .* \(#4\.[0-9]+\.[0-9]+\)$'
# the shim's log, written by the tool after it dropped root
mkspool flog

# Succeeds when the command fails (a "! cmd" line is no assertion under set -e).
not() { if "$@"; then return 1; fi; }

# QUEUE/new, tmp and cur are empty (a missing queue is empty too).
queue_empty() {
	for _s in new tmp cur; do
		if [ -d "$1/$_s" ] && [ -n "$(ls -A "$1/$_s")" ]; then
			echo "$1/$_s is not empty:"; ls -A "$1/$_s"; return 1
		fi
	done
}

# mkmsg BYTES FILE: a message of exactly BYTES bytes, LF line ends.
mkmsg() {
	perl -e 'my ($n, $tag) = @ARGV; my $s = "Subject: $tag\n\n"; my $i = 0;
		$s .= sprintf("%06d %s\n", $i++, "x" x 56) while length($s) < $n;
		print substr($s, 0, $n - 1), "\n"' "$1" "$2" >"$2"
}

test_expect_success 'messages of 2 MiB, 512 KiB and 1 KiB' '
	mkmsg 2097152 big
	mkmsg 524288 fits
	mkmsg 1024 small
	test "$(wc -c <big)" -eq 2097152
	mkspool
'

# ---- a real full file system: 1 MiB tmpfs in a private mount namespace ----

# Runs inside "unshare -m": every result goes to files in $TRASH/res, as the
# tmpfs and its contents vanish with the namespace.
cat >tmpfs-run.sh <<'EOF'
set -u
mnt=$1 res=$2
mkdir -p "$res"
mount -t tmpfs -o size=1m,mode=0755 tmpfs "$mnt" || exit 99
mkdir "$mnt/spool" "$mnt/spool2"
chown nobody "$mnt/spool" "$mnt/spool2"
step() { # name message
	mf-receive -S "$mnt/spool" -f a@example.org -- b@example.org <"$2" >"$res/$1.out" 2>"$res/$1.err"
	echo $? >"$res/$1.rc"
	(cd "$mnt/spool" && find . | sort) >"$res/$1.ls"
}
step big big
step fits fits
p=$(cat "$res/fits.out")
if [ -n "$p" ] && cmp "$p/message" fits; then echo same >"$res/fits.cmp"; fi
df -k "$mnt" >"$res/df"
mount -o remount,ro "$mnt"
step ro small
mf-receive -S "$mnt/spool2" -f a@example.org -- b@example.org <small >"$res/ro2.out" 2>"$res/ro2.err"
echo $? >"$res/ro2.rc"
(cd "$mnt/spool2" && find . | sort) >"$res/ro2.ls"
umount "$mnt"
EOF
mkdir mnt
if unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" && umount "$1"' sh "$TRASH/mnt" 2>/dev/null; then
	have_tmpfs=1
else
	have_tmpfs=
	echo "# cannot mount a tmpfs in a private namespace (not root, or no CAP_SYS_ADMIN):"
	echo "# ENOSPC and EROFS come from the fault shim instead"
fi

if [ -n "$have_tmpfs" ]; then
	test_expect_success 'run mf-receive on a 1 MiB tmpfs: full, then fits, then read-only' '
		unshare -m sh tmpfs-run.sh "$TRASH/mnt" "$TRASH/res"
		test -f res/ro2.rc
	'
elif [ -z "$RECEIVE" ]; then
	test_expect_success "neither a tmpfs nor the fault shim: $why_no_shim" false
	test_done
else
	# The same steps with the shim: the 2nd block of the message does not fit;
	# every mkdir fails as on a read-only file system.
	test_expect_success 'run mf-receive with ENOSPC and EROFS from the fault shim' '
		mkdir -p res
		mkspool fspool
		mkspool spool2
		step() { # name message fault spool
			rc=0
			LD_PRELOAD=${3:+$FAULT} MF_FAULT=${3:-} \
			ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
			"$RECEIVE" -S "$4" -f a@example.org -- b@example.org <"$2" >res/$1.out 2>res/$1.err || rc=$?
			echo $rc >res/$1.rc
			(cd "$4" && find . | sort) >res/$1.ls
		}
		step big big "write:ENOSPC:2+:message" fspool
		step fits fits "" fspool
		p=$(cat res/fits.out)
		if cmp "$p/message" fits; then echo same >res/fits.cmp; fi
		step ro small "mkdir:EROFS:1+" fspool
		step ro2 small "mkdir:EROFS:1+" spool2
	'
fi

test_expect_success 'a 2 MiB message on a full disk: exit 75' '
	test "$(cat res/big.rc)" -eq 75
'
test_expect_success '... the diagnostic is the last line: No space left on device (#4.3.1)' '
	test_last_line res/big.err "$DIAG"
	test_last_line res/big.err "No space left on device \(#4\.3\.1\)$"
	test ! -s res/big.out
'
test_expect_success '... nothing in in/new/, and the tmp/ entry was removed' '
	cat res/big.ls
	test "$(cat res/big.ls)" = "$(printf ".\n./in\n./in/cur\n./in/new\n./in/tmp")"
'
test_expect_success 'then a message that fits is taken (the space was released)' '
	test "$(cat res/fits.rc)" -eq 0
	test "$(cat res/fits.cmp)" = same
	grep -q "^\./in/new/[^/]*/message$" res/fits.ls
	test "$(grep -c "^\./in/tmp/." res/fits.ls)" -eq 0
'
test_expect_success 'read-only spool (queues made earlier): exit 75, nothing added' '
	test "$(cat res/ro.rc)" -eq 75
	test_last_line res/ro.err "$DIAG"
	test ! -s res/ro.out
	test "$(grep -c "^\./in/new/[^/]*$" res/ro.ls)" -eq 1
	test "$(grep -c "^\./in/tmp/." res/ro.ls)" -eq 0
'
test_expect_success 'read-only spool (no queues yet): exit 75, nothing made' '
	test "$(cat res/ro2.rc)" -eq 75
	test_last_line res/ro2.err "$DIAG"
	test "$(cat res/ro2.ls)" = .
'

# ---- faults on demand: the shim, on the real spool in $TRASH ----

if [ -z "$RECEIVE" ]; then
	test_skip 'faults on demand (write, fsync, close, rename, read)' "$why_no_shim"
	test_done
fi

# receive_fault SPEC [MESSAGE]: run mf-receive with MF_FAULT=SPEC.
receive_fault() {
	rm -f flog/fault.log
	LD_PRELOAD=$FAULT MF_FAULT=$1 MF_FAULT_LOG=$TRASH/flog/fault.log \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		"$RECEIVE" -S spool -f a@example.org -- b@example.org <"${2:-small}" >out 2>err
}
# expect_fault SPEC MESSAGE DSN-REGEX: exit 75, the fault did happen, the last
# stderr line is the diagnostic, nothing printed, nothing left in the spool.
expect_fault() {
	rm -rf spool/in/new/* spool/in/tmp/* spool/in/cur/*
	rc=0
	receive_fault "$1" "$2" || rc=$?
	echo "exit $rc, want 75"
	test "$rc" -eq 75
	echo "injected: $(cat flog/fault.log 2>/dev/null)"
	test -s flog/fault.log
	test_last_line err "$DIAG"
	test_last_line err "$3"
	test ! -s out
	queue_empty spool/in
}

test_expect_success 'the shim lets a run without faults through' '
	receive_fault "" small
	p=$(cat out)
	cmp "$p/message" small
	rm -rf "$p"
	queue_empty spool/in
'
test_expect_success 'ENOSPC on the 2nd write of a 2 MiB message -> 75, (#4.3.1)' '
	expect_fault "write:ENOSPC:2:message" big "No space left on device \(#4\.3\.1\)$"
'
test_expect_success 'EDQUOT on the message write -> 75, (#4.3.1)' '
	expect_fault "write:EDQUOT:1:message" small "quota exceeded \(#4\.3\.1\)$"
'
test_expect_success 'ENOSPC when the envelope is written -> 75, (#4.3.1)' '
	expect_fault "write:ENOSPC:1:envelope*" small "envelope: No space left on device \(#4\.3\.1\)$"
'
test_expect_success 'ENOSPC when the entry directory is made -> 75, (#4.3.1)' '
	expect_fault "mkdir:ENOSPC:1:in/tmp/?*" small "No space left on device \(#4\.3\.1\)$"
'
test_expect_success 'EIO from fsync of the message -> 75' '
	expect_fault "fsync:EIO:1:message" big "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'EIO from fsync of the envelope -> 75' '
	expect_fault "fsync:EIO:1:envelope*" small "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'ENOSPC from fsync of the envelope (delayed allocation) -> 75, (#4.3.1)' '
	expect_fault "fsync:ENOSPC:1:envelope*" small "No space left on device \(#4\.3\.1\)$"
'
test_expect_success 'EIO from close of the message -> 75' '
	expect_fault "close:EIO:1:message" small "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'EIO from fsync of the entry directory before the commit -> 75' '
	expect_fault "fsync:EIO:1:in/tmp/?*" small "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'the final rename into in/new/ fails -> 75' '
	expect_fault "rename:EIO:1:in/new/?*" small "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'the rename is done but fsync of in/new/ fails -> 75, entry taken back' '
	expect_fault "fsync:EIO:1:in/new" small "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'reading the message fails half way -> 75' '
	expect_fault "read:EIO:3:big" big "Input/output error \(#4\.3\.0\)$"
'
test_expect_success 'after all that the spool still takes a message' '
	receive_fault "" big
	p=$(cat out)
	cmp "$p/message" big
	test "$(ls spool/in/new)" = "${p##*/}"
'
if ! ldd "$MF_BUILD/mf-inject" >/dev/null 2>&1; then
	test_skip 'mf-inject shares the intake: ENOSPC on the envelope -> 75' 'mf-inject is static'
else
test_expect_success 'mf-inject shares the intake: ENOSPC on the envelope -> 75, nothing left' '
	rm -rf spool/in/new/*
	rm -f flog/fault.log
	rc=0
	LD_PRELOAD=$FAULT MF_FAULT="write:ENOSPC:1:envelope*" MF_FAULT_LOG=$TRASH/flog/fault.log \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		mf-inject -S spool -f a@example.org -- b@example.org <small >out 2>err || rc=$?
	echo "exit $rc, want 75"
	test "$rc" -eq 75
	test -s flog/fault.log
	test_last_line err "^mf-inject: .*No space left on device \(#4\.3\.1\)$"
	queue_empty spool/in
'
fi
test_done
