#!/usr/bin/env python3
# TEST DOUBLE: stands in for a VMM's virtio-net backend. Firecracker attaches a guest NIC to a tap by
# reading and writing Ethernet frames on the tap's file descriptor; this does the same, but the
# "guest NIC" is a veth link (its peer is a test-made guest namespace with the guest IP and MAC).
# Usage (inside the slot namespace): tap-wire.py <tap name> <veth name>
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_P_ALL = 0x0003

tap_name, wire_name = sys.argv[1], sys.argv[2]
tap = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", tap_name.encode(), IFF_TAP | IFF_NO_PI))
wire = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
wire.bind((wire_name, 0))
print("ready", flush=True)
while True:
    readable, _, _ = select.select([tap, wire], [], [])
    if tap in readable:
        wire.send(os.read(tap, 65536))
    if wire in readable:
        frame, addr = wire.recvfrom(65536)
        # Frames we sent ourselves are echoed back to packet sockets as outgoing: skip them.
        if addr[2] != socket.PACKET_OUTGOING:
            os.write(tap, frame)
