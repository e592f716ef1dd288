"""The trace function: helloworld.Greeter/SayHello whose request says how much work to do.

The request's `name` is JSON: {"durationMs": D, "memoryMiB": M}. The function allocates M MiB and
writes to every page of it, then computes (a busy loop) until D ms of wall time have passed since
the request arrived, and answers with JSON saying what it actually did:
  {"durationUs": wall time of the work, "cpuUs": CPU time this thread used for it,
   "memoryMiB": memory touched, "pages": pages written, "coldStart": first request of this process,
   "pid": process id}
A name that is not such JSON gets "Hello, <name>!" as from the helloworld function, so the node
runtime's readiness checks and plain invocations work unchanged.
Listens on $PORT (default 50051) and, if $GRPC_UNIX_SOCKET is set, on that Unix socket too.
"""
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PAGE = 4096
MAX_MEMORY_MIB = int(os.environ.get("TRACE_FUNC_MAX_MEMORY_MIB", "2048"))
MAX_DURATION_MS = int(os.environ.get("TRACE_FUNC_MAX_DURATION_MS", "600000"))


def message_classes():
    """HelloRequest and HelloReply from a descriptor built here (no protoc in the image)."""
    fd = descriptor_pb2.FileDescriptorProto(name="helloworld.proto", package="helloworld", syntax="proto3")
    for msg, field in (("HelloRequest", "name"), ("HelloReply", "message")):
        m = fd.message_type.add(name=msg)
        m.field.add(name=field, number=1, json_name=field,
                    type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return [factory.GetPrototype(pool.FindMessageTypeByName("helloworld." + n)) for n in ("HelloRequest", "HelloReply")]


Request, Reply = message_classes()
served = 0
served_lock = threading.Lock()


def parse(name):
    try:
        spec = json.loads(name)
    except ValueError:
        return None
    if not isinstance(spec, dict) or "durationMs" not in spec:
        return None
    duration_ms = float(spec.get("durationMs", 0))
    memory_mib = int(spec.get("memoryMiB", 0))
    if duration_ms < 0 or memory_mib < 0:
        raise ValueError("durationMs and memoryMiB must not be negative")
    return min(duration_ms, MAX_DURATION_MS), min(memory_mib, MAX_MEMORY_MIB)


def work(duration_ms, memory_mib):
    start = time.perf_counter_ns()
    cpu_start = time.thread_time_ns()
    pages = 0
    if memory_mib > 0:
        size = memory_mib * 1024 * 1024
        buf = bytearray(size)
        pages = (size + PAGE - 1) // PAGE
        # One write per page, in C: every page is really faulted in.
        buf[::PAGE] = b"\x01" * pages
    deadline = start + int(duration_ms * 1e6)
    spins = 0
    while time.perf_counter_ns() < deadline:
        spins += 1
    took = time.perf_counter_ns() - start
    cpu = time.thread_time_ns() - cpu_start
    return took // 1000, cpu // 1000, pages


def say_hello(request, context):
    global served
    with served_lock:
        served += 1
        cold = served == 1
    try:
        spec = parse(request.name)
    except (ValueError, TypeError) as err:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "trace-func: bad request %r: %s" % (request.name, err))
    if spec is None:
        return Reply(message="Hello, %s!" % request.name)
    duration_ms, memory_mib = spec
    try:
        took_us, cpu_us, pages = work(duration_ms, memory_mib)
    except MemoryError:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "trace-func: cannot allocate %d MiB" % memory_mib)
    return Reply(message=json.dumps({
        "durationUs": took_us, "cpuUs": cpu_us, "memoryMiB": memory_mib, "pages": pages,
        "coldStart": cold, "pid": os.getpid()}, separators=(",", ":")))


def main():
    port = int(os.environ.get("PORT", "50051"))
    workers = int(os.environ.get("TRACE_FUNC_WORKERS", "8"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("helloworld.Greeter", {
        "SayHello": grpc.unary_unary_rpc_method_handler(
            say_hello, request_deserializer=Request.FromString, response_serializer=Reply.SerializeToString),
    }),))
    if server.add_insecure_port("0.0.0.0:%d" % port) == 0:
        sys.exit("trace-func: cannot listen on port %d" % port)
    sock = os.environ.get("GRPC_UNIX_SOCKET")
    if sock:
        server.add_insecure_port("unix:" + sock)
    server.start()
    print("trace-func: serving helloworld.Greeter on port %d%s" % (port, " and unix:" + sock if sock else ""), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: done.set())
    signal.signal(signal.SIGINT, lambda s, f: done.set())
    done.wait()
    server.stop(grace=0.5).wait()


if __name__ == "__main__":
    main()
