#!/bin/sh
# System packages the tests use: Graphviz's `dot` (rendering) and Chromium (the HTML report test).
# Installed with apt-get when missing and we are root; otherwise say what to install and go on.
missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "note: install$missing for the rendering and report tests (they skip without them)"
fi
