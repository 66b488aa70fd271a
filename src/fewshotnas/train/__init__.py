"""Training loops, checkpoints and device handling."""
