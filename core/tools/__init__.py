"""The tools over the engine and its studies: the `fewshot` command line (`cli`, `cli_study`,
`cli_support`), the speed bench (`bench`) and the starter models' recipes and builds (`starter`).
Neither the engine nor the studies import this package (import-linter contracts)."""
