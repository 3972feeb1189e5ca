#!/bin/sh
# SPDX-License-Identifier: MIT
# What mf-send puts on the wire (issue 6, item 8), seen by the real sink: no
# bare CR or LF ever -- a bare CR is a line end, so "<CR>.<CR>" cannot end the
# data early at a receiver that ends data there (SMTP smuggling) -- NUL bytes
# removed, lines over 998 bytes folded (header: CRLF SPACE, body: CRLF), and
# a SIZE= parameter that is exactly what arrives.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink

start_sink plain

conf() {
	sink_conf "$SINK_PORT_plain" 'SendingIntervals = 0s, 1m'
}
inj() { mkdir -p "$TRASH/$1"; mf-inject -S "$TRASH/$1" -c mf.conf -Q out -f a@example.org -- x@example.net <"$2"; }

# The message on disk, and what the sink must store (un-stuffed, CRLF).
"$PY" - <<'PYEOF'
h = b"h" * 1500
msg = (b"From: a@example.org\nX-Long: " + h + b"\nSubject: wire\n\n"
       b"bare\rCR\n"
       b"smuggle\r.\rMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\n"
       b"nul\0byte\0\n"
       + b"b" * 2500 + b"\n"
       + b"c" * 998 + b".dot after a fold\n"
       b"\r\n.\r\n"
       b"last line without newline")
want = (b"From: a@example.org\r\nX-Long: " + h[:990] + b"\r\n " + h[990:] +
        b"\r\nSubject: wire\r\n\r\n"
        b"bare\r\nCR\r\n"
        b"smuggle\r\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\n"
        b"nulbyte\r\n"
        + b"b" * 998 + b"\r\n" + b"b" * 998 + b"\r\n" + b"b" * 504 + b"\r\n"
        + b"c" * 998 + b"\r\n.dot after a fold\r\n"
        b"\r\n.\r\n"
        b"last line without newline\r\n")
open("msg", "wb").write(msg)
open("want.eml", "wb").write(want)
PYEOF

test_expect_success 'delivered as one message, content as documented' '
	conf && p=$(inj s1 msg) &&
	mf-send -v -S "$TRASH/s1" -c mf.conf "$p" 2>send.err && [ ! -e "$p" ] &&
	[ "$(ls plain/*.eml | wc -l)" = 1 ] &&
	! grep -q evil plain/1.env && ! grep -q victim plain/1.env &&
	cmp want.eml plain/1.eml
'

test_expect_success 'no bare CR, no bare LF, no NUL, no line over 998 bytes' '
	"$PY" -c "import re, sys
d = open(\"plain/1.eml\", \"rb\").read()
assert not re.search(rb\"\r(?!\n)|(?<!\r)\n\", d), \"bare CR or LF\"
assert b\"\\0\" not in d, \"NUL\"
assert max(len(l) for l in d.split(b\"\r\n\")) <= 998, \"long line\"
"
'

test_expect_success 'SIZE= is exactly the size that arrived' '
	size=$(sed -n "s/^MAIL FROM:<[^>]*>.* SIZE=\([0-9]*\).*/\1/p" plain/1.env) &&
	[ -n "$size" ] && [ "$size" = "$(wc -c <plain/1.eml)" ]
'

test_expect_success 'the repairs are logged once, with their counts' '
	[ "$(grep -c "made fit for SMTP: 3 bare CR sent as line ends, 2 NUL removed, 4 lines over 998 bytes folded" send.err)" = 1 ]
'

test_done
