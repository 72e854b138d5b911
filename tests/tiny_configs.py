"""A tiny configuration and a fitting dataset for every registered model (contract tests use these).

A new model adds one line here; tests/test_contract.py fails for a registered model without one.
"""

TINY: dict[str, tuple[dict, str]] = {
    "gan": ({"z_dim": 8, "g_hidden": [16], "d_hidden": [16]}, "digits"),
    "vae": ({"z_dim": 4, "hidden": [16]}, "digits"),
}
