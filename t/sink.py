#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# t/sink.py -- an SMTP/LMTP sink for the tests, recording envelopes (aiosmtpd).
#
#   sink.py --dir DIR --port PORT [--lmtp] [--tls-cert C --tls-key K
#           [--require-tls]] [--auth USER:PASS] [--rules FILE]
#
# Listens on 127.0.0.1 only and prints "ready" once listening.  Each accepted
# message is DIR/N.eml (the content as received, after un-stuffing) and
# DIR/N.env, written last: "MAIL FROM:<a> PARAMS", "RCPT TO:<b>" lines,
# "TLS: yes|no", "AUTH: user", "HELO: the name given in EHLO/HELO/LHLO".  DIR/data.log gets a line per end of data:
# the number of recipients and the reply code.  The rules file is re-read
# per command:
#   rcpt ADDR CODE TEXT     reply to RCPT TO for ADDR (or *)
#   mail ADDR CODE TEXT     reply to MAIL FROM
#   data * CODE TEXT        reply at the end of data
#   lmtp ADDR CODE TEXT     LMTP: the per-recipient reply after data
#   ehlo * CODE TEXT        reply to EHLO/LHLO (HELO then works)
#   delay CMD SECONDS       sleep before answering CMD (mail, rcpt, data)
#   nopipelining            do not advertise PIPELINING
#   rcptlimit N             452 4.5.3 to every RCPT after N in a transaction
#   dropafter N             close the connection at MAIL after N messages
#                           in the same session
import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult


def read_rules(path):
    rules = []
    if not path:
        return rules
    try:
        with open(path) as f:
            for line in f:
                w = line.split(None, 3)
                if w and not w[0].startswith('#'):
                    rules.append(w)
    except FileNotFoundError:
        pass
    return rules


class Handler:
    def __init__(self, args):
        self.args = args

    def rules(self):
        return read_rules(self.args.rules)

    def match(self, cmd, addr):
        for w in self.rules():
            if len(w) >= 3 and w[0] == cmd and w[1] in ('*', addr):
                return ' '.join(w[2:]).strip()
        return None

    async def delay(self, cmd):
        for w in self.rules():
            if len(w) >= 3 and w[0] == 'delay' and w[1] == cmd:
                await asyncio.sleep(float(w[2]))

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        reply = self.match('ehlo', '*')
        if reply:
            session.extended_smtp = False
            return [reply]
        session.host_name = hostname
        if not any(w == ['nopipelining'] for w in self.rules()):
            responses.insert(1, '250-PIPELINING')
        return responses

    def number(self, name):
        for w in self.rules():
            if len(w) >= 2 and w[0] == name:
                return int(w[1])
        return None

    async def handle_MAIL(self, server, session, envelope, address, options):
        await self.delay('mail')
        drop = self.number('dropafter')
        if drop is not None and getattr(session, 'mf_stored', 0) >= drop:
            server.transport.close()
            return '421 4.3.0 closing'
        reply = self.match('mail', address)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return '250 2.1.0 Ok'

    async def handle_RCPT(self, server, session, envelope, address, options):
        await self.delay('rcpt')
        reply = self.match('rcpt', address)
        if reply:
            return reply
        limit = self.number('rcptlimit')
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return '452 4.5.3 Too many recipients'
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 Ok'

    def store(self, server, session, envelope):
        d = self.args.dir
        n = 1
        while os.path.exists(os.path.join(d, '%d.eml' % n)):
            n += 1
        with open(os.path.join(d, '%d.eml' % n), 'wb') as f:
            f.write(envelope.original_content)
        lines = ['MAIL FROM:<%s>%s' % (envelope.mail_from, ''.join(
            ' ' + o for o in envelope.mail_options))]
        lines += ['RCPT TO:<%s>' % r for r in envelope.rcpt_tos]
        lines.append('TLS: %s' % ('yes' if server._tls_protocol else 'no'))
        if session.authenticated and session.auth_data:
            lines.append('AUTH: %s' % session.auth_data.login.decode())
        lines.append('HELO: %s' % session.host_name)
        tmp = os.path.join(d, '.%d.env' % n)
        with open(tmp, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.rename(tmp, os.path.join(d, '%d.env' % n))
        return n

    def log_data(self, envelope, reply):
        with open(os.path.join(self.args.dir, 'data.log'), 'a') as f:
            f.write('%d %s\n' % (len(envelope.rcpt_tos), reply.split()[0]))

    async def handle_DATA(self, server, session, envelope):
        await self.delay('data')
        reply = self.match('data', '*')
        self.log_data(envelope, reply or '250')
        if reply:
            return reply
        n = self.store(server, session, envelope)
        session.mf_stored = getattr(session, 'mf_stored', 0) + 1
        if not self.args.lmtp:
            return '250 2.0.0 Ok: queued as %d' % n
        return '\r\n'.join(self.match('lmtp', r) or '250 2.1.5 %s delivered' % r
                           for r in envelope.rcpt_tos)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode() == user and
              auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data if ok else None)
    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--lmtp', action='store_true')
    ap.add_argument('--tls-cert')
    ap.add_argument('--tls-key')
    ap.add_argument('--require-tls', action='store_true')
    ap.add_argument('--auth')
    ap.add_argument('--rules')
    args = ap.parse_args()

    kw = dict(hostname='sink.test', decode_data=False, enable_SMTPUTF8=True)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        kw.update(tls_context=ctx, require_starttls=args.require_tls)
    if args.auth:
        user, _, password = args.auth.partition(':')
        kw.update(authenticator=authenticator(user, password), auth_required=True)
    handler = Handler(args)
    cls = LMTP if args.lmtp else SMTP

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: cls(handler, loop=loop, **kw), '127.0.0.1', args.port))
    print('ready', flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == '__main__':
    sys.exit(main())
