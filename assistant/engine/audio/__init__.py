"""The audio encoder: features, the staged (incremental) encoder, audio turns and live turns."""
