"""Decoding: the decoder loop and its KV cache, sampling, prompts, the prefix cache, detokenisation and events."""
