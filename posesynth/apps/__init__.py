"""What a user runs on a trained model: ``predict``, ``visualize``, ``demo``."""
