#!/usr/bin/env bash
# Ensure a headless-capable Chromium and CJK fonts are installed for the report's browser
# test (tests/test_report.py, which CI runs with YIBAO_REQUIRE_BROWSER=1).
#
# Idempotent: does nothing when `chromium` (or `chromium-browser`) is on PATH and a Noto CJK
# font is installed. Otherwise installs Debian's `chromium` and `fonts-noto-cjk` packages
# non-interactively, which needs root (or sudo) and apt-get.
set -euo pipefail

have_browser() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

have_cjk_font() {
    if command -v fc-list >/dev/null 2>&1; then
        fc-list :lang=zh family 2>/dev/null | grep -qi "Noto Sans CJK"
    else
        dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed"
    fi
}

browser_version() {
    { chromium --version || chromium-browser --version; } 2>/dev/null | head -n 1 || echo chromium
}

if have_browser && have_cjk_font; then
    echo "chromium 与中文字体已安装：$(browser_version)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "找不到 apt-get：请手动安装 Chromium 和 Noto CJK 字体，使 \`chromium\` 位于 PATH 上。" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "安装 Chromium 需要 root 权限（或 sudo）。" >&2
        exit 1
    fi
fi

packages=()
have_browser || packages+=(chromium)
have_cjk_font || packages+=(fonts-noto-cjk)

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# apt's progress and debconf chatter go to the log, which is shown only when something fails
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "安装 ${packages[*]} 失败。" >&2
    exit 1
fi
end=$(date +%s)

if ! have_browser; then
    echo "安装后仍找不到 chromium。" >&2
    exit 1
fi
echo "已安装 ${packages[*]}（$(browser_version)），用时 $((end - start)) 秒。"
