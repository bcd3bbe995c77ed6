"""Training: the loop and its parts, checkpoints and run directories, depth pre-training, diagnostics."""
