"""Stands in for Knative's queue-proxy in the CRI end-to-end test.

It does the one thing of queue-proxy's that the test is about: it reads the function's address
from GUEST_ADDR / GUEST_PORT (which the node runtime's CRI front end injects) and calls
helloworld.Greeter/SayHello there, printing each reply to its container log. It runs from the
helloworld image, reusing the message classes of /app/server.py.
"""
import os
import sys
import time

import grpc

sys.path.insert(0, "/app")
from server import HelloReply, HelloRequest  # noqa: E402

target = "%s:%s" % (os.environ["GUEST_ADDR"], os.environ["GUEST_PORT"])
print("queue-proxy stand-in: calling %s" % target, flush=True)
channel = grpc.insecure_channel(target)
say_hello = channel.unary_unary(
    "/helloworld.Greeter/SayHello",
    request_serializer=HelloRequest.SerializeToString,
    response_deserializer=HelloReply.FromString)
while True:
    try:
        reply = say_hello(HelloRequest(name="queue-proxy"), timeout=5)
        print("reply: %s" % reply.message, flush=True)
    except grpc.RpcError as e:
        print("error: %s" % e.code(), flush=True)
    time.sleep(0.5)
