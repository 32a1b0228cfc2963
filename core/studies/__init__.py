"""Studies built on the engine: comparisons of algorithms on shared episodes (`compare`), shot/way
sweeps (`sweeping`), learning curves read back from checkpoints (`learning_curves`), episode grids
(`episode_grid`), and the tables and figures that report them (`report`). The engine never imports
this package (import-linter contract)."""
