"""The machine loop: encoders, embeddings, training, model registry, query strategies."""
