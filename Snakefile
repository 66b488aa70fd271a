# fewshotnas: metric-driven few-shot NAS on NAS-Bench-201, end to end.
#   snakemake --cores all                      # embedded default (config/config.yaml)
#   snakemake --configfile config/paper.yaml --profile profiles/slurm
import os
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


validate(config, "config/schema.yaml")

# The library lives in src/; scripts import it from there, also inside --use-conda envs.
SRC = Path(workflow.basedir) / "src"
# (set here for the jobs, not required from the user, so no `envvars:` directive)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/supernet.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/report.smk"


rule all:
    """Tables and figures for every configured dataset."""
    input:
        final_outputs(),
    default_target: True


rule splits:
    """Only the splitting trees and their split distances, no search: `snakemake splits`."""
    input:
        split_outputs(),
