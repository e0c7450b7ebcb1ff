"""The dependency audit of `make test`: pip-audit over the installed packages, said plainly.

pip-audit asks the PyPI JSON API (or OSV) for each package's known vulnerabilities. Where that data cannot
be reached (this project's machines reach the package index for installs only), pip-audit still exits 0
and says "No known vulnerabilities found" while it skipped every package; this step counts the skipped
ones and says that no audit was done instead of passing quietly. A vulnerability found in a package it
could audit fails the step. docs/operations.md, "Security scanning".
"""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--local", "--format", "json", "--progress-spinner", "off"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"dependency audit: pip-audit did not run ({exc}); no dependency audit was done")
        return 0
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"dependency audit: pip-audit could not reach its data ({last[:200]}); not audited")
        return 0
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    audited = len(deps) - len(skipped)
    for dep in vulnerable:
        ids = ", ".join(v.get("id", "?") for v in dep["vulns"])
        print(f"dependency audit: {dep['name']} {dep['version']}: {ids}")
    if deps and not audited:
        print(
            f"dependency audit: NOT DONE: pip-audit could not reach its vulnerability data for any of the "
            f"{len(deps)} installed packages (the PyPI JSON API / OSV are not reachable from here); run "
            "`pip-audit --local` where they are"
        )
        return 0
    counts = f"{audited} packages audited, {len(skipped)} skipped, {len(vulnerable)} vulnerable"
    print(f"dependency audit: {counts}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
