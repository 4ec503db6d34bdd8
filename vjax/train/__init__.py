"""Training: mesh and sharding, optimizer and schedule, state, steps, checkpoints, the loop."""
