#!/usr/bin/env bash
# CI check of the deployment files (no cluster needed, nothing downloaded):
#  1. every overlay in deploy/k8s renders with `kubectl kustomize` (placeholder secret files are
#     used in a temporary copy) and every rendered object validates against the Kubernetes/KEDA
#     schema for its kind (scripts/validate-deploy.ts, schemas from the kubernetes-models packages);
#  2. the Prometheus alert rules pass `promtool check rules` and their unit tests `promtool test rules`;
#  (deploy/prometheus/prometheus.yml is not checked by promtool: Debian builds it without
#  Kubernetes service discovery; test/unit/deploy-prometheus.test.ts checks its job names.)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in kubectl promtool; do
  if ! command -v "$tool" >/dev/null; then
    echo "validate-deploy: '$tool' is not installed (kubectl ships kustomize; promtool is Debian's 'prometheus' package)" >&2
    exit 1
  fi
done

echo "--- kustomize render + schema validation"
npx --no-install tsx scripts/validate-deploy.ts

echo "--- prometheus rules"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml
echo "validate-deploy: ok"
