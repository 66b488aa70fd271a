"""Adapter: rule prepare_data → fewshotnas.data.prepare_data."""
from fewshotnas.data import prepare_data, save_prepared
from fewshotnas.io import setup_logging

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
params = dict(snakemake.params.data)
data = prepare_data(params.pop("dataset"), params.pop("root"), **params)
log.info("%s: %d weight / %d arch / %d test images, %d px, %d classes", data.dataset, len(data.weight),
         len(data.arch), len(data.test), data.image_size, data.num_classes)
save_prepared(data, snakemake.output[0])
