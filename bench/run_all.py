"""Every benchmark in one run (`make bench`); docs/benchmarks.md keeps the figures."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = [
    ["generation.py", "--quantity", "100000", "--million"],
    ["card_list.py", "--cards", "1000000"],
    ["mass_edit.py", "--cards", "1000000"],
    ["bulk_jobs.py", "--cards", "1000000"],
    ["release.py", "--cards", "1000000"],
    ["redemption.py", "--cards", "4000"],
    ["api.py", "--cards", "1600"],
    ["reseller_move.py", "--companies", "10000"],
    ["print_sheets.py", "--cards", "10000"],
]

if __name__ == "__main__":
    for script, *args in STEPS:
        print(f"\n### {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args], check=True, cwd=HERE.parent)
