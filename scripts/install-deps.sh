#!/usr/bin/env bash
# Installs what building, running and testing caas need on Debian, when it is missing.
# Used by `make run` and `make test`; safe to run again (it installs nothing that is present).
set -euo pipefail

want=()
pip_want=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
[ -f /usr/include/postgresql/libpq-fe.h ] || want+=(libpq-dev)
[ -f /usr/include/openssl/ssl.h ] || want+=(libssl-dev)
command -v pkg-config >/dev/null || want+=(pkg-config)
if [ "${CAAS_WITH_ENGINES:-1}" = 1 ]; then
  command -v dockerd >/dev/null || want+=(docker.io)
  dpkg -s busybox-static >/dev/null 2>&1 || want+=(busybox-static)
fi
if [ "${CAAS_WITH_TEST_TOOLS:-0}" = 1 ]; then
  command -v curl >/dev/null || want+=(curl)
  python3 -c 'import openapi_spec_validator' 2>/dev/null || pip_want+=(openapi-spec-validator)
  # schemathesis (scripts/check-api.sh), pinned: its checks and options change between versions.
  schemathesis_version=4.32.5
  [ "$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$schemathesis_version" ] \
    || pip_want+=("schemathesis==$schemathesis_version")
  # The multi-host test cluster (Tests/CaaSEngineSupport/NamespaceCluster.swift): namespaces, veths, routes.
  command -v ip >/dev/null || want+=(iproute2)
  command -v nsenter >/dev/null || want+=(util-linux)
  command -v iptables >/dev/null || want+=(iptables)
fi

if ((${#want[@]})); then
  echo "installing: ${want[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
if ((${#pip_want[@]})); then
  echo "installing from PyPI: ${pip_want[*]}" >&2
  python3 -m pip install -q "${pip_want[@]}"
fi
