"""`make test`'s dependency audit: pip-audit over requirements.txt (the runtime dependencies, resolved with their own
dependencies), summed up in a few lines.

* A known vulnerability in a dependency fails the step (exit 1), with the package, the advisory and the fixed versions.
* pip-audit that can't run at all (PyPI unreachable, a time-out) or can't audit some packages (the advisory source has
  no data for them) is reported in one line and does NOT fail the step: a red build because PyPI is unreachable for a
  moment says nothing about our code. Set CERTIFAI_AUDIT_STRICT=1 (e.g. in a nightly job) to fail then too.

Extra pip-audit arguments (e.g. `--ignore-vuln GHSA-... ` with a reason in SECURITY.md) go after the file name:
    python scripts/audit_dependencies.py requirements.txt [pip-audit arguments]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = 600


def main(argv: list[str]) -> int:
    requirements = argv[0] if argv else "requirements.txt"
    strict = os.environ.get("CERTIFAI_AUDIT_STRICT", "") == "1"
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "-r", requirements, "--format", "json", "--progress-spinner", "off", *argv[1:]]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        return unaudited(f"pip-audit did not run ({exc})", strict)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        return unaudited(f"pip-audit failed: {lines[-1] if lines else f'exit status {result.returncode}'}", strict)

    dependencies = report.get("dependencies", [])
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"pip-audit: {dep['name']} {dep['version']}: {vuln['id']} "
                  f"({', '.join(vuln.get('aliases') or []) or 'no alias'}); fixed in {fixed}")
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} of {len(dependencies)} dependencies have known vulnerabilities: "
              "upgrade them in requirements.txt (or, if one does not apply, ignore it with --ignore-vuln in the "
              "Makefile and say why in SECURITY.md)")
        return 1
    if skipped:
        names = ", ".join(f"{dep['name']} {dep.get('version', '')}".strip() for dep in skipped[:8])
        more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        done = f"{audited} of {len(dependencies)} dependencies audited, no known vulnerability; " if audited else ""
        return unaudited(f"{done}{len(skipped)} of {len(dependencies)} dependencies could not be audited "
                         f"(no advisory data from PyPI for {names}{more})", strict)
    print(f"pip-audit: {len(dependencies)} dependencies audited, no known vulnerability")
    return 0


def unaudited(message: str, strict: bool) -> int:
    print(f"pip-audit: WARNING: {message}" + ("" if strict else " (not failing the build; CERTIFAI_AUDIT_STRICT=1 "
                                                               "would)"))
    return 1 if strict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
