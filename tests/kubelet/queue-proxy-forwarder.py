"""Stands in for Knative's queue-proxy in the kubelet tests.

It does what the tests need of queue-proxy: it serves on the pod's port 8012 (queue-proxy's) and
forwards each request to the function at GUEST_ADDR:GUEST_PORT (which the node runtime's CRI front
end injects), answering with the function's reply, or UNAVAILABLE with the reason when the function
cannot be reached. It reads the address once, at start, as queue-proxy does. It runs from the
helloworld image, reusing the message classes of /app/server.py.
"""
import os
import sys
from concurrent import futures

import grpc

sys.path.insert(0, "/app")
from server import HelloReply, HelloRequest  # noqa: E402

PORT = 8012
target = "%s:%s" % (os.environ["GUEST_ADDR"], os.environ["GUEST_PORT"])
channel = grpc.insecure_channel(target)
upstream = channel.unary_unary(
    "/helloworld.Greeter/SayHello",
    request_serializer=HelloRequest.SerializeToString,
    response_deserializer=HelloReply.FromString)


def say_hello(request, context):
    try:
        return upstream(request, timeout=10, wait_for_ready=True)
    except grpc.RpcError as e:
        context.abort(grpc.StatusCode.UNAVAILABLE, "function at %s: %s %s" % (target, e.code(), e.details()))


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("helloworld.Greeter", {
    "SayHello": grpc.unary_unary_rpc_method_handler(
        say_hello,
        request_deserializer=HelloRequest.FromString,
        response_serializer=HelloReply.SerializeToString),
}),))
if server.add_insecure_port("0.0.0.0:%d" % PORT) == 0:
    sys.exit("queue-proxy stand-in: cannot listen on port %d" % PORT)
server.start()
print("queue-proxy stand-in: serving on port %d, function at %s" % (PORT, target), flush=True)
server.wait_for_termination()
