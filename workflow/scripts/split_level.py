"""Adapter: rule split_level → fewshotnas.split.split_level."""
from fewshotnas.data import load_prepared
from fewshotnas.files import load_checkpoint, save_checkpoint
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic
from fewshotnas.split import SplitConfig, root_node, scoring_network, split_level, tree_to_frame
from fewshotnas.train.device import configure_torch, resolve_device
from fewshotnas.train.loop import check_supernet_learned

WARM_FORMAT = 2

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
              device=snakemake.params.device, threads=snakemake.threads)
seed = int(snakemake.wildcards.seed)
configure_torch(snakemake.threads, seed)
device = resolve_device(snakemake.params.device)
config = SplitConfig(**snakemake.params.split)
level = int(snakemake.wildcards.level)
parent = read_parquet_checked(snakemake.input.parent) if level > 1 else tree_to_frame([root_node()])
net = data = None
inherited = {}
if snakemake.wildcards.method != "random":
    data = load_prepared(snakemake.input.data)
    if hasattr(snakemake.input, "train_log"):  # metrics score the trained supernet: it must have learned
        check_supernet_learned(read_parquet_checked(snakemake.input.train_log), data.num_classes,
                               snakemake.params.chance_margin, snakemake.input.train_log)
    net = scoring_network(config, seed, data, snakemake.params.network, snakemake.input.get("supernet"), device,
                          snakemake.wildcards.method)
    if hasattr(snakemake.input, "warm"):
        inherited = load_checkpoint(snakemake.input.warm, kind="warm-up weights", format_version=WARM_FORMAT)["states"]
result = split_level(parent, level, snakemake.wildcards.method, config, seed=seed, net=net, data=data, device=device,
                     inherited=inherited, warmup_train=snakemake.params.warmup_train)
meta = {"rule": "split_level", "method": snakemake.wildcards.method, "level": level}
write_parquet_atomic(result.scores, snakemake.output.scores, meta)
save_checkpoint(dict(format=WARM_FORMAT, states=result.warm_states), snakemake.output.warm)
write_parquet_atomic(result.tree, snakemake.output.tree, meta)
