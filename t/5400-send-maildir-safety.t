#!/bin/sh
# SPDX-License-Identifier: MIT
# maildir: hops never follow a link below the configured start, and an
# address never names a path (no /, .., leading dot).
. "${0%/*}/lib.sh"

mkspool
printf 'Subject: hello\n\nbody\n' >msg

conf() { printf '[General]\nSyslog = no\n[Sender]\nAddress = %s\n' "$1" >mf.conf; }
recv() { mf-receive -S spool -c mf.conf -f a@example.org -- "$@" <msg; }
send() { mf-send -S spool -c mf.conf "$@"; }
# nothing_in DIR: DIR holds no file at all (a link target stays untouched)
nothing_in() { [ -z "$(find "$1" ! -type d)" ] && [ -z "$(find "$1" -mindepth 1 -type d)" ]; }
# deferred_by_link ENTRY: the recipient waits, and the reply names the link
deferred_by_link() {
	case "$1" in *spool/out/new/*) ;; *) echo "not deferred: $1"; return 1 ;; esac
	grep -qx "State: deferred" "$1/envelope" &&
	grep -q "^Last-Reply: 451 4.3.0 maildir .*: a symbolic link or not a directory" "$1/envelope"
}

conf "maildir:$TRASH/md/%u"
mkdir -p md

test_expect_success 'a symlink as the user'"'"'s maildir is not followed' '
	mkdir t1 && ln -s "$TRASH/t1" md/bob &&
	p=$(recv bob@example.net) && q=$(send "$p") &&
	deferred_by_link "$q" && nothing_in t1
'

for sub in tmp new cur; do
	test_expect_success "a symlink as the maildir's $sub/ is not followed" '
		mkdir -p "t-$sub" "md/u$sub/tmp" "md/u$sub/new" "md/u$sub/cur" &&
		rmdir "md/u$sub/$sub" && ln -s "$TRASH/t-$sub" "md/u$sub/$sub" &&
		p=$(recv "u$sub@example.net") && q=$(send "$p") &&
		deferred_by_link "$q" && nothing_in "t-$sub" &&
		[ -z "$(find md/u$sub -type f)" ]
	'
done

test_expect_success 'a symlink at a level made by %d is not followed either' '
	conf "maildir:$TRASH/md2/%d/%u" &&
	mkdir -p md2 t2 && ln -s "$TRASH/t2" md2/example.net &&
	p=$(recv carol@example.net) && q=$(send "$p") &&
	deferred_by_link "$q" && nothing_in t2
'

test_expect_success 'a symlink planted as the user dir inside a real domain dir' '
	mkdir -p md2/example.com t3 && ln -s "$TRASH/t3" md2/example.com/dan &&
	p=$(recv dan@example.com) && q=$(send "$p") &&
	deferred_by_link "$q" && nothing_in t3
'

test_expect_success 'a regular file in place of new/ defers, nothing written' '
	conf "maildir:$TRASH/md/%u" &&
	mkdir -p md/fred/tmp md/fred/cur && : >md/fred/new &&
	p=$(recv fred@example.net) && q=$(send "$p") &&
	deferred_by_link "$q" && [ ! -s md/fred/new ] && [ -z "$(ls md/fred/tmp)" ]
'

test_expect_success 'the configured start before the first % may be a link (the admin'"'"'s)' '
	mkdir real && ln -s "$TRASH/real" link &&
	conf "maildir:$TRASH/link/%u" &&
	p=$(recv gina@example.net) && send "$p" && [ ! -e "$p" ] &&
	ls real/gina/new/* >/dev/null &&
	[ "$(stat -c %a real/gina real/gina/tmp real/gina/new real/gina/cur | sort -u)" = 700 ]
'

# failed_513 ENTRY: the recipient failed for good, as a bad mailbox address
failed_513() {
	case "$1" in *spool/failed/new/*) ;; *) echo "not failed: $1"; return 1 ;; esac
	grep -qx "State: failed" "$1/envelope" &&
	grep -q "^Last-Reply: 550 5.1.3 maildir: <.*> cannot name a mailbox" "$1/envelope"
}

test_expect_success '%u with a / fails for good (5.1.3): no directory of another user' '
	conf "maildir:$TRASH/md3/%u" &&
	p=$(recv "a/b@example.net") && q=$(send "$p") &&
	failed_513 "$q" && [ ! -e md3/a ]
'

test_expect_success '%u with .. and / in quotes fails for good, nothing made' '
	conf "maildir:$TRASH/md4/box/%u/Maildir" &&
	p=$(recv "\"../../x\"@example.net") && q=$(send "$p") &&
	failed_513 "$q" && [ ! -e md4/x ] && [ ! -e x ] && [ -z "$(ls md4/box 2>/dev/null)" ]
'

test_expect_success '%a with a / fails for good, the other recipient is delivered' '
	conf "maildir:$TRASH/md5/%a" &&
	p=$(recv "x/y@example.net" ok@example.net) && q=$(send "$p") &&
	failed_513 "$q" && ls md5/ok@example.net/new/* >/dev/null && [ ! -e md5/x ]
'

test_done
