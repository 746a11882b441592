"""Training: configs, data sources, crops and targets, the loop, checkpoints, evaluation."""
