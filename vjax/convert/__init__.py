"""Imports from MMAction2: checkpoints (mmaction2_checkpoint) and configs (mmaction2_config)."""
