#!/bin/sh
# SPDX-License-Identifier: MIT
# Started as root, every tool becomes the mail filter user -- [General] User,
# else the spool root's owner -- before it touches the spool, and refuses to
# run as root; run by anyone else, a tool is unchanged.
MF_TEST_ROOT=1 # tools are started as root here
. "${0%/*}/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: starts the tools as root"
command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 || skip_all "needs setpriv and user nobody"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

printf 'Subject: drop\n\nbody\n' >msg
printf '[General]\nSyslog = no\n' >mf.conf
mkspool                 # owned by nobody
mkdir rootspool         # owned by root
REFUSE='refusing to run as root: spool rootspool is owned by root; chown it to the mail filter user or set User in \[General\] \(#4\.3\.5\)$'

# hop: a pipe next hop that records who it and its parent (mf-send) are
mkdir hopout && chown nobody hopout
cat >hop <<'EOF2'
#!/bin/sh
d=${0%/*}/hopout
id -u >"$d/uid"; id -g >"$d/gid"; id -G >"$d/groups"
echo "${HOME:-}" >"$d/home"; echo "${USER:-}" >"$d/user"
grep -E '^(Uid|Gid|Groups|CapPrm|CapEff):' "/proc/$PPID/status" >"$d/parent"
cat >"$d/message"
EOF2
chmod 755 hop

owner_of() { stat -c %U:%G:%a "$@"; }

test_expect_success 'mf-receive as root on a spool owned by nobody: files owned by nobody, 0700/0600' '
	p=$(mf-receive -S spool -c mf.conf -f a@example.org -- b@example.net <msg) &&
	[ "$(owner_of "$p")" = "nobody:$(id -gn nobody):700" ] &&
	[ "$(owner_of "$p/message")" = "nobody:$(id -gn nobody):600" ] &&
	[ "$(owner_of "$p/envelope")" = "nobody:$(id -gn nobody):600" ] &&
	[ "$(stat -c %U spool/in spool/in/new spool/in/tmp)" = "$(printf "nobody\nnobody\nnobody")" ]
'

test_expect_success 'mf-inject as root: files owned by nobody' '
	p=$(mf-inject -S spool -c mf.conf -f a@example.org -- c@example.net <msg) &&
	[ "$(stat -c %U "$p" "$p/message" "$p/envelope" | sort -u)" = nobody ]
'

test_expect_success 'mf-send as root runs as nobody: uid, gid, no other group, no way back' '
	printf "[General]\nSyslog = no\n[Sender]\nAddress = pipe:$TRASH/hop\n" >send.conf &&
	p=$(mf-receive -S spool -c send.conf -f a@example.org -- d@example.net <msg) &&
	mf-send -S spool -c send.conf "$p" &&
	[ "$(cat hopout/uid)" = "$NOBODY_UID" ] &&
	[ "$(cat hopout/gid)" = "$NOBODY_GID" ] &&
	[ "$(cat hopout/groups)" = "$NOBODY_GID" ] &&
	cat hopout/parent &&
	grep -Eqx "Uid:\s+$NOBODY_UID\s+$NOBODY_UID\s+$NOBODY_UID\s+$NOBODY_UID" hopout/parent &&
	grep -Eqx "Gid:\s+$NOBODY_GID\s+$NOBODY_GID\s+$NOBODY_GID\s+$NOBODY_GID" hopout/parent &&
	grep -Eqx "Groups:\s+$NOBODY_GID\s*" hopout/parent &&
	grep -Eqx "CapPrm:\s+0+" hopout/parent &&
	grep -Eqx "CapEff:\s+0+" hopout/parent &&
	test_cmp msg hopout/message
'
test_expect_success '... and the next hop does not get root'"'"'s HOME or USER' '
	cat hopout/home hopout/user &&
	[ "$(cat hopout/home)" != "$HOME" ] && [ "$(cat hopout/user)" != root ]
'

test_expect_success 'a queue run as root leaves what it writes to nobody' '
	printf "[General]\nSyslog = no\n[Sender]\nAddress = pipe:/bin/false\nSendingIntervals = 0s, 1h\n" >defer.conf &&
	p=$(mf-receive -S spool -c defer.conf -f a@example.org -- e@example.net <msg) &&
	mf-send -S spool -c defer.conf "$p" || :
	find spool ! -user nobody >foreign &&
	test_cmp /dev/null foreign
'

test_expect_code 75 'mf-receive as root on a spool owned by root: refused, 75, nothing made' '
	mf-receive -S rootspool -c mf.conf -f a@example.org -- b@example.net <msg 2>err >out
	rc=$?; cat err
	test_last_line err "^mf-receive: $REFUSE" && [ ! -s out ] &&
	[ -z "$(ls -A rootspool)" ] && exit $rc
'
test_expect_code 75 'mf-send as root on a spool owned by root: refused before it reads the entry' '
	mf-send -S rootspool -c mf.conf rootspool/out/new/x 2>err; rc=$?; cat err
	test_last_line err "^mf-send: $REFUSE" && [ -z "$(ls -A rootspool)" ] && exit $rc
'
test_expect_code 75 'mf-send -q as root on a spool owned by root: refused, 75' '
	mf-send -S rootspool -c mf.conf -q 2>err; rc=$?; cat err
	test_last_line err "^mf-send: $REFUSE" && [ -z "$(ls -A rootspool)" ] && exit $rc
'
test_expect_code 78 'mf-inject (interactive) as root on a spool owned by root: refused, 78' '
	mf-inject -S rootspool -c mf.conf -l 2>err; rc=$?; cat err
	test_last_line err "^mf-inject: $REFUSE" && exit $rc
'
test_expect_code 78 '--check-config as root on a spool owned by root: refused, 78' '
	mf-receive --check-config -S rootspool -c mf.conf 2>err; rc=$?; cat err
	test_last_line err "^mf-receive: $REFUSE" && exit $rc
'
test_expect_success '--check-config as root says whom the tool runs as' '
	mf-send --check-config -S spool -c mf.conf >out &&
	grep -qx "mf-send: mf.conf: configuration OK; runs as nobody (uid $NOBODY_UID gid $NOBODY_GID)" out
'

# A spool owned by daemon: without User the tools become daemon; User = nobody wins.
mkdir dspool && chown daemon:daemon dspool && chmod 700 dspool
test_expect_success 'the spool owner is the default user (daemon here)' '
	p=$(mf-receive -S dspool -c mf.conf -f a@example.org -- b@example.net <msg) &&
	[ "$(stat -c %U "$p/message")" = daemon ]
'
test_expect_success 'User = nobody overrides the spool owner' '
	printf "[General]\nSyslog = no\nUser = nobody\n" >user.conf &&
	mf-receive --check-config -S dspool -c user.conf >out &&
	grep -q "configuration OK; runs as nobody (uid $NOBODY_UID gid $NOBODY_GID)$" out &&
	p=$(mf-receive -S spool -c user.conf -f a@example.org -- b@example.net <msg) &&
	[ "$(stat -c %U "$p/message")" = nobody ]
'
test_expect_code 75 '... and as nobody, the tool cannot write the spool of daemon' '
	mf-receive -S dspool -c user.conf -f a@example.org -- b@example.net <msg 2>err; rc=$?
	cat err; test_last_line err "^mf-receive: .*Permission denied \(#4\.3\.0\)$" && exit $rc
'
test_expect_success 'User may be a uid' '
	printf "[General]\nSyslog = no\nUser = %s\n" "$NOBODY_UID" >uid.conf &&
	p=$(mf-receive -S spool -c uid.conf -f a@example.org -- b@example.net <msg) &&
	[ "$(stat -c %U "$p/message")" = nobody ]
'

printf '[General]\nSyslog = no\n\nUser = no-such-user-mf\n' >bad.conf
test_expect_code 78 'an unknown User: config error with file:line (--check-config: 78)' '
	mf-receive --check-config -S spool -c bad.conf 2>err; rc=$?; cat err
	test_last_line err "^mf-receive: bad.conf:4: User no-such-user-mf: no such user in /etc/passwd \(#4\.3\.5\)$" && exit $rc
'
test_expect_code 75 '... in a transport tool: 75, nothing written' '
	n=$(count_entries spool/in)
	mf-receive -S spool -c bad.conf -f a@example.org -- b@example.net <msg 2>err; rc=$?; cat err
	test_last_line err "^mf-receive: bad.conf:4: User no-such-user-mf: no such user" &&
	[ "$(count_entries spool/in)" = "$n" ] && exit $rc
'
test_expect_code 78 '... checked whoever runs the tool (nobody too)' '
	as_nobody mf-inject -S spool -c bad.conf -l 2>err; rc=$?; cat err
	test_last_line err "^mf-inject: bad.conf:4: User no-such-user-mf: no such user" && exit $rc
'
for u in root 0; do
	test_expect_code 78 "User = $u: refused with file:line" '
		printf "[General]\nUser = '$u'\n" >root.conf &&
		mf-receive --check-config -S spool -c root.conf 2>err; rc=$?; cat err
		test_last_line err "^mf-receive: root.conf:2: refusing to run as root: User '$u' has uid 0; name the mail filter user \(#4\.3\.5\)$" && exit $rc
	'
done

# A spool owner without a passwd entry: its uid and the spool's group.
mkdir uspool
test_expect_success 'a spool owned by a uid with no passwd entry: that uid and the group of the spool' '
	! getent passwd 4242 &&
	chown 4242:4243 uspool &&
	p=$(mf-receive -S uspool -c mf.conf -f a@example.org -- b@example.net <msg) &&
	[ "$(stat -c %u:%g "$p/message")" = 4242:4243 ]
'
test_expect_code 75 '... but never gid 0' '
	chown 4242:0 uspool &&
	mf-receive -S uspool -c mf.conf -f a@example.org -- b@example.net <msg 2>err; rc=$?; cat err
	test_last_line err "^mf-receive: refusing to run with group root: user \? \(uid 4242\) has gid 0; give it a group of its own \(#4\.3\.5\)$" &&
	exit $rc
'

test_expect_success 'run by nobody on its own spool: unchanged' '
	p=$(as_nobody mf-receive -S spool -c mf.conf -f a@example.org -- b@example.net <msg) &&
	[ "$(stat -c %U "$p/message")" = nobody ] &&
	as_nobody mf-send --check-config -S spool -c mf.conf >out &&
	grep -q "configuration OK; runs as nobody (uid $NOBODY_UID gid $NOBODY_GID)$" out
'
test_expect_code 75 'run by nobody on a spool of root: Permission denied, as before, not the refusal' '
	chmod 755 rootspool &&
	as_nobody mf-receive -S rootspool -c mf.conf -f a@example.org -- b@example.net <msg 2>err; rc=$?
	cat err; ! grep -q refusing err &&
	test_last_line err "^mf-receive: .*Permission denied \(#4\.3\.0\)$" && exit $rc
'

test_done
