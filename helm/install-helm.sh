#!/usr/bin/env bash
# Install the helm binary the chart tests render with.
#
# No helm package is available on the CI machine, so we build the pinned release from source with the
# machine's Go toolchain (module proxy) and cache it under ~/.cache/dana-wf/bin. Re-running is a no-op
# when the cached binary already reports the pinned version.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
BIN_DIR="${DWF_TOOLS_BIN:-$HOME/.cache/dana-wf/bin}"
HELM="$BIN_DIR/helm"

if [[ -x "$HELM" ]] && "$HELM" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
  echo "helm ${HELM_VERSION} already at $HELM"
  exit 0
fi
if command -v helm >/dev/null 2>&1 && helm version --short 2>/dev/null | grep -q "^v3\."; then
  mkdir -p "$BIN_DIR"
  ln -sf "$(command -v helm)" "$HELM"
  echo "using system helm: $(helm version --short)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: neither helm nor go is installed; install Go >= 1.24 or helm v3 and re-run $0" >&2
  exit 1
fi

mkdir -p "$BIN_DIR"
start=$(date +%s)
# Same ldflags as helm's Makefile: the version string, and the default Kubernetes version that `helm template`
# and `helm lint` assume (otherwise v1.20, which the chart's kubeVersion refuses).
src_dir=$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
k8s_minor=$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$src_dir/go.mod")
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${k8s_minor}"
done
GOBIN="$BIN_DIR" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
echo "built helm ${HELM_VERSION} (default Kubernetes 1.${k8s_minor}) into $HELM in $(( $(date +%s) - start ))s"
"$HELM" version --short
