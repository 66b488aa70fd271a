# fewshotnas: metric-driven few-shot NAS on NAS-Bench-201, end to end.
#   snakemake --cores all                      # embedded default (config/config.yaml)
#   snakemake --configfile config/paper.yaml --profile profiles/slurm
import os
import sys
from pathlib import Path

import yaml

from snakemake.utils import min_version

min_version("9.0")


# relative to the working directory (catalog convention): a deployed copy run with
# --directory, or used as a module, brings its own config/config.yaml
configfile: "config/config.yaml"


# The library lives in src/; scripts import it from there, also inside --use-conda envs.
SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))
from fewshotnas.configcheck import (  # noqa: E402  (standard library, jsonschema and yaml only)
    check_config,
    coerce_command_line_strings,
)

with open(Path(workflow.basedir) / "config" / "schema.yaml") as _f:
    _schema = yaml.safe_load(_f)
coerce_command_line_strings(config, _schema)  # --config data='{download: true}' passes 'true'
_problems = check_config(config, _schema)
if _problems:
    raise WorkflowError("bad config (every key is described in config/schema.yaml):\n  " + "\n  ".join(_problems))
from fewshotnas.analysis.landing import report_description  # noqa: E402  (standard library only)

# The report's landing text follows the config (display names, the configured datasets): written
# here, under Snakemake's own folder, when it changes.
_landing = Path(".snakemake") / "fewshotnas" / "report.rst"
if not _landing.is_file() or _landing.read_text() != report_description(config):
    _landing.parent.mkdir(parents=True, exist_ok=True)
    _landing.write_text(report_description(config))


report: str(_landing.resolve())


# (set here for the jobs, not required from the user, so no `envvars:` directive)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/supernet.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/stage2.smk"
include: "workflow/rules/proxies.smk"


# Tables and figures for every configured dataset.
rule all:
    default_target: True
    input:
        final_outputs(),


rule splits:
    """Only the splitting trees and their split distances, no search: `snakemake splits`."""
    input:
        split_outputs(),


rule proxies:
    """The proxy check: every scalar metric against NB201 accuracy, table and figure: `snakemake proxies`."""
    input:
        rules.proxies_table.output,
