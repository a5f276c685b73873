"""Audio front end: capture, wake word, endpointing and speech output."""
