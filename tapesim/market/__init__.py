"""The model of one shard: a stock's latent path, its venues and agent populations."""
