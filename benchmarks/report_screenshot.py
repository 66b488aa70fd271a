"""Screenshot of one result as Snakemake's report shows it, in headless Chromium (Debian's
``chromium`` package): checks by eye that a table is shown inline, not as a download link.

    python benchmarks/report_screenshot.py results/default/report.html --result tables/fashion_mnist.html \
        --category Fashion-MNIST --subcategory Results --out docs/images/report_table.png

The report is a single-page app with no URL routing; this writes a copy of it whose last
script opens ``--result`` (a path suffix of a report entry) as a click would, then lets
Chromium render it. Prints the screenshot's path and size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

OPEN = """<script>
window.addEventListener("load", () => setTimeout(() => {{
  const path = Object.keys(results).find(p => p.endsWith({suffix}));
  if (!path) {{ document.body.innerHTML = "<h1>no report entry ends with " + {suffix} + "</h1>"; return; }}
  const kind = results[path].mime_type === "text/html" ? "html" : "img";
  app.setView({{navbarMode: "subcategory", category: {category}, subcategory: {subcategory}, content: kind,
               contentPath: results[path].data_uri, resultPath: path}});
}}, 300));
</script>
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--result", required=True, help="path suffix of the entry to open")
    parser.add_argument("--category", required=True)
    parser.add_argument("--subcategory", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="1400,900", help="window width,height in pixels")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: install Debian's chromium package (apt-get install chromium)")
    html = args.report.read_text()
    script = OPEN.format(suffix=json.dumps(args.result), category=json.dumps(args.category),
                         subcategory=json.dumps(args.subcategory))
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        end = html.rfind("</body>")  # the page's own end tag (the bundled scripts hold that text too)
        page.write_text(html[:end] + script + html[end:] if end >= 0 else html + script)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={args.size}", "--virtual-time-budget=8000",
                        f"--screenshot={args.out.resolve()}", page.as_uri()],
                       check=True, capture_output=True, timeout=300)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
