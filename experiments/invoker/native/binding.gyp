{
  "targets": [
    {
      "target_name": "precise_timer",
      "sources": ["precise-timer.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
