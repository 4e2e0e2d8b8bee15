#!/usr/bin/env bash
# Validates openapi.yaml against the OpenAPI 3.1 specification (openapi-spec-validator, PyPI;
# installed by scripts/install-deps.sh when CAAS_WITH_TEST_TOOLS=1). Route coverage — every
# route in the router is in openapi.yaml and the reverse — is checked by OpenAPITests.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v openapi-spec-validator >/dev/null; then
  openapi-spec-validator openapi.yaml
else
  python3 -m openapi_spec_validator openapi.yaml
fi
