#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# t/fake-smtp.py -- a scripted, hostile SMTP server for the faults the real
# sink (t/sink.py, aiosmtpd) cannot produce: a 250 reply to DATA, replies out
# of step, a 200,000-line greeting, a 1 MB reply line.  Beside the sink, never
# instead of it.
#
#   fake-smtp.py --port PORT --log FILE [--pipelining] [--greeting-lines N]
#                [--greeting-len N] [--after-ehlo TEXT] [--data-reply TEXT]
#                [--eod-len N]
#
# Listens on 127.0.0.1, prints "ready", serves one connection after another.
# Answers 250 to EHLO/MAIL/RCPT/RSET, 354 to DATA (or --data-reply, with \r\n
# escapes: a whole raw reply), then 250 after the dot.  --after-ehlo is sent
# right after the EHLO reply (a stray reply: every later one is one behind).
# --eod-len N: the reply after the dot is "250 " and N more bytes.  FILE gets
# one line per command and "BODY n" with the bytes of each message received.
import argparse
import socket
import sys


def lines(conn):
    buf = b''
    while True:
        while b'\n' not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        line, buf = buf.split(b'\n', 1)
        yield line.rstrip(b'\r')


def serve(conn, a, log):
    def send(b):
        conn.sendall(b)
    if a.greeting_len:
        send(b'220 ' + b'x' * a.greeting_len + b'\r\n')
    else:
        send(b'220-fake\r\n' * (a.greeting_lines - 1) + b'220 fake\r\n')
    in_data, body = False, 0
    for line in lines(conn):
        if in_data:
            if line == b'.':
                in_data = False
                log.write('BODY %d\n' % body)
                send(b'250 ' + b'y' * a.eod_len + b'\r\n' if a.eod_len
                     else b'250 2.0.0 fake queued\r\n')
            else:
                body += len(line) + 2
            continue
        log.write(line.decode('latin-1') + '\n')
        log.flush()
        verb = line[:4].upper()
        if verb in (b'EHLO', b'LHLO'):
            send(b'250-fake\r\n' + (b'250-PIPELINING\r\n' if a.pipelining else b'') +
                 b'250 8BITMIME\r\n' + a.after_ehlo)
        elif verb == b'DATA':
            send(a.data_reply)
            if a.data_reply.startswith(b'354'):
                in_data, body = True, 0
        elif verb == b'QUIT':
            send(b'221 bye\r\n')
            return
        elif verb in (b'MAIL', b'RCPT', b'RSET', b'NOOP'):
            send(b'250 2.0.0 ok\r\n')
        else:
            send(b'502 5.5.1 no\r\n')


def raw(s):
    return s.encode('latin-1').decode('unicode_escape').encode('latin-1')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--pipelining', action='store_true')
    ap.add_argument('--greeting-lines', type=int, default=1)
    ap.add_argument('--greeting-len', type=int, default=0)
    ap.add_argument('--after-ehlo', type=raw, default=b'')
    ap.add_argument('--data-reply', type=raw, default=b'354 go ahead\r\n')
    ap.add_argument('--eod-len', type=int, default=0)
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', a.port))
    s.listen(8)
    print('ready', flush=True)
    with open(a.log, 'a') as log:
        while True:
            conn, _ = s.accept()
            try:
                serve(conn, a, log)
            except OSError:
                pass
            finally:
                log.write('CLOSED\n')
                log.flush()
                conn.close()


if __name__ == '__main__':
    sys.exit(main())
