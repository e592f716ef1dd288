{
  "targets": [
    {
      "target_name": "vhuf_uffd",
      "sources": ["addon.c", "handshake.c", "serve.c", "prefetch.c", "ws-fetch.c", "buffer-pool.c", "hash64.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
