"""Run pip-audit over the project's environment; fail on any advisory not in the ignore list.

pip-audit asks PyPI's JSON API (or OSV) for advisories. When neither can be reached (as on
a machine that only reaches the package index), every package is "skipped": this script
then says so loudly rather than report a clean bill of health it never checked.
"""

import json
import subprocess
import sys
from pathlib import Path

IGNORE_FILE = Path(__file__).with_name("pip-audit-ignore.txt")


def ignored_ids() -> list[str]:
    ids = []
    for line in IGNORE_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(line.split()[0])
    return ids


def main() -> int:
    command = [sys.executable, "-m", "pip_audit", "--skip-editable", "--format", "json",
               "--progress-spinner", "off"]  # fmt: skip
    for advisory in ignored_ids():
        command += ["--ignore-vuln", advisory]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        print(completed.stdout, completed.stderr, sep="\n")
        return completed.returncode or 1
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = [d for d in dependencies if "skip_reason" not in d]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            print(f"ADVISORY {dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"(fixed in {', '.join(vuln.get('fix_versions', [])) or 'no release'})")
    if vulnerable:
        return 1
    if not audited:
        print(f"pip-audit: WARNING: none of the {len(dependencies)} packages could be checked: "
              "no advisory database is reachable from this machine. Advisories NOT checked.")
        return 0
    print(f"pip-audit: {len(audited)} packages checked, no known advisories "
          f"({len(dependencies) - len(audited)} could not be checked).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
