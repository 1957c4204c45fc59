"""labelguard: label-flipping drills for data pipelines."""
