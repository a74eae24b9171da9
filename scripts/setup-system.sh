#!/bin/sh
# System packages the tests use: Graphviz's `dot` (rendering), Chromium (the HTML report test),
# librsvg's rsvg-convert (block figures as PNG/PDF), TeX Live's pdflatex with TikZ and poppler's
# pdftoppm (the TikZ figures compiled and rasterised; a few minutes to install).
# Installed with apt-get when missing and we are root; otherwise say what to install and go on.
missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v rsvg-convert >/dev/null 2>&1 || missing="$missing librsvg2-bin"
command -v pdflatex >/dev/null 2>&1 || missing="$missing texlive-latex-base texlive-pictures"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "note: install$missing for the rendering and report tests (they skip without them)"
fi
