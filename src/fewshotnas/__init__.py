"""fewshotnas: metric-driven few-shot NAS on the NAS-Bench-201 space.

The library knows nothing of Snakemake; the workflow's scripts are thin
adapters around the functions exported by the subpackages.
"""

__version__ = "0.1.0"
