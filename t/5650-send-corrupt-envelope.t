#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send and an envelope that is cut short or was tampered with (issue 6,
# item 6): nothing reaches the real SMTP sink, the entry is set aside in
# corrupt/ where mf-inject -l shows it, and one clear line is logged.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
start_sink plain

printf 'From: a@example.org\nSubject: hello\n\nbody\n' >msg
sink_conf "$SINK_PORT_plain"
mkspool

# inj RCPT...: an entry in out/new, its path on stdout
inj() { mf-inject -S "$TRASH/spool" -c mf.conf -Q out -f a@example.org -- "$@" <msg; }
# check_set_aside ENTRY LOG: not delivered, in corrupt/, one log line about it
# (and the summary of -v)
check_set_aside() {
	id=${1##*/}
	[ ! -e "$1" ] && [ -d "spool/corrupt/new/$id" ] &&
	[ -f "spool/corrupt/new/$id/message" ] &&
	[ -z "$(ls plain)" ] &&
	[ "$(grep -c "$id" "$2")" -eq 1 ] &&
	grep -Eq "^mf-send: [^ ]*/out/cur/$id: envelope line [0-9]+: .* \(#4\.3\.0\); set aside in corrupt/$" "$2" &&
	! grep -v "^mf-send: $TRASH/spool/out/cur/$id: \|^mf-send: delivered 0, deferred 0, failed 0$" "$2" &&
	mf-inject -S "$TRASH/spool" -c mf.conf -l corrupt >list &&
	grep -q "^corrupt  *$id .*(unreadable: .*envelope line" list
}

test_expect_success 'an envelope cut after "Recipient: <u" is set aside, nothing sent' '
	p=$(inj u@example.net v@example.net w@example.net) &&
	head -c "$(grep -b -o "^Recipient: <u" "$p/envelope" | head -n 1 | cut -d: -f1)" \
		"$p/envelope" >cut && printf "Recipient: <u" >>cut && cp cut "$p/envelope" &&
	mf-send -v -S "$TRASH/spool" -c mf.conf "$p" >out 2>log &&
	check_set_aside "$p" log &&
	grep -q "line 6: no newline at the end: cut short" log
'

test_expect_success 'an envelope cut after a whole recipient is set aside too' '
	rm -rf spool plain/* && mkspool &&
	p=$(inj u@example.net v@example.net) &&
	sed -n "1,/^Attempts:/p" "$p/envelope" >cut && cp cut "$p/envelope" &&
	mf-send -v -S "$TRASH/spool" -c mf.conf "$p" >out 2>log &&
	check_set_aside "$p" log &&
	grep -q "no End line: cut short" log
'

test_expect_success 'Recipient: <a b>> NOTIFY=NEVER is set aside by a queue run, nothing sent' '
	rm -rf spool plain/* && mkspool &&
	p=$(inj u@example.net) &&
	sed "s/^Recipient: <u@example.net>\$/Recipient: <a b>> NOTIFY=NEVER/" "$p/envelope" >bad &&
	grep -qx "Recipient: <a b>> NOTIFY=NEVER" bad && cp bad "$p/envelope" &&
	mf-send -v -q -S "$TRASH/spool" -c mf.conf >out 2>log &&
	check_set_aside "$p" log &&
	grep -q "line 6: Recipient: not one address in angle brackets" log
'

test_expect_success 'a good entry beside them is delivered as before' '
	rm -rf spool plain/* && mkspool &&
	p=$(inj u@example.net) &&
	mf-send -q -S "$TRASH/spool" -c mf.conf &&
	[ ! -e "$p" ] && grep -qx "RCPT TO:<u@example.net>" plain/1.env
'

test_done
