#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send trusts no file it finds in an entry: a symlinked, hard-linked or
# FIFO `message` or `envelope` is never followed, read or waited on; the
# entry is set aside in corrupt/ with one escaped log line, and nothing of
# what the link points to reaches the next hop (the aiosmtpd sink).  A planted
# `envelope.new` link is removed, never written through.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
start_sink plain

sink_conf "$SINK_PORT_plain"
MF_SPOOL=$TRASH/spool MF_CONFIG=$TRASH/mf.conf
export MF_SPOOL MF_CONFIG
mkspool
mkdir outside
printf 'From: a@example.org\nSubject: hello\n\nbody\n' >msg
# the secret a planted link points to: it must never reach the sink
printf 'Subject: secret\n\nTOPSECRET-%s\n' "$$" >outside/secret && chmod 600 outside/secret
cp outside/secret spool/secret-hardlinkable

not() { if "$@"; then return 1; fi; }
inj() { mf-inject -Q out -f a@example.org -- b@example.org <msg; }
corrupt_count() { set -- spool/corrupt/new/*; [ -e "$1" ] && echo $# || echo 0; }
leaked() { grep -rqs "TOPSECRET" plain/; }

# plant KIND FILE ENTRY: replace ENTRY/FILE by a symlink, a hard link or a FIFO
plant() {
	case $1 in
	symlink) rm -f "$3/$2"; ln -s "$TRASH/outside/secret" "$3/$2" ;;
	hardlink) rm -f "$3/$2"; ln "$TRASH/spool/secret-hardlinkable" "$3/$2" ;;
	fifo) rm -f "$3/$2"; mkfifo -m 600 "$3/$2" ;;
	esac
}

# run_case KIND FILE HOW: plant, run mf-send (queue run or by name) under
# timeout: no hang, the entry is set aside, nothing sent, secret untouched.
run_case() {
	p=$(inj) && id=${p##*/} && plant "$1" "$2" "$p" &&
	n=$(corrupt_count) && rc=0 &&
	if [ "$3" = queue ]; then
		timeout 20 mf-send -v -q >out 2>err || rc=$?
	else
		timeout 20 mf-send -v "$p" >out 2>err || rc=$?
	fi
	echo "mf-send ($1 $2, $3): exit $rc"; cat err
	test "$rc" -ne 124 &&
	test "$rc" -eq 0 &&
	not test -e "$p" &&
	test "$(corrupt_count)" -eq $((n + 1)) &&
	test -d "spool/corrupt/new/$id" &&
	grep -q "out/cur/$id/$2: .*; set aside in corrupt/" err &&
	not leaked &&
	test "$(ls plain | wc -l)" -eq 0 &&
	cmp outside/secret spool/secret-hardlinkable
}

for how in queue name; do
	for kind in symlink hardlink fifo; do
		for f in message envelope; do
			test_expect_success "$kind as $f ($how): not followed, no hang, set aside" "
				run_case $kind $f $how
			"
		done
	done
done

test_expect_success 'a FIFO message in a stalled claim: recovered, then set aside (no hang)' '
	p=$(inj) && id=${p##*/} && plant fifo message "$p" &&
	mv "$p" spool/out/cur/ && touch -d "2 hours ago" "spool/out/cur/$id" &&
	rc=0 && timeout 20 mf-send -v -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 0 &&
	test -d "spool/corrupt/new/$id" && test -p "spool/corrupt/new/$id/message" &&
	not leaked
'

test_expect_success 'mf-notify: a FIFO or symlink message in failed/ is set aside, no hang, no DSN' '
	mkdir -p spool/failed/tmp spool/failed/new spool/failed/cur &&
	for kind in fifo symlink; do
		p=$(inj) && id=${p##*/} &&
		sed "s/^State: pending$/State: failed/" "$p/envelope" >env.tmp &&
		cat env.tmp >"$p/envelope" && mv "$p" spool/failed/new/ &&
		plant $kind message "spool/failed/new/$id" &&
		n=$(ls spool/out/new | wc -l) &&
		rc=0 && timeout 20 mf-notify -v "$id" >out 2>err || rc=$?
		cat err; echo "mf-notify ($kind): exit $rc"
		test "$rc" -ne 124 && test "$rc" -eq 65 && test ! -s out &&
		test -d "spool/corrupt/new/$id" && not test -e "spool/failed/new/$id" &&
		test "$(ls spool/out/new | wc -l)" -eq "$n" &&
		grep -q "set aside in corrupt/" err || return 1
	done
	not leaked
'

test_expect_success 'mf-inject -l lists corrupt/ and survives its links and FIFOs' '
	rc=0 && timeout 20 mf-inject -l corrupt >list 2>err || rc=$?
	cat list err; test "$rc" -eq 0 &&
	grep -q "^corrupt " list && not grep -q TOPSECRET list
'

test_expect_success 'a planted envelope.new symlink: its target untouched, envelope a real file' '
	printf "victim\n" >outside/victim && chmod 600 outside/victim &&
	cp outside/victim victim.orig &&
	printf "[General]\nSyslog = no\n[Sender]\nAddress = inet:%s@127.0.0.1\n" "$(free_port)" >dead.conf &&
	p=$(inj) && ln -s "$TRASH/outside/victim" "$p/envelope.new" &&
	rc=0 && timeout 20 mf-send -c dead.conf "$p" >out 2>err || rc=$?
	cat err; echo "exit $rc" &&
	cmp victim.orig outside/victim &&
	test -f "spool/out/new/${p##*/}/envelope" && not test -L "spool/out/new/${p##*/}/envelope" &&
	grep -q "^State: deferred" "spool/out/new/${p##*/}/envelope" &&
	not test -e "spool/out/new/${p##*/}/envelope.new"
'

test_done
