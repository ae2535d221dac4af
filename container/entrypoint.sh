#!/bin/sh
# The image's entrypoint: runs `browser-agent` with the container's arguments.
#
#   (no arguments)              browser-agent run    (the activity worker; the image's CMD)
#   run | demo | doctor | …     browser-agent <the same arguments>
#   browser-agent …             the same (the name may be given or not)
#
# It `exec`s, so browser-agent replaces this shell: tini (PID 1, the image's init) forwards
# SIGTERM straight to browser-agent, whose worker then drains (docs/worker.md), and tini reaps
# Chromium's orphaned processes. For a shell in the image: `--entrypoint bash`.
set -eu

if [ "$#" -eq 0 ]; then
  set -- run
fi
if [ "$1" = "browser-agent" ]; then
  shift
fi
exec browser-agent "$@"
