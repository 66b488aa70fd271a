"""Adapter: rule cost_table → fewshotnas.analysis.cost.run_costs."""
from fewshotnas.analysis.cost import hours_text, run_costs, supernet_seconds
from fewshotnas.io import read_parquet_metadata, setup_logging, write_parquet_atomic

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
runs = [{**run, "device": read_parquet_metadata(run["log"]).get("device")} for run in snakemake.params.runs]
costs = run_costs(runs)
supernet_s = supernet_seconds(list(snakemake.input.supernet))
write_parquet_atomic(costs, snakemake.output[0], {"rule": "cost_table", "supernet_s": supernet_s})
device = costs["cost_device"].iat[0] if len(costs) else None
log.info("%d runs, %s of split levels and searches; base supernet %s", len(costs),
         hours_text(float(costs["cost_s"].sum()), device), hours_text(supernet_s, device))
