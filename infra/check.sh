#!/usr/bin/env bash
# Compiles and lints infra/ with the real Bicep CLI: `npm run infra:check`, run by .ci/run.
#
# The CLI is the version pinned in infra/tools/bicep.csproj. A `bicep` on PATH (installed by azd or
# the Azure CLI) is used only when it is that version: infra/bicepconfig.json asks for the newest
# API version of every resource that the compiler knows of, so another release would judge the
# same template differently. Otherwise `dotnet restore` downloads the pinned package from NuGet
# into infra/.tools/ (git-ignored), once.
#
# Writes the ARM template to infra/.build/main.json (git-ignored), which test/infra reads.
# Exits non-zero on any compiler error or linter finding (bicepconfig.json makes every rule an error).
set -euo pipefail
cd "$(dirname "$0")/.."
# No first-run banner or usage telemetry from the SDK in CI logs.
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

version=$(sed -n 's|.*<BicepVersion>\(.*\)</BicepVersion>.*|\1|p' infra/tools/bicep.csproj)
[ -n "$version" ] || { echo "infra/check.sh: no <BicepVersion> in infra/tools/bicep.csproj" >&2; exit 2; }

bicep=""
if command -v bicep >/dev/null 2>&1 && bicep --version 2>/dev/null | grep -q "version $version "; then
  bicep=$(command -v bicep)
else
  restored="infra/.tools/packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"
  if [ ! -f "$restored" ]; then
    command -v dotnet >/dev/null 2>&1 || {
      echo "infra/check.sh: Bicep CLI $version is not on PATH and the .NET SDK (dotnet) is not installed to restore it from NuGet" >&2
      exit 2
    }
    echo "infra/check.sh: restoring Bicep CLI $version from NuGet"
    dotnet restore infra/tools/bicep.csproj --packages infra/.tools/packages --verbosity quiet
  fi
  # NuGet does not keep the executable bit of files inside a package.
  chmod +x "$restored"
  bicep=$restored
fi

echo "infra/check.sh: $("$bicep" --version)"
mkdir -p infra/.build
rm -f infra/.build/main.json
# The compiler's own warnings (an unknown property inside `properties`, for one) are not linter
# rules, so bicepconfig.json cannot raise them and both commands exit 0 on them: count them here.
diagnostics=$(mktemp)
trap 'rm -f "$diagnostics"' EXIT
status=0
"$bicep" build infra/main.bicep --outfile infra/.build/main.json 2>>"$diagnostics" || status=1
"$bicep" lint infra/main.bicep 2>>"$diagnostics" || status=1
if [ -s "$diagnostics" ]; then
  sed "s|$PWD/||" "$diagnostics" | sort -u >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  rm -f infra/.build/main.json
  echo "infra/check.sh: FAILED: the Bicep compiler or linter reported the findings above" >&2
  exit 1
fi
echo "infra/check.sh: infra/main.bicep compiles to infra/.build/main.json with no errors, warnings or linter findings"
