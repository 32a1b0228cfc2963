"""The Compare view (`view.CompareView`) and its parts: setup, live curves, results, test episodes,
the queries classified by every model, export, and the sweep over shots and ways."""
