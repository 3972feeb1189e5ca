#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# t/hostile_dns.py -- a DNS server on 127.0.0.1:PORT (UDP) whose MX answers
# are malformed on purpose, for what dnsmasq cannot send.  By the first label
# of the name asked for:
#   ptrloop  the MX exchange is a compression pointer to itself
#   count    the header claims 1000 answers, one follows
#   trunc    the answer ends inside the record data
#   rdlen    the record claims 60000 bytes of data
#   spill    the exchange name runs past the record's data into the next record
# Prints "ready" once listening.
import socket
import struct
import sys


def reply(q):
    qid = q[:2]
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    first = q[13:13 + q[12]].decode('ascii', 'replace').lower()
    an = 1
    off = 12 + len(question)
    own = b'\xc0\x0c'
    if first == 'ptrloop':
        ptr = off + 2 + 10 + 2        # where the exchange starts
        rr = own + struct.pack('>HHIH', 15, 1, 60, 4) + struct.pack('>H', 10) + \
            struct.pack('>H', 0xc000 | ptr)
    elif first == 'count':
        an = 1000
        rr = own + struct.pack('>HHIH', 15, 1, 60, 7) + struct.pack('>H', 10) + b'\x02mx\xc0\x0c'
    elif first == 'trunc':
        rr = own + struct.pack('>HHIH', 15, 1, 60, 20) + struct.pack('>H', 10) + b'\x02mx'
    elif first == 'rdlen':
        rr = own + struct.pack('>HHIH', 15, 1, 60, 60000) + struct.pack('>H', 10) + b'\x02mx\xc0\x0c'
    elif first == 'spill':
        an = 2
        rr = own + struct.pack('>HHIH', 15, 1, 60, 3) + struct.pack('>H', 10) + b'\x03' + \
            b'\x01a\x00' + struct.pack('>HHIH', 16, 1, 60, 1) + b'\x00'
    else:
        an = 0
        rr = b''
    hdr = qid + struct.pack('>HHHHH', 0x8180, 1, an, 0, 0)
    return hdr + question + rr


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', int(sys.argv[1])))
    print('ready', flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        try:
            s.sendto(reply(q), peer)
        except (IndexError, UnicodeError):
            pass


main()
