"""A tiny configuration and a fitting dataset for every registered model (contract tests use these).

A new model adds one line here; tests/test_contract.py fails for a registered model without one.
"""

TINY: dict[str, tuple[dict, str]] = {
    # gan and cgan pack pairs of samples (PacGAN's model.pack): the registry-wide tests cover packing.
    "gan": ({"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "pack": 2}, "digits"),
    "vae": ({"z_dim": 4, "hidden": [16]}, "digits"),
    "dcgan": ({"z_dim": 8, "width": 8}, "digits"),
    "cgan": ({"z_dim": 8, "width": 8, "pack": 2}, "digits"),
    "infogan": ({"z_dim": 8, "width": 8, "q_hidden": 8}, "digits"),
    "bigan": ({"z_dim": 4, "width": 8, "z_hidden": [8], "joint_hidden": [16]}, "digits"),
    "softmax-gan": ({"z_dim": 8, "width": 8}, "digits"),
    # The paper protocol's pieces (noise layers, weight norm, uniform prior, whole labelled set);
    # the conv default is covered in test_gan_family.py.
    "ssgan": ({"arch": "mlp", "z_dim": 8, "g_hidden": [16], "d_hidden": [16, 16], "weight_norm": True,
               "d_activation": "relu", "g_activation": "softplus", "z_prior": "uniform", "labelled_per_class": 2,
               "labelled_draw": "all", "generator_fresh_batch": True}, "digits"),
    "conv-vae": ({"z_dim": 2, "channels": [4, 8], "dense": 8}, "digits"),
    "cvae": ({"z_dim": 4, "hidden": [16]}, "digits"),
    "aae": ({"z_dim": 2, "hidden": [16], "d_hidden": [16]}, "digits"),
    "pixelcnn": ({"channels": 8, "blocks": 1, "out_hidden": 8}, "digits"),
    "gated-pixelcnn": ({"channels": 8, "layers": 2, "out_hidden": 8, "conditional": True}, "digits"),
    "pixelrnn": ({"channels": 8, "layers": 1, "out_hidden": 8}, "digits"),
    "gmm": ({"components": 3, "covariance": "full"}, "8gaussians"),
    "nade": ({"hidden": 8}, "digits"),
    "made": ({"hidden": [16, 12], "masks": 2}, "digits"),
}
